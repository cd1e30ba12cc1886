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
import { serverStartTime, SESSION_LOSS_RETRIES, sessionLostServerUp } from './connect.js';
import { cutOver } from './cutover.js';
import type { GhostFk } from './ghost.js';
import { qualified } from './ident.js';
import type { CopySpec } from './sql.js';
import { ChangeStream, emitWalMarker } from './stream.js';
import type { CopySessions } from './origin.js';
import { keepRevertWindow } from './revert-point.js';

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
  /** The replica identity the original had before this run changed it (identity.ts), or null. */
  identityChanged: string | null;
  log: Logger;
}

export class PgMigration implements Migration, RowCopy {
  private readonly stream: ChangeStream;
  /** Set by start(), which the OnlineAlter awaits before it hands the migration out. */
  private applier!: ChangeApplier<string>;
  private applySql!: PgApplySql;
  private markerSeq = 0;
  /** ANALYZE of the ghost, run once the copy is done, while the stream catches up (see waitCaughtUp). */
  private ghostAnalyzed: Promise<boolean> | null = null;
  private stopped = false;
  /** When the server started, read as the stream starts: a lost session after a restart is not ridden out. */
  private serverStart: string | null = null;
  /** The cut-over committed: the ghost IS the table now. */
  swapped = false;

  constructor(private readonly p: PgMigrationParts) {
    this.stream = new ChangeStream({ spec: p.spec, slot: p.slot, publication: p.publication, originNone: p.originFilter, keyColumns: p.copySpec.sourceKey, ignoreTable: p.changelog, maxBacklog: p.request.maxBacklogEvents, startLsn: p.startLsn, log: p.log });
  }

  /** Starts decoding from parts.startLsn, then the applier. */
  async start(): Promise<void> {
    const { p, stream } = this;
    await stream.start();
    this.serverStart = await serverStartTime(p.pool);
    this.applySql = new PgApplySql(p.pool, p.copySpec, p.log, this.serverStart);
    // Nothing is taken until beginCopy: whether a change is the copy's or the stream's depends on the copy's ranges.
    this.applier = new ChangeApplier({ backlog: stream.queue, window: p.window, sql: this.applySql, log: p.log, idle: (ms) => stream.waitForActivity(ms), onError: () => stream.wake() });
    this.applier.start();
  }

  streamStats(): StreamStats {
    const apply = { ...this.applier.stats, ...this.applySql.retries };
    return { eventsApplied: this.stream.eventsApplied, backlog: this.stream.backlog, appliedPosition: this.stream.position, apply };
  }

  failure(): Error | null {
    return this.stream.error ?? this.applier.error ?? null;
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

  /**
   * A chunk whose session was ended (pg_terminate_backend) while the server
   * stays up is copied again (connect.ts sessionLostServerUp; a restart
   * fails the run, kept for --resume). Its INSERT may have committed unseen:
   * the ghost's rows of the range beyond its progress go first (only chunks
   * write there: the applier leaves those keys to the copy; the trim's lock
   * waits out a write still running), so no stale row of that attempt survives.
   */
  async copyChunk(range: CopyRange, limit: number): Promise<ChunkResult> {
    this.throwIfStreamFailed();
    const stream = this.stream;
    const parts = { pool: this.p.pool, sessions: this.p.copySessions, window: this.p.window, spec: this.p.copySpec, queueKeys: (keys: string[][]) => stream.addKeys(keys), waitCaughtUp: (ms: number) => this.waitCaughtUp(ms), log: this.p.log };
    for (let attempt = 1; ; attempt++) {
      try {
        return await copyChunk(parts, range, limit);
      } catch (err) {
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

  /** Emits a marker into the WAL from an autocommit connection; returns its id. */
  private async emitMarker(): Promise<string> {
    const id = `${this.p.slot}:${++this.markerSeq}`;
    await emitWalMarker(this.p.pool, id);
    return id;
  }

  async waitCaughtUp(timeoutMs: number): Promise<void> {
    const stream = this.stream;
    this.throwIfStreamFailed();
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
    const id = await this.emitMarker();
    await stream.waitFor(() => stream.markerApplied(id) || stream.error !== null, timeoutMs);
    this.throwIfStreamFailed();
    const ok = stream.markerApplied(id);
    stream.forgetMarker(id);
    if (!ok) throw new GhostwrightError('E_CATCHUP_TIMEOUT', `the stream did not catch up within ${timeoutMs} ms (backlog ${stream.backlog})`, { hint: 'the write load is higher than the apply rate; retry, or lower the load' });
  }

  openVerifyPoint(): Promise<VerifyPoint> {
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
    if (this.applier) await this.applier.stop();
    await this.stream.stop();
  }
}
