/**
 * The engine contract, part 3: one online migration of one table, as phase
 * handles (OnlineAlter -> Ghost -> Migration -> RowCopy) and the LoadProbe.
 * The values that cross them are in migration-values.ts.
 */
import type { CheckResult } from './check.js';
import type { CopyPlan, TableInfo, TableRef } from './table-info.js';
import type { Checkpoint, ChunkResult, CopyRange, CutOverResult, KeyTuple, LoadMeasurement, RangeProgress, StreamStats, VerifyPoint } from './migration-values.js';

export type * from './migration-values.js';

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
  /** The ghost's indexes a run would build after the copy, by name (none with --no-defer-indexes). */
  deferredIndexes(plan: CopyPlan): string[];
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
   * On while the cut-over is postponed: after the copy, the applier gathers
   * changes into fewer, larger batches, sparing the application
   * (core/change-applier.ts relax()). Off: it catches up at once again.
   */
  relaxApply(on: boolean): void;
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
   * E_CUTOVER_LOCK_TIMEOUT when it couldn't get its locks in time, or
   * E_CUTOVER_CATCHUP_TIMEOUT when the stream did not catch up under them
   * (both retryable, original untouched); any other throw also leaves the
   * original in place.
   * After it succeeded, OnlineAlter.cleanup().
   */
  cutOver(): Promise<CutOverResult>;
}

/** The copy, once its ranges are known (Migration.beginCopy). */
export interface RowCopy {
  /**
   * Copies the next chunk of the range: rows with key > after (and <= upTo),
   * in key order, at most limit rows. `end`, when given, is the chunk's last
   * key, decided by the caller (core/chunker.ts arithmeticEnd): the engine
   * copies (after, end] without reading where `limit` rows end; null: to
   * upTo, completing the range.
   */
  copyChunk(range: CopyRange, limit: number, end?: KeyTuple | null): Promise<ChunkResult>;
  /**
   * Present when the copy key is one integer column: writes a key value as
   * the engine binds and returns it (core/chunker.ts arithmeticEnd).
   */
  readonly integerKey?: ((v: bigint) => unknown) | undefined;
}
