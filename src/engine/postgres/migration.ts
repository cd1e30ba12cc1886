/**
 * The running migration of one PostgreSQL table (the Migration handle that
 * Ghost.startStream returns): the stream (stream.ts) collects changed keys
 * from the pgoutput slot into the engine-neutral backlog; the applier
 * (core/change-applier.ts with apply.ts's SQL) re-reads those keys from the
 * original into the ghost beside the copy (copy.ts), placed against it by the
 * copy window (core/copy-window.ts); the cut-over (cutover.ts) swaps the
 * tables in one transaction. It exists only once the stream runs, so nothing
 * here can be called before it.
 */
import type pg from 'pg';
import type { ConnectionSpec } from '../../connection.js';
import type { CopyPlan } from '../../core/columns.js';
import { ChangeApplier } from '../../core/change-applier.js';
import type { CopyWindow } from '../../core/copy-window.js';
import { GhostwrightError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { serializeCheckpoint, type Checkpoint } from '../../core/checkpoint.js';
import type { AlterRequest, ChunkResult, CopyRange, CutOverResult, KeyTuple, Migration, RangeProgress, RowCopy, StreamStats, TableInfo, TableRef, VerifyPoint } from '../engine.js';
import { trimGhost, writeCheckpointRow } from './resume.js';
import { openPgVerifyPoint, recopyPgRange } from './verify.js';
import { PgApplySql } from './apply.js';
import { copyChunk, keyBounds, splitPoints } from './copy.js';
import { serverStartTime, SESSION_LOSS_RETRIES, SESSION_ENDED_CODES, sessionLostServerUp, sqlState } from './connect.js';
import { DEFAULT_THROTTLE } from '../../core/options.js';
import { cutOver } from './cutover.js';
import type { GhostFk } from './ghost.js';
import { qualified } from './ident.js';
import type { CopySpec } from './sql.js';
import { ChangeStream, emitWalMarker } from './stream.js';
import type { CopySessions } from './origin.js';
import { keepRevertWindow } from './revert-point.js';
import { buildIndexes, type DeferredIndex } from './deferred-indexes.js';
import { pgKeyKind } from './key-types.js';

export interface PgMigrationParts {
  spec: ConnectionSpec;
  pool: pg.Pool;
  request: AlterRequest;
  plan: CopyPlan;
  copySpec: CopySpec;
  window: CopyWindow;
  ghostInfo: TableInfo;
  old: TableRef;
  changelog: TableRef;
  slot: string;
  publication: string;
  /** Kept out of decoding with the origin filter (origin.ts). */
  copySessions: CopySessions;
  originFilter: boolean;
  /** Where decoding starts: the new slot's consistent point, or the resumed slot's confirmed position. */
  startLsn: string;
  ghostFks: GhostFk[];
  /** Our slot's retained WAL as the load probe last measured it (measure.ts), or null. */
  retainedWalBytes: () => number | null;
  /** The ghost's indexes built after the copy (deferred-indexes.ts); none left to build on a resumed run. */
  deferredIndexes: DeferredIndex[];
  /** The replica identity the original had before this run changed it (identity.ts), or null. */
  identityChanged: string | null;
  log: Logger;
}

/** How often, while the applier holds keys for the ghost's key index, their number and the WAL kept for them are checked. */
const BUILD_WATCH_MS = 1000;

export class PgMigration implements Migration, RowCopy {
  private readonly stream: ChangeStream;
  /** Set by start(), which the OnlineAlter awaits before it hands the migration out. */
  private applier!: ChangeApplier<string>;
  private applySql!: PgApplySql;
  private markerSeq = 0;
  /** ANALYZE of the ghost, run once the copy is done, while the stream catches up (see waitCaughtUp). */
  private ghostAnalyzed: Promise<boolean> | null = null;
  private stopped = false;
  /** The build of the deferred indexes, once started (deferred-indexes.ts). */
  private indexesBuilt: Promise<void> | null = null;
  /** False while the ghost lacks its copy key's index: the applier holds the keys (deferred-indexes.ts). */
  private keyIndexed: boolean;
  private buildWatch: NodeJS.Timeout | null = null;
  /** The session building the indexes: a stop cancels its statement (a build on a large table takes a while). */
  private buildSession: number | null = null;
  /** A failed build started in the background (early, or at the last chunk), raised by the next step. */
  private indexFailure: Error | null = null;
  /** When the server started, read as the stream starts: a lost session after a restart is not ridden out. */
  private serverStart: string | null = null;
  /** The cut-over committed: the ghost IS the table now. */
  swapped = false;

  constructor(private readonly p: PgMigrationParts) {
    this.stream = new ChangeStream({ spec: p.spec, slot: p.slot, publication: p.publication, originNone: p.originFilter, keyColumns: p.copySpec.sourceKey, ignoreTable: p.changelog, maxBacklog: p.request.maxBacklogEvents, startLsn: p.startLsn, log: p.log });
    this.keyIndexed = !p.deferredIndexes.some((ix) => ix.key);
  }

  /** Starts decoding from parts.startLsn, then the applier. */
  async start(): Promise<void> {
    const { p, stream } = this;
    await stream.start();
    this.serverStart = await serverStartTime(p.pool);
    this.applySql = new PgApplySql(p.pool, p.copySpec, p.log, this.serverStart);
    // Nothing is taken until beginCopy: whether a change is the copy's or the stream's depends on the copy's ranges.
    this.applier = new ChangeApplier({ backlog: stream.queue, window: p.window, sql: this.applySql, log: p.log, ready: () => this.keyIndexed, idle: (ms) => stream.waitForActivity(ms), onError: () => stream.wake() });
    this.applier.start();
    if (!this.keyIndexed) {
      this.buildWatch = setInterval(() => this.buildEarlyIfNeeded(), BUILD_WATCH_MS);
      p.pool.on('error', this.sessionEnded);
    }
  }

  /**
   * While the applier holds keys, a fast shutdown's walsender would wait for
   * a confirmation we can't give (the keys are unapplied): at the first sign
   * of the server going down (one of our sessions ended), the stream lets go
   * and reconnects once the server is back. A session ended by
   * pg_terminate_backend does the same: a replay from the applied position.
   */
  private readonly sessionEnded = (err: unknown): void => {
    if (!this.keyIndexed && !this.stopped && SESSION_ENDED_CODES.has(sqlState(err) ?? '')) this.stream.cycle(`a session of ours ended (${sqlState(err)}): the server may be shutting down`);
  };

  /**
   * The ghost's deferred indexes, built once (deferred-indexes.ts): when the
   * copy is done, or earlier when the keys the applier holds meanwhile would
   * grow too many (half the backlog's limit) or keep too much WAL (half
   * --max-retained-wal-mb). A failed build fails the run.
   */
  private buildDeferredIndexes(): Promise<void> {
    if (this.buildWatch) clearInterval(this.buildWatch);
    this.buildWatch = null;
    this.indexesBuilt ??= buildIndexes(this.p.pool, this.p.copySpec.ghost, this.p.deferredIndexes, {
      keyReady: () => {
        this.keyIndexed = true;
        this.stream.wake();
      },
      catchUp: () => this.catchUp(60_000),
      log: this.p.log,
      onSession: (pid) => (this.buildSession = pid),
    });
    void this.indexesBuilt.then(
      () => (this.buildSession = null),
      () => (this.buildSession = null),
    );
    return this.indexesBuilt;
  }

  /** Starts the build without waiting for it; a failure is raised by the next step (failure()). */
  private startIndexBuild(): void {
    this.buildDeferredIndexes().catch((err: unknown) => (this.indexFailure ??= err as Error));
  }

  private buildEarlyIfNeeded(): void {
    if (this.indexesBuilt || this.stopped) return;
    const { p } = this;
    const held = this.stream.backlog;
    const wal = p.retainedWalBytes() ?? 0;
    const reason =
      held >= p.request.maxBacklogEvents / 2
        ? `${held} keys held`
        : wal >= (p.request.maxRetainedWalBytes ?? DEFAULT_THROTTLE.maxRetainedWalBytes) / 2
          ? `${Math.round(wal / 1048576)} MB of WAL retained for them`
          : null;
    if (!reason) return;
    p.log.info({ reason }, 'building the ghost indexes before the copy ends: the keys held for them would grow too many');
    this.startIndexBuild();
  }

  streamStats(): StreamStats {
    const apply = { ...this.applier.stats, ...this.applySql.retries };
    return { eventsApplied: this.stream.eventsApplied, backlog: this.stream.backlog, appliedPosition: this.stream.position, apply };
  }

  failure(): Error | null {
    return this.stream.error ?? this.applier.error ?? this.indexFailure ?? null;
  }

  private throwIfStreamFailed(): void {
    const err = this.failure();
    if (err) throw err;
  }

  keyBounds(): Promise<{ min: KeyTuple; max: KeyTuple } | null> {
    return keyBounds(this.p.pool, this.p.copySpec);
  }

  splitPoints(n: number): Promise<KeyTuple[]> {
    return splitPoints(this.p.pool, this.p.copySpec, this.p.copySpec.original, n);
  }

  /**
   * The copy covers these ranges, from (null, ..] on, contiguous; a closed
   * last range leaves keys above it to the stream. From here on the applier
   * places each changed key against the copy (core/copy-window.ts).
   */
  beginCopy(ranges: readonly CopyRange[], progress?: readonly RangeProgress[]): RowCopy {
    try {
      this.p.window.begin(ranges, progress);
    } catch (err) {
      throw new GhostwrightError('E_STATE', (err as Error).message);
    }
    return this;
  }

  /** One integer key column: the copier may give a chunk's end by arithmetic (core/chunker.ts). Key values are text here. */
  get integerKey(): ((v: bigint) => string) | undefined {
    const types = this.p.copySpec.keyTypes;
    return types.length === 1 && pgKeyKind(types[0]!) === 'integer' ? String : undefined;
  }

  /**
   * A chunk whose session was ended (pg_terminate_backend) while the server
   * stays up is copied again (connect.ts sessionLostServerUp; a restart
   * fails the run, kept for --resume). Its INSERT may have committed unseen:
   * the ghost's rows of the range beyond its progress go first (only chunks
   * write there: the applier leaves those keys to the copy; the trim's lock
   * waits out a write still running), so no stale row of that attempt survives.
   */
  async copyChunk(range: CopyRange, limit: number, end?: KeyTuple | null): Promise<ChunkResult> {
    this.throwIfStreamFailed();
    const stream = this.stream;
    const parts = { pool: this.p.pool, sessions: this.p.copySessions, window: this.p.window, spec: this.p.copySpec, queueKeys: (keys: string[][]) => stream.addKeys(keys), waitCaughtUp: (ms: number) => this.waitCaughtUp(ms), log: this.p.log };
    for (let attempt = 1; ; attempt++) {
      try {
        const done = await copyChunk(parts, range, limit, end);
        // The last chunk: the indexes are built at once (waitCaughtUp, verification and cut-over await the same build).
        if (this.p.window.copyDone && !this.indexesBuilt) this.startIndexBuild();
        return done;
      } catch (err) {
        this.sessionEnded(err);
        if (attempt > SESSION_LOSS_RETRIES || this.serverStart === null || !(await sessionLostServerUp(this.p.pool, err, this.serverStart))) throw err;
        this.throwIfStreamFailed();
        this.p.log.warn({ err }, 'copy: connection lost; copying the chunk again');
        await trimGhost(this.p.pool, this.p.copySpec, [{ after: range.after, upTo: range.upTo, through: null, done: false }], 60_000);
      }
    }
  }

  /** Resume: removes the ghost's rows of every unfinished range beyond its progress (resume.ts). */
  async trimToCheckpoint(ranges: readonly RangeProgress[]): Promise<void> {
    const removed = await trimGhost(this.p.pool, this.p.copySpec, ranges, 60_000);
    this.p.log.info({ removed }, 'resume: ghost rows beyond the checkpoint removed; the copy reads them again');
  }

  relaxApply(on: boolean): void {
    this.applier.relax(on);
  }

  /** Emits a marker into the WAL from an autocommit connection; returns its id. */
  private async emitMarker(): Promise<string> {
    const id = `${this.p.slot}:${++this.markerSeq}`;
    await emitWalMarker(this.p.pool, id);
    return id;
  }

  async waitCaughtUp(timeoutMs: number): Promise<void> {
    this.throwIfStreamFailed();
    if (this.p.window.copyDone) await this.buildDeferredIndexes();
    // Decoding the copy's WAL keeps one core busy for a while yet: the
    // planner statistics the new table needs are gathered meanwhile.
    if (!this.ghostAnalyzed && this.p.window.copyDone) {
      this.ghostAnalyzed = this.p.pool.query(`ANALYZE ${qualified(this.p.copySpec.ghost)}`).then(
        () => true,
        (err: unknown) => {
          this.p.log.warn({ err }, 'ANALYZE of the ghost failed; the table is analyzed after the swap');
          return false;
        },
      );
    }
    await this.catchUp(timeoutMs);
  }

  /** Waits until every change committed before now is applied (a marker through the stream). */
  private async catchUp(timeoutMs: number): Promise<void> {
    const stream = this.stream;
    const id = await this.emitMarker();
    await stream.waitFor(() => stream.markerApplied(id) || stream.error !== null, timeoutMs);
    this.throwIfStreamFailed();
    const ok = stream.markerApplied(id);
    stream.forgetMarker(id);
    if (!ok) throw new GhostwrightError('E_CATCHUP_TIMEOUT', `the stream did not catch up within ${timeoutMs} ms (backlog ${stream.backlog})`, { hint: 'the write load is higher than the apply rate; retry, or lower the load' });
  }

  async openVerifyPoint(): Promise<VerifyPoint> {
    await this.buildDeferredIndexes();
    return openPgVerifyPoint({ pool: this.p.pool, window: this.p.window, spec: this.p.copySpec, ghost: this.p.ghostInfo, stream: this.stream, applier: this.applier, applySql: this.applySql, markerTimeoutMs: 60_000, emitMarker: () => this.emitMarker(), waitCaughtUp: (ms) => this.waitCaughtUp(ms) });
  }

  async recopyRange(after: KeyTuple | null, through: KeyTuple): Promise<void> {
    this.throwIfStreamFailed();
    await recopyPgRange({ pool: this.p.pool, window: this.p.window, spec: this.p.copySpec }, after, through);
  }

  async checkpoint(state: Checkpoint): Promise<void> {
    if (this.stopped) return;
    await writeCheckpointRow(this.p.pool, this.p.changelog, serializeCheckpoint(state));
  }

  /**
   * The acknowledged position: every commit before it is in the ghost or left
   * to the copy (stream.ts). None while a key the copy skipped waits: it is
   * held in memory only, no commit the slot would send again stands for it,
   * and the chunk that skipped it already counts as copied; a checkpoint
   * written then would lose the row on kill -9 (pg-resume-skipped.test.ts).
   */
  restartPosition(): string | null {
    if (this.stopped || this.stream.queue.externalPending > 0) return null;
    return this.stream.position || null;
  }

  async cutOver(): Promise<CutOverResult> {
    this.throwIfStreamFailed();
    await this.buildDeferredIndexes();
    const { p } = this;
    const result = await cutOver({
      pool: p.pool,
      stream: this.stream,
      applier: this.applier,
      applySql: this.applySql,
      window: p.window,
      request: p.request,
      original: p.copySpec.original,
      ghost: p.copySpec.ghost,
      old: p.old,
      publication: p.publication,
      ghostFks: p.ghostFks,
      columnMap: new Map(p.plan.mapping.pairs.map((pair) => [pair.source, pair.target])),
      identityOverride: p.identityChanged,
      emitMarker: () => this.emitMarker(),
      ghostAnalyzed: this.ghostAnalyzed,
      ...(p.request.revertWindowMs ? { afterSwap: (a: pg.ClientBase) => this.keepRevertWindow(a, p.request.revertWindowMs!) } : {}),
      log: p.log,
    });
    this.swapped = true;
    return result;
  }

  /** --revert-window, inside the swap's transaction (revert-point.ts). */
  private keepRevertWindow(a: pg.ClientBase, windowMs: number): Promise<void> {
    const { p } = this;
    const columns = p.plan.mapping.pairs.map((pair) => pair.target);
    return keepRevertWindow(a, { original: p.copySpec.original, old: p.old, slot: p.slot, publication: p.publication, windowMs, columns, key: p.plan.targetKey, identityChanged: p.identityChanged });
  }

  /** Stops the applier and the stream (the slot can't be dropped while in use); once. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.buildWatch) clearInterval(this.buildWatch);
    this.p.pool.off('error', this.sessionEnded);
    if (this.buildSession !== null) await this.p.pool.query('SELECT pg_cancel_backend($1)', [this.buildSession]).catch(() => undefined);
    if (this.applier) await this.applier.stop();
    await this.stream.stop();
  }
}
