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
 * One revert, in phase handles as the forward run (online-alter-contract.ts):
 * prepare() refuses or changes nothing and gives a PreparedRevert, whose
 * startStream() gives the RevertStream that catches up, verifies and swaps
 * back. The job ends with cleanup (after the swap) or abort (on any failure
 * before it: the new table stays, the old table keeps its name and its
 * revert point).
 */
export interface RevertJob {
  prepare(): Promise<PreparedRevert>;
  cleanup(): Promise<void>;
  abort(): Promise<void>;
}

/** The revert prepare() found possible: what it would do, and the start of its stream. */
export interface PreparedRevert {
  readonly target: RevertTarget;
  startStream(): Promise<RevertStream>;
}

/** Writes since the cut-over streaming into the kept old table. */
export interface RevertStream {
  waitCaughtUp(timeoutMs: number): Promise<void>;
  openVerifyPoint(): Promise<VerifyPoint>;
  recopyRange(after: KeyTuple | null, through: KeyTuple): Promise<void>;
  /** The swap back: the old table becomes the table, the new one is kept as the old-table name. */
  cutOver(): Promise<CutOverResult>;
  streamStats(): StreamStats;
}

/** An engine's revert phases, handed out in their order: the stream's methods only once startStream has run. */
export function preparedRevert(target: RevertTarget, phases: { startStream(): Promise<void> } & RevertStream): PreparedRevert {
  return {
    target,
    startStream: async () => {
      await phases.startStream();
      return {
        waitCaughtUp: (ms) => phases.waitCaughtUp(ms),
        openVerifyPoint: () => phases.openVerifyPoint(),
        recopyRange: (after, through) => phases.recopyRange(after, through),
        cutOver: () => phases.cutOver(),
        streamStats: () => phases.streamStats(),
      };
    },
  };
}
