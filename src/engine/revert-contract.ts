/**
 * Revert after cut-over (`alter --revert`): the contract an engine offers, and
 * the shape check both engines share.
 *
 * After a cut-over the old table is kept (`_t_del`). A revert streams every
 * write made to the NEW table since the swap into that old table, with the
 * same key-based apply as the forward run (the "source" is now the live new
 * table, the "ghost" the old one, every key already copied), verifies, and
 * swaps back with the forward cut-over's lock discipline. Columns travel by
 * name; only the columns both shapes share are written.
 * What the old shape must be able to hold: revert-shape.ts.
 */
import type { CutOverResult, KeyTuple, StreamStats, VerifyPoint } from './online-alter-contract.js';
import type { TableRef } from './table-info.js';

export interface RevertRequest {
  table: TableRef;
  cutOverLockTimeoutMs: number;
  maxBacklogEvents: number;
}

/** What prepare() found: the revert it would do. */
export interface RevertTarget {
  /** The kept old table that becomes the table again. */
  oldTable: string;
  /** When the cut-over swapped (ISO). */
  swappedAt: string;
  /** Where the stream of writes since the swap starts ('file:pos' / LSN). */
  from: string;
  /** Columns written back (both shapes have them). */
  columns: string[];
  /** Old-shape columns the new shape lacks: rows written since the cut-over get their defaults there. */
  defaulted: string[];
}

/**
 * One revert. Call order: prepare (refuses, changes nothing) -> startStream
 * -> waitCaughtUp -> [openVerifyPoint / recopyRange] -> cutOver -> cleanup;
 * abort on any failure before the swap (the new table stays, the old table
 * keeps its name and its revert point).
 */
export interface RevertJob {
  prepare(): Promise<RevertTarget>;
  startStream(): Promise<void>;
  waitCaughtUp(timeoutMs: number): Promise<void>;
  openVerifyPoint(): Promise<VerifyPoint>;
  recopyRange(after: KeyTuple | null, through: KeyTuple): Promise<void>;
  /** The swap back: the old table becomes the table, the new one is kept as the old-table name. */
  cutOver(): Promise<CutOverResult>;
  streamStats(): StreamStats;
  cleanup(): Promise<void>;
  abort(): Promise<void>;
}

