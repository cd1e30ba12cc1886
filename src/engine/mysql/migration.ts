/**
 * The running migration of one MySQL/MariaDB table (the Migration handle
 * that Ghost.startStream returns): a binlog stream started before the first
 * chunk, the key-based apply beside the keyset copy (copy.ts), verification,
 * checkpoints, and the sentry cut-over (cutover.ts). It exists only once the
 * stream is set up, so nothing here can run before it.
 */
import type { Pool, PoolConnection } from 'mysql2/promise';
import type { ConnectionSpec } from '../../connection.js';
import type { Logger } from '../../log.js';
import { GhostwrightError } from '../../errors.js';
import { ChangeApplier } from '../../core/change-applier.js';
import type { AlterRequest, ChunkResult, CopyRange, CutOverResult, KeyTuple, Migration, RowCopy, ServerInfo, StreamStats, TableInfo, TableRef, VerifyPoint } from '../engine.js';
import { integerKeyValue } from './split.js';
import { openMysqlVerifyPoint, recopyMysqlRange } from './verify.js';
import { comparePositions, currentBinlogPosition, formatPosition, queryExec, type BinlogPosition } from './connect.js';
import { qualified } from './ident.js';
import { buildChangelogWrite } from './sql.js';
import { BinlogStream } from './stream.js';
import { MysqlApplySql } from './apply.js';
import { swapAndStopStream } from './cutover.js';
import { serializeCheckpoint, type Checkpoint, type RangeProgress } from '../../core/checkpoint.js';
import { ReconnectBudget } from '../../core/reconnect.js';
import { parsePosition, trimGhost } from './resume.js';
import { keepRevertPoint } from './revert-point.js';
import { MysqlRowCopy } from './copy.js';
import { stopApplierAndStream } from '../run-teardown.js';
import type { MysqlCopyPlan } from './plan.js';
import type { GhostIndexes } from './deferred-indexes.js';

export interface MysqlMigrationParts {
  spec: ConnectionSpec;
  pool: Pool;
  request: AlterRequest;
  copy: MysqlCopyPlan;
  original: TableInfo;
  ghostInfo: TableInfo;
  ghost: TableRef;
  old: TableRef;
  changelog: TableRef;
  /** The ghost's secondary keys deferred until the copy is done (deferred-indexes.ts). */
  indexes: GhostIndexes;
  /** The server (MysqlApplySql: how commits are awaited). */
  server: ServerInfo;
  /** The run's connections are closed (OnlineAlter.abort/cleanup): checkpoints are no-ops. */
  closed: () => boolean;
  log: Logger;
}

export class MysqlMigration implements Migration, RowCopy {
  private stream: BinlogStream | null = null;
  private applier: ChangeApplier<BinlogPosition> | null = null;
  private applySql: MysqlApplySql | null = null;
  private readonly rows: MysqlRowCopy;
  private readonly utcSessions = new WeakSet<object>();
  /** A short loss of the server is ridden out by the copy (core/reconnect.ts). */
  private readonly lost = new ReconnectBudget();
  /** The cut-over committed: the ghost IS the table now. */
  swapped = false;

  constructor(private readonly p: MysqlMigrationParts) {
    const { pool, request, copy, ghost } = p;
    this.rows = new MysqlRowCopy({ pool, table: request.table, ghost, plan: copy.plan, window: copy.window, integerKey: copy.integerKey, rowSession: (c) => this.rowSession(c), queueKey: (k) => this.stream?.queue.addExternal(k) });
  }

  /**
   * Starts reading the binlog at `from` (resume: the checkpoint's position),
   * else at the current position, read BEFORE the first chunk: every change
   * committed after it reaches the ghost through the stream. Then the applier.
   */
  async start(from?: string): Promise<void> {
    const { p } = this;
    const key = p.copy.plan.sourceKey.map((name) => ({ name, type: p.original.columns.find((c) => c.name === name)?.type ?? '' }));
    try {
      const start = from ? parsePosition(from) : await currentBinlogPosition(p.pool);
      this.stream = new BinlogStream({ spec: p.spec, table: p.request.table, key, start, maxBacklog: p.request.maxBacklogEvents, log: p.log });
      await this.stream.start();
      p.log.debug({ start: formatPosition(start) }, 'binlog stream started');
    } catch (err) {
      if (err instanceof GhostwrightError) throw err;
      throw new GhostwrightError('E_STREAM', `cannot read the binary log: ${(err as Error).message}`, {
        cause: err,
        hint: 'the user needs REPLICATION SLAVE (and REPLICATION CLIENT / BINLOG MONITOR) on *.*, and the binlog file must still exist',
      });
    }
    const stream = this.stream;
    this.applySql = new MysqlApplySql({ pool: p.pool, session: (c) => this.rowSession(c), stream, source: p.request.table, ghost: p.ghost, plan: p.copy.plan, changelog: p.changelog, server: p.server, log: p.log });
    this.applier = new ChangeApplier({ backlog: stream.queue, window: p.copy.window, sql: this.applySql, log: p.log, idle: (ms) => stream.waitForActivity(ms) });
    this.applier.start();
  }

