/**
 * The engine contract, part 3: one online migration of one table
 * (OnlineAlter) and the values that cross it: key tuples, ranges, chunks,
 * stream statistics, load measurements, verification points.
 */
import type { CheckResult } from './check.js';
import type { CopyPlan, TableInfo, TableRef } from './table-info.js';

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

/** The helper tables of one migration, named once by the engine (core/names.ts helperNames, with its identifier limit). */
export interface HelperTables {
  /** `_t_gho` (`t_gho` on MySQL, see core/names.ts ghostNameAfter). */
  ghost: TableRef;
  /** `_t_del`, or `_t_<stamp>_del` with --timestamp-old-table. */
  old: TableRef;
  /** `_t_ghc`: heartbeat and checkpoint rows. */
  changelog: TableRef;
}

/**
 * Throttle inputs, gathered from the primary and the replicas. measure()
 * works from the start of the run (it checks --max-load names before
 * anything is written); heartbeat() writes into the changelog, so only once
 * a ghost exists. Both are no-ops once the run's connections are closed.
 */
export interface LoadProbe {
  measure(loadNames: string[]): Promise<LoadMeasurement>;
  /** Writes a heartbeat row into the changelog (replica lag is read from it). */
  heartbeat(): Promise<void>;
}

/**
 * One online migration of one table, with its own connections. Its phases
 * are handles, each returned by the step before it, so the runbook cannot
 * call them out of order (see core/migrator.ts):
 *
 *   preflight -> createGhost() : Ghost -> ghost.startStream(plan) : Migration
 *     -> migration.beginCopy(ranges) : RowCopy -> copy.copyChunk* -> migration.waitCaughtUp
 *     -> migration.openVerifyPoint -> migration.cutOver -> cleanup
 *
 * A dry run gets a ProbedGhost (probeGhost), which can only be dropped; a
 * resumed run (`alter --resume`, core/checkpoint.ts) gets the interrupted
 * run's Ghost (attach), whose stream restarts from the checkpoint. abort() on any
 * failure or signal, whatever phase was reached. Every step after the ghost
 * exists leaves the original table untouched on failure.
 */
export interface OnlineAlter {
  /** The helper tables' names: computed once, here (core reads them, never computes them). */
  readonly tables: HelperTables;
  /** Load, lag and heartbeat for the throttler (core/throttle.ts). */
  readonly probe: LoadProbe;
  /** Engine-specific checks: server settings, leftovers, triggers, foreign keys, privileges. */
  preflight(original: TableInfo): Promise<CheckResult[]>;
  /**
   * Creates `_t_gho` like the original and applies the ALTER to it, plus the
   * changelog `_t_ghc`. Throws RefusedError (E_BAD_ALTER) when the ALTER is
   * invalid, after dropping what it created.
   */
  createGhost(): Promise<Ghost>;
  /**
   * Dry run: proves the ALTER on a ghost and returns the ghost's shape,
   * leaving nothing behind (PostgreSQL: inside a transaction that is rolled
   * back, invisible to other sessions). Use instead of createGhost.
   */
  probeGhost(): Promise<ProbedGhost>;
  /**
   * Resume: the checkpoint in this table's changelog, or null when there is
   * no changelog or no checkpoint in it. Read-only. Refuses
   * (E_CHECKPOINT_UNREADABLE) a checkpoint it can't read (core/checkpoint.ts parseCheckpoint).
   * An engine that can resume implements readCheckpoint and attach; without
   * them --resume is refused.
   */
  readCheckpoint?(): Promise<Checkpoint | null>;
  /**
   * Resume, instead of createGhost: adopts the interrupted run's ghost and
   * changelog as this run's own (abort() then treats them as created here);
   * its startStream() restarts from the checkpoint.
   * Refuses (exit 2, E_RESUME_STREAM_GONE) when the stream can't restart
   * from cp.streamPosition (MySQL: the binlog file was purged; PostgreSQL:
   * the slot is gone), and E_NO_CHECKPOINT when the ghost is missing. Writes nothing.
   */
  attach?(cp: Checkpoint): Promise<Ghost>;
  /**
   * After a successful cut-over (or a resumed run whose swap had committed):
   * stop the stream, drop changelog/slot/publication, close connections.
   */
  cleanup(): Promise<void>;
  /**
   * On failure, refusal or signal: stop the stream, drop the ghost, changelog
   * and slot THIS run created (never a leftover of another run: a refusal for
   * "_t_gho exists" must leave it), close connections; the original stays.
   * Called on every path that doesn't end in cleanup(). Never throws.
   * `keepForResume`: the run failed on a lost server (restart, network),
   * or a resume was refused: close everything but drop nothing, so
   * `--resume` can go on from the last checkpoint.
   */
  abort(options?: { keepForResume?: boolean }): Promise<void>;
}

