import type { ErrorJson } from '../errors.js';
import type { RevertTarget } from '../engine/revert-contract.js';
import type { VerifyReport } from './verify.js';
import type { RunStats } from './run-stats.js';

/** The final report of an online ALTER, as printed by --json. */
/** 'unreachable': the server did not answer, nothing changed, a retry may help (exit 3). */
export type AlterStatus = 'done' | 'failed' | 'refused' | 'unreachable' | 'dry-run';

export interface AlterReport {
  status: AlterStatus;
  engine: string;
  table: string;
  rowsCopied: number;
  eventsApplied: number;
  /** Epoch ms when the run began: `phases` run in order from here. */
  startedAt?: number;
  durationMs: number;
  copyMs: number;
  /** How long writers were blocked by the swap. */
  cutOverStallMs: number;
  cutOverAttempts: number;
  oldTable: string | null;
  /**
   * Which replicas' lag the throttler watched: `discovery` false means
   * `--replica none`; `watched` names every replica measured at least once.
   */
  replicas?: { discovery: boolean; watched: string[] };
  /** Where the time went: copy chunks and their waits, apply batches and retries (core/run-stats.ts). */
  stats?: RunStats;
  /**
   * Seconds per phase, both engines: `setup` (connect, inspect, preflight)
   * then each run state (starting = ghost and stream, copying, throttled,
   * catching-up, verifying, postponed, cutting-over, cleaning-up).
   */
  phases?: Record<string, number>;
  /** Verification before cut-over: its time, rows and what it re-copied (absent with --no-verify). */
  verify?: VerifyReport;
  /** Dry run: what would happen. */
  plan?: AlterPlan;
  /** --revert: the kept old table swapped back in, and from where the writes since its cut-over were read. */
  revert?: RevertTarget;
  /** --initially-drop-*: leftovers dropped before starting (a dry run: those it would drop). */
  initiallyDropped?: string[];
  /** --resume: the checkpoint this run continued from. */
  resumed?: { phase: string; rowsCopied: number; streamPosition: string };
  error?: ErrorJson;
}

export interface AlterPlan {
  key: { name: string; columns: string[] };
  /** A widened key: the new table's key, which contains `key` (the copy and the apply still go by `key`). */
  ghostKey?: { name: string; columns: string[] };
  estimatedRows: number;
  estimatedBytes: number;
  chunkSize: number;
  threads: number;
  columnsCopied: string[];
  columnsDropped: string[];
  columnsAdded: string[];
  cutOver: string;
  /** The ghost's indexes built once the copy is done (sorted once, not maintained row by row); empty: all kept through the copy. */
  indexesAfterCopy?: string[];
  warnings: string[];
}