  /**
   * A TIMESTAMP key travels as UTC text (the binlog's, read with timezone
   * 'Z'): every session that reads or binds key values then runs in UTC, so
   * no DST fold or session zone can make two instants compare equal. Other
   * tables keep the server's zone (a TIMESTAMP -> DATETIME conversion in the
   * ALTER depends on it, as in a blocking ALTER).
   */
  private async rowSession(conn: PoolConnection): Promise<PoolConnection> {
    const id = conn.connection as object;
    if (this.p.copy.utcKey && !this.utcSessions.has(id)) {
      await conn.query("SET SESSION time_zone = '+00:00'");
      this.utcSessions.add(id);
    }
    return conn;
  }

  streamStats(): StreamStats {
    const q = this.stream?.queue;
    const apply = this.applier && this.applySql ? { ...this.applier.stats, ...this.applySql.retries } : undefined;
    return { eventsApplied: q?.eventsApplied ?? 0, backlog: q?.backlog ?? 0, appliedPosition: q ? formatPosition(q.applied) : '', ...(apply ? { apply } : {}) };
  }

  failure(): Error | null {
    return this.stream?.error ?? this.applier?.error ?? null;
  }

  private throwIfFailed(): void {
    const err = this.failure();
    if (err) throw err;
  }

  relaxApply(on: boolean): void {
    this.applier?.relax(on);
  }

  private async relaxedWhile<T>(work: Promise<T>): Promise<T> {
    this.relaxApply(true);
    try {
      return await work;
    } finally {
      this.relaxApply(false);
    }
  }

  /**
   * Once the copy is done, the deferred keys are built first (online: the
   * applier writes on meanwhile, relaxed: nobody waits on it during the
   * build), then the stream catches up with what came in during the build.
   * The build's time does not count against timeoutMs.
   */
  async waitCaughtUp(timeoutMs: number): Promise<void> {
    if (this.p.copy.window.copyDone) await this.relaxedWhile(this.p.indexes.restore());
    const target = await this.lost.run(() => currentBinlogPosition(this.p.pool));
    const deadline = Date.now() + timeoutMs;
    const stream = this.stream!;
    for (;;) {
      this.throwIfFailed();
      const q = stream.queue;
      if (comparePositions(q.applied, target) >= 0 && q.externalPending === 0) return;
      if (Date.now() > deadline) {
        throw new GhostwrightError('E_CATCHUP_TIMEOUT', `the stream did not catch up within ${timeoutMs} ms (applied ${formatPosition(q.applied)}, target ${formatPosition(target)}, backlog ${q.backlog})`, {
          hint: 'the write load outpaces the apply; throttle the application or retry later',
        });
      }
      await stream.waitForActivity(20);
    }
  }

  // ---------------------------------------------------------------- copy (copy.ts)

  keyBounds(): Promise<{ min: KeyTuple; max: KeyTuple } | null> {
    return this.rows.keyBounds();
  }

  splitPoints(n: number): Promise<KeyTuple[]> {
    return this.rows.splitPoints(n);
  }

  /** From here on the applier places changed keys against the copy's ranges (core/copy-window.ts). */
  beginCopy(ranges: readonly CopyRange[], progress?: readonly RangeProgress[]): RowCopy {
    this.p.copy.window.begin(ranges, progress);
    return this;
  }

  /** One integer key column: the copier may give a chunk's end by arithmetic (core/chunker.ts). */
  get integerKey(): ((v: bigint) => number | string) | undefined {
    return this.p.copy.integerKey ? integerKeyValue : undefined;
  }

