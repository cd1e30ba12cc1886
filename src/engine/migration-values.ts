/**
 * The engine contract's values of one online migration: the request, key
 * tuples, ranges, chunks, stream and apply statistics, load measurements,
 * the cut-over's result, verification points, and the checkpoint. The
 * handles that pass them are in online-alter-contract.ts.
 */
import type { TableRef } from './table-info.js';

/** Opaque to core: the engine's representation of one key tuple. */
export type KeyTuple = readonly unknown[];

export interface AlterRequest {
  table: TableRef;
  /** Clauses after `ALTER TABLE t` (already stripped of a leading `ALTER TABLE t`). */
  alter: string;
  /** Milliseconds a cut-over attempt may block writers. */
  cutOverLockTimeoutMs: number;
  /** Keep `_t_del` after the swap unless true. */
  dropOldTable: boolean;
  /** --timestamp-old-table: the old table is `_t_<stamp>_del` (core/names.ts oldTableStamp), and a kept `_t_del` is not in the way. */
  oldTableStamp?: string;
  /** High-water mark for queued, unapplied change events (memory bound). */
  maxBacklogEvents: number;
  /** --no-defer-indexes: false builds the ghost's indexes during the copy instead of once after it (deferred-indexes.ts of each engine). */
  deferIndexes?: boolean;
  /** PG: how long creating the slot may wait for transactions already running (it must). Default 60 s. */
  streamStartTimeoutMs?: number;
  /** PG: preflight refuses while running ghostwright slots retain more WAL than this (--max-retained-wal-mb). */
  maxRetainedWalBytes?: number;
  /** --resume: continue the interrupted run whose checkpoint is in the changelog (see core/checkpoint.ts). */
  resume?: boolean | 'auto';
  /** PG --revert-window: keep the slot after the cut-over this long, for `alter --revert` (postgres/revert-point.ts). MySQL reverts from the binlog. */
  revertWindowMs?: number;
}

export interface CopyRange {
  /** Exclusive lower bound; null = from the first row. */
  after: KeyTuple | null;
  /** Inclusive upper bound; null = to the end of the table as it is now. */
  upTo: KeyTuple | null;
}

export interface ChunkResult {
  /** Rows inserted into the ghost by this chunk. */
  rows: number;
  /** Last key read, or null when the range is exhausted. */
  last: KeyTuple | null;
  /** Where the chunk's time went, ms (optional: for the run's stats, core/run-stats.ts). */
  boundaryMs?: number;
  windowWaitMs?: number;
}

export interface StreamStats {
  /** Row changes applied to the ghost so far. */
  eventsApplied: number;
  /** Row changes received but not yet applied. */
  backlog: number;
  /** Stream position of the last applied commit ('file:pos' / LSN). */
  appliedPosition: string;
  /** The applier's counters (engines on the engine-neutral applier). */
  apply?: ApplyStats;
}

/** The applier's counters for the run's stats (core/run-stats.ts); times in ms. */
export interface ApplyStats {
  batches: number;
  /** Keys taken from the backlog. */
  keys: number;
  /** Keys written to the ghost (re-read from the original). */
  written: number;
  /** Keys the copy had not reached: left to it after their commits were seen. */
  leftToCopy: number;
  /** Keys a chunk in flight covered when they were settled: queued again. */
  requeued: number;
  /** Time inside the engine's batch transaction. */
  batchMs: number;
  maxBatchMs: number;
  maxBatchKeys: number;
  /** Batches rolled back on a deadlock or lock wait timeout, and retried. */
  lockRetries: number;
  /** Batches that met a duplicate on another unique key (retried, or the run failed). */
  dupRetries: number;
  /** Batches that waited for the copy window (chunks, in the mode that can't place keys). */
  windowWaitMs: number;
  /** PostgreSQL: waiting for a batch's commits to become visible to its snapshot (apply.ts). */
  visibleWaitMs?: number;
  /** Rounds where every queued key waited for a chunk in flight. */
  idleRounds: number;
  /** Waiting for keys to gather before a small batch, while the copy runs (core/change-applier.ts GATHER_MS). */
  gatherMs: number;
}