/** What every ghost offers: its shape, and the engine's verdict on core's copy plan. */
export interface GhostShape {
  /** The ghost's shape after the ALTER. */
  readonly shape: TableInfo;
  /**
   * Refuses (RefusedError) a copy plan this engine can't run: key column
   * types it can't order or bind, a key converted by the ALTER.
   * startStream checks the plan itself.
   */
  checkPlan(plan: CopyPlan): void;
}

/** The ghost of a run: created and altered (createGhost), or the interrupted run's (attach); nothing streaming yet. */
export interface Ghost extends GhostShape {
  /**
   * Starts capturing and applying changes of the original table to the
   * ghost, with core's decision of which columns feed which and which key
   * drives the copy (core/columns.ts chooseSharedKey). Must come before the
   * first chunk is copied, so nothing committed after a chunk's snapshot is missed.
   * An attached ghost's stream restarts from the checkpoint's streamPosition,
   * and the ghost's rows of every unfinished range beyond its `through` go
   * first (chunks that committed after the checkpoint was written; the copy
   * reads them again from each range's progress).
   */
  startStream(plan: CopyPlan): Promise<Migration>;
}

/** A dry run's ghost (OnlineAlter.probeGhost): it proved the ALTER and can only be dropped. */
export interface ProbedGhost extends GhostShape {
  /** Drops what the probe left and closes the connections: this OnlineAlter is finished. */
  drop(): Promise<void>;
}

/** The running migration: the stream applies changes to the ghost while the copy fills it. */
export interface Migration {
  streamStats(): StreamStats;
  /**
   * The error that stopped the stream or the applier, if one did. Nothing is
   * applied any more after it, so every wait (backlog, postponed cut-over)
   * must end on it rather than wait for progress that can't come.
   */
  failure(): Error | null;
  /** Smallest and largest key now in the original, or null when empty. */
  keyBounds(): Promise<{ min: KeyTuple; max: KeyTuple } | null>;
  /** Up to n-1 keys splitting the table into n ranges of similar row counts. */
  splitPoints(n: number): Promise<KeyTuple[]>;
  /**
   * The ranges the copy will cover (from the first key, contiguous), before
   * its first chunk. Called whether or not the table has rows (then with
   * none). An engine may leave changes of rows the copy has yet to reach to
   * the copy, which reads them as they are by then. On resume, `progress`
   * (one per range) says how far each range was copied: keys up to its
   * `through` (or all, when done) count as copied.
   */
  beginCopy(ranges: readonly CopyRange[], progress?: readonly RangeProgress[]): RowCopy;
  /** Returns when every change committed before the call is applied to the ghost. */
  waitCaughtUp(timeoutMs: number): Promise<void>;
  /**
   * Verification: holds writes to the original briefly (at most the cut-over's
   * lock timeout; E_VERIFY_LOCK_TIMEOUT, retryable, when it can't), lets the
   * stream apply everything before, and opens a snapshot of both tables.
   * Called after the copy, with the stream running.
   */
  openVerifyPoint(): Promise<VerifyPoint>;
  /** Copies the original's rows with after < key <= through into the ghost again (replacing the ghost's rows of those keys). */
  recopyRange(after: KeyTuple | null, through: KeyTuple): Promise<void>;
  /** Writes the checkpoint (core/checkpoint.ts) into the changelog, replacing the previous one. */
  checkpoint(state: Checkpoint): Promise<void>;
  /**
   * The stream position a resumed run restarts from (the low-water mark:
   * every change before it is in the ghost or left to the copy), opaque to
   * core; null when no position is safe right now (that checkpoint is skipped).
   */
  restartPosition(): string | null;
  /**
   * The atomic swap. One attempt: throws GhostwrightError with code
   * E_CUTOVER_LOCK_TIMEOUT when it couldn't get its locks in time (retryable,
   * original untouched); any other throw also leaves the original in place.
   * After it succeeded, OnlineAlter.cleanup().
   */
  cutOver(): Promise<CutOverResult>;
}

/** The copy, once its ranges are known (Migration.beginCopy). */
export interface RowCopy {
  /** Copies the next chunk of the range: rows with key > after (and <= upTo), in key order, at most limit rows. */
  copyChunk(range: CopyRange, limit: number): Promise<ChunkResult>;
}