  /**
   * A chunk that fails on a lost connection (server restart, KILL) is copied
   * again once the server answers, within the reconnect window. Its INSERT
   * may have committed unseen: the ghost's rows of the range beyond its
   * progress go first (nothing but chunks writes there: the stream leaves
   * those keys to the copy), so no stale row of that attempt survives.
   */
  async copyChunk(range: CopyRange, limit: number, end?: KeyTuple | null): Promise<ChunkResult> {
    return this.lost.run(
      () => {
        this.throwIfFailed();
        return this.rows.copyChunk(range, limit, end);
      },
      async (err) => {
        this.p.log.warn({ err }, 'copy: connection lost; copying the chunk again');
        await this.trimToCheckpoint([{ after: range.after, upTo: range.upTo, through: null, done: false }]);
      },
    );
  }

  /** Removes the ghost's rows of every unfinished range beyond its progress (resume.ts). */
  async trimToCheckpoint(ranges: readonly RangeProgress[]): Promise<void> {
    const conn = await this.rowSession(await this.p.pool.getConnection());
    try {
      const removed = await trimGhost(conn, this.p.ghost, this.p.copy.plan.targetKey, ranges);
      this.p.log.info({ removed }, 'ghost rows past the copy progress removed; the copy reads them again');
    } finally {
      conn.release();
    }
  }

  // ---------------------------------------------------------------- verification (see verify.ts)

  async openVerifyPoint(): Promise<VerifyPoint> {
    this.throwIfFailed();
    const point = await openMysqlVerifyPoint({ ...this.verifyContext(), spec: this.p.spec, waitCaughtUp: (ms) => this.waitCaughtUp(ms) });
    // The checksums read a snapshot while the application writes on: nobody waits on the applier meanwhile.
    this.relaxApply(true);
    return {
      ...point,
      close: async () => {
        this.relaxApply(false);
        await point.close();
      },
    };
  }

  async recopyRange(after: KeyTuple | null, through: KeyTuple): Promise<void> {
    this.throwIfFailed();
    await recopyMysqlRange(this.verifyContext(), after, through);
  }

  private verifyContext() {
    const { p } = this;
    return { pool: p.pool, gate: p.copy.window, original: p.original, ghost: p.ghostInfo, ghostRef: p.ghost, plan: p.copy.plan, lockTimeoutMs: p.request.cutOverLockTimeoutMs, log: p.log };
  }

  // ---------------------------------------------------------------- checkpoint (core/checkpoint.ts)

  async checkpoint(state: Checkpoint): Promise<void> {
    if (this.p.closed()) return;
    const q = buildChangelogWrite(this.p.changelog, 'checkpoint', serializeCheckpoint(state));
    await queryExec(this.p.pool, q.sql, q.params);
  }

  /**
   * The backlog's low-water mark; none while a key the copy skipped waits
   * (no commit covers it, so no position would replay it).
   */
  restartPosition(): string | null {
    const q = this.stream?.queue;
    if (!q || q.externalPending > 0) return null;
    return formatPosition(q.applied);
  }

  // ---------------------------------------------------------------- swap

  async cutOver(): Promise<CutOverResult> {
    this.throwIfFailed();
    const { p } = this;
    // Never swap in a ghost without its secondary keys, whoever calls this.
    await p.indexes.restore();
    const stream = this.stream!;
    const applier = this.applier!;
    const ctx = { spec: p.spec, pool: p.pool, original: p.request.table, ghost: p.ghost, oldName: p.old, stream, applier, applySql: this.applySql!, utc: p.copy.utcKey, window: p.copy.window, lockTimeoutMs: p.request.cutOverLockTimeoutMs, log: p.log };
    // Before the lock: every write to the new table comes after this (see revert-point.ts).
    const revertFrom = await currentBinlogPosition(p.pool);
    const stallMs = await swapAndStopStream(ctx, () => (this.swapped = true));
    if (p.request.dropOldTable) {
      // The swap is done whatever happens here: a failed drop only leaves the old table behind.
      try {
        await queryExec(p.pool, `DROP TABLE IF EXISTS ${qualified(p.old)}`);
        return { stallMs, oldTable: null };
      } catch (err) {
        p.log.warn({ err, table: p.old.name }, 'cut-over done, but dropping the old table failed; drop it by hand');
      }
    }
    await keepRevertPoint(p.pool, p.old, revertFrom, p.log);
    return { stallMs, oldTable: p.old.name };
  }

  /** Stops the applier and the stream (abort, cleanup); never throws. */
  async stop(): Promise<void> {
    await this.p.indexes.stop();
    await stopApplierAndStream(this.applier, this.stream);
  }
}