export interface LoadMeasurement {
  /** Server-wide counters named as in --max-load (MySQL status variables, PG active_sessions/...). */
  load: Record<string, number>;
  /** Heartbeat lag per replica, ms; null when a replica can't be read. */
  replicas: { name: string; lagMs: number | null }[];
  /** PG: WAL held back by our slot; MySQL: undefined. */
  retainedWalBytes?: number;
}

export interface CutOverResult {
  /** How long writers were blocked by the swap, ms. */
  stallMs: number;
  /** Name of the old table after the swap, or null when it was dropped. */
  oldTable: string | null;
}

/** One checked chunk of the verification: original rows with after < key <= through, and the ghost's rows of those keys. */
export interface VerifyChunk {
  after: KeyTuple | null;
  through: KeyTuple;
  /** Rows of the original in the chunk. */
  rows: number;
  /** The checksums (and row counts) of both tables agree. */
  same: boolean;
}

/**
 * One consistent point of the original and the ghost (see core/verify.ts):
 * both are read in the same snapshot, taken while writes to the original were
 * briefly held and the stream had applied everything before them.
 */
export interface VerifyPoint {
  /** How long writers to the original were held to fix the point, ms. */
  lockMs: number;
  /** Shared columns left out of the comparison, with the reason (a type change no cast reproduces). */
  uncompared: string[];
  /** Original rows per chunk the engine checks best; absent: the copy's chunk size (at least 1000). */
  chunkRows?: number;
  /** The next chunk of at most limit original rows after `after` (null: from the first key); null when none is left. */
  chunk(after: KeyTuple | null, limit: number): Promise<VerifyChunk | null>;
  /**
   * The whole key range checked in one pass over each table (both at once),
   * as ascending spans, each with its verdict, that hold every row of both
   * tables up to the original's last key (the first span open below, the
   * last ending at that key); a span of the ghost's rows only is in the
   * list, differing. Ghost rows above the last span are left to
   * ghostKeyAfter. Null: not offered for this key (core walks chunk by
   * chunk). Optional.
   */
  spans?(): Promise<VerifyChunk[] | null>;
  /** Checks exactly (after, through]. */
  range(after: KeyTuple | null, through: KeyTuple): Promise<VerifyChunk>;
  /** Keys in (after, through] whose rows differ between the two tables (missing on either side included), at most max. */
  differingKeys(after: KeyTuple | null, through: KeyTuple, max: number): Promise<KeyTuple[]>;
  /** The ghost's highest key above `after` (null: from the first key), or null when it has none: rows the original's chunks never reach. */
  ghostKeyAfter(after: KeyTuple | null): Promise<KeyTuple | null>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- checkpoint (core/checkpoint.ts builds and checks it)

/** The phase the run was in when the checkpoint was written. */
export type CheckpointPhase = 'copying' | 'catching-up' | 'postponed' | 'cutting-over';

/** One copy range and how far the copy got in it. */
export interface RangeProgress {
  /** The range as planned (exclusive lower, inclusive upper bound; null: open). */
  after: KeyTuple | null;
  upTo: KeyTuple | null;
  /** Last key copied by committed chunks, contiguously from `after`; null: none yet. */
  through: KeyTuple | null;
  done: boolean;
}

/** What a run leaves in its changelog so that `alter --resume` can go on (see core/checkpoint.ts for why it is safe). */
export type Checkpoint = {
  format: number;
  /** schema.table */
  table: string;
  /** The ALTER clauses the run applies, and their sha256 (hex). */
  alter: string;
  alterSha256: string;
  /** The key driving the copy (index name and source columns). */
  key: { name: string; columns: string[] };
  /** The copy's ranges; empty: the table had no rows when the copy began. */
  ranges: RangeProgress[];
  /** Opaque to core: where the stream restarts (the engine's low-water mark). */
  streamPosition: string;
  phase: CheckpointPhase;
  rowsCopied: number;
  /** ISO time of the write. */
  writtenAt: string;
};
