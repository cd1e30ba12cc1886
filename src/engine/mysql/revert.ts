/**
 * Revert after cut-over on MySQL/MariaDB (engine/revert-contract.ts): the kept old
 * table is brought up to date from the binlog, from the revert point its
 * cut-over wrote (revert-point.ts), and swapped back by the forward
 * cut-over (cutover.ts) itself.
 *
 * The old table is first renamed `_t_del -> t_gho`. The cut-over's safety
 * rests on lock order (cutover.ts): RENAME TABLE takes its metadata locks in
 * the byte order of the names, and its first wait must be on `t`, or writers
 * queued on `t` would slip into the table being swapped out. `_t_del` sorts
 * before `t`; the ghost name `t_gho` sorts after it. A forward cut-over's
 * RENAME also needs `_t_del` free: it becomes the new shape's name, with a
 * revert point of its own (so a revert can be reverted). On any failure
 * before the swap, the table gets its name back; its revert point (the
 * comment) stays on it until the swap, so a killed revert is found again
 * as `t_gho` and goes on, and `cleanup` does not take it for a ghost.
 */
import type { Pool, PoolConnection } from 'mysql2/promise';
import type { ConnectionSpec } from '../../connection.js';
import type { Logger } from '../../log.js';
import { GhostwrightError, RefusedError } from '../../errors.js';
import { ChangeApplier } from '../../core/change-applier.js';
import { chooseSharedKey, mapColumns, type CopyPlan } from '../../core/columns.js';
import { CopyWindow } from '../../core/copy-window.js';
import { isStampedOldTable, MYSQL_IDENTIFIER_LIMIT } from '../../core/names.js';
import type { CutOverResult, KeyTuple, ServerInfo, StreamStats, TableInfo, TableRef, VerifyPoint } from '../engine.js';
import { preparedRevert, type PreparedRevert, type RevertJob, type RevertRequest, type RevertTarget } from '../revert-contract.js';
import { revertShapeProblems } from '../revert-shape.js';
import { MysqlApplySql } from './apply.js';
import { comparePositions, createPool, currentBinlogPosition, formatPosition, queryExec, queryRows, requireBinlogFile, ROW_SESSION_SETUP, type BinlogPosition } from './connect.js';
import { swapAndStopStream } from './cutover.js';
import { inspectTable } from './inspect.js';
import { unsupportedKeyColumns } from './preflight.js';
import { decodeRevertPoint, keepRevertPoint, setTableComment, type RevertPoint } from './revert-point.js';
import { buildRename } from './sql.js';
import { BinlogStream } from './stream.js';
import { openMysqlVerifyPoint, recopyMysqlRange } from './verify.js';
import { CloseOnce, stopApplierAndStream } from '../run-teardown.js';
import { helperTables } from '../helper-tables.js';

const fold = (n: string) => n.toLowerCase();

export class MysqlRevert implements RevertJob {
  private readonly pool: Pool;
  private readonly ghost: TableRef;
  private old: TableRef | null = null;
  private point: RevertPoint | null = null;
  private newShape: TableInfo | null = null;
  private ghostShape: TableInfo | null = null;
  private plan: CopyPlan | null = null;
  /** Every key is "copied" already: the window applies each at once. */
  private readonly window = new CopyWindow(null);
  private stream: BinlogStream | null = null;
  private applier: ChangeApplier<BinlogPosition> | null = null;
  private applySql: MysqlApplySql | null = null;
  private utcKey = false;
  /** The old table is named like the ghost now (by this run, or by a revert killed before its swap). */
  private renamed = false;
  /** This run renamed it: an abort names it back. */
  private renamedHere = false;
  private swapped = false;
  private readonly closer = new CloseOnce(() => this.pool.end());

  constructor(private readonly ctx: { spec: ConnectionSpec; info: ServerInfo; request: RevertRequest; log: Logger }) {
    const t = ctx.request.table;
    this.ghost = helperTables('mysql', t).ghost;
    this.pool = createPool(ctx.spec, 4, ROW_SESSION_SETUP);
  }

  async prepare(): Promise<PreparedRevert> {
    return preparedRevert(await this.findTarget(), this);
  }

  /** What can be reverted, refused here if nothing can; changes nothing. */
  private async findTarget(): Promise<RevertTarget> {
    const t = this.ctx.request.table;
    this.newShape = await inspectTable(this.pool, t, this.ctx.info.flavor);
    const { ref, point, interrupted } = await this.findOldTable();
    this.old = ref;
    this.point = point;
    this.renamed = interrupted;
    await requireBinlogFile(
      this.pool,
      point.from.file,
      () =>
        new RefusedError('E_REVERT_WINDOW', `the revert window of ${t.name} has passed: binlog file ${point.from.file} (the cut-over at ${point.at}) is purged from the server`, {
          hint: `the writes since the cut-over can no longer be read; keep binlogs longer (binlog_expire_logs_seconds) next time, or drop ${ref.name} once it is not needed`,
        }),
    );
    const oldShape = await inspectTable(this.pool, interrupted ? this.ghost : ref, this.ctx.info.flavor);
    const problems = revertShapeProblems(this.newShape, oldShape, fold);
    if (problems.length) {
      throw new RefusedError('E_REVERT_SHAPE', `the old shape (${ref.name}) can't hold the new table's rows: ${problems.map((p) => `${p.column}: ${p.reason}`).join('; ')}`, {
        hint: 'revert with a forward ALTER instead (ghostwright alter --alter "..."), after making the data fit the old shape',
        details: { columns: problems.map((p) => p.column) },
      });
    }
    const mapping = mapColumns(this.newShape, oldShape, new Map(), fold);
    const plan = chooseSharedKey(this.newShape, oldShape, mapping, fold);
    if (!plan) throw new RefusedError('E_NO_SHARED_KEY', `no PRIMARY KEY or NOT NULL UNIQUE key is shared by ${t.name} and ${ref.name}`, { hint: 'revert with a forward ALTER instead' });
    const bad = unsupportedKeyColumns(this.newShape, plan.sourceKey);
    if (bad) throw bad;
    this.plan = plan;
    this.utcKey = plan.sourceKey.some((k) => /^timestamp\b/i.test(this.newShape!.columns.find((c) => fold(c.name) === fold(k))?.type ?? ''));
    return { oldTable: ref.name, swappedAt: point.at, from: formatPosition(point.from), columns: mapping.pairs.map((p) => p.target), defaulted: mapping.added };
  }

  /**
   * `_t_del`, else the newest `_t_<stamp>_del` (--timestamp-old-table), with
   * its revert point; or `t_gho` carrying one: a revert killed before its
   * swap (it goes on from there, the apply being idempotent).
   */
  private async findOldTable(): Promise<{ ref: TableRef; point: RevertPoint; interrupted: boolean }> {
    const t = this.ctx.request.table;
    const plain = helperTables('mysql', t).old.name;
    const rows = await queryRows(this.pool, "SELECT TABLE_NAME AS n, TABLE_COMMENT AS c FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND (TABLE_NAME LIKE '\\_%\\_del' OR TABLE_NAME = ?)", [t.schema, this.ghost.name]);
    const all = rows.map((r) => ({ name: String(r.n), comment: String(r.c ?? ''), point: decodeRevertPoint(String(r.c ?? '')) }));
    const interrupted = all.find((r) => r.name === this.ghost.name);
    if (interrupted?.point) return { ref: { schema: t.schema, name: plain }, point: interrupted.point, interrupted: true };
    if (interrupted) {
      throw new RefusedError('E_LEFTOVER', `${this.ghost.name} exists (a ghost of an earlier run); the revert needs that name`, { hint: `ghostwright cleanup --table ${t.name} --execute` });
    }
    const kept = all.filter((r) => r.name === plain || isStampedOldTable('mysql', t.name, r.name, MYSQL_IDENTIFIER_LIMIT));
    if (!kept.length) {
      throw new RefusedError('E_REVERT_NO_OLD_TABLE', `no kept old table of ${t.name} (${plain}): nothing to revert to`, {
        hint: 'the cut-over dropped it (--ok-to-drop-table) or it was dropped since; revert with a forward ALTER instead',
      });
    }
    const best = kept.filter((k) => k.point !== null).sort((a, b) => (a.point!.at < b.point!.at ? 1 : -1))[0];
    if (!best) {
      throw new RefusedError('E_REVERT_NO_POINT', `${kept.map((k) => k.name).join(', ')} carries no revert point: its cut-over did not record where the new table's writes begin`, {
        hint: 'only a cut-over by this ghostwright version can be reverted; revert with a forward ALTER instead',
      });
    }
    return { ref: { schema: t.schema, name: best.name }, point: best.point!, interrupted: false };
  }

  private need<T>(v: T | null, what: string): T {
    if (v === null) throw new GhostwrightError('E_STATE', `revert: ${what} before prepare()`);
    return v;
  }

  async startStream(): Promise<void> {
    const t = this.ctx.request.table;
    const old = this.need(this.old, 'startStream');
    const point = this.need(this.point, 'startStream');
    const plan = this.need(this.plan, 'startStream');
    // The revert point stays on the table until the swap: a revert killed
    // before it is found again (findOldTable), and cleanup leaves it alone.
    if (!this.renamed) {
      await queryExec(this.pool, buildRename([[old, this.ghost]]).sql);
      this.renamed = this.renamedHere = true;
    }
    this.ghostShape = await inspectTable(this.pool, this.ghost, this.ctx.info.flavor);
    const key = plan.sourceKey.map((name) => ({ name, type: this.newShape!.columns.find((c) => c.name === name)?.type ?? '' }));
    this.stream = new BinlogStream({ spec: this.ctx.spec, table: t, key, start: point.from, allowDdlUntil: point.until, maxBacklog: this.ctx.request.maxBacklogEvents, log: this.ctx.log });
    try {
      await this.stream.start();
    } catch (err) {
      throw new GhostwrightError('E_STREAM', `cannot read the binary log from ${formatPosition(point.from)}: ${(err as Error).message}`, { cause: err });
    }
    const stream = this.stream;
    this.applySql = new MysqlApplySql({ pool: this.pool, session: (c) => this.rowSession(c), stream, source: t, ghost: this.ghost, plan, server: this.ctx.info, log: this.ctx.log });
    this.window.begin([]);
    this.applier = new ChangeApplier({ backlog: stream.queue, window: this.window, sql: this.applySql, log: this.ctx.log, idle: (ms) => stream.waitForActivity(ms) });
    this.applier.start();
  }

  private async rowSession(conn: PoolConnection): Promise<PoolConnection> {
    if (this.utcKey) await conn.query("SET SESSION time_zone = '+00:00'");
    return conn;
  }

  private throwIfFailed(): void {
    const err = this.stream?.error ?? this.applier?.error;
    if (err) throw err;
  }

  streamStats(): StreamStats {
    const q = this.stream?.queue;
    return { eventsApplied: q?.eventsApplied ?? 0, backlog: q?.backlog ?? 0, appliedPosition: q ? formatPosition(q.applied) : '' };
  }

  async waitCaughtUp(timeoutMs: number): Promise<void> {
    const target = await currentBinlogPosition(this.pool);
    const deadline = Date.now() + timeoutMs;
    const q = this.need(this.stream, 'waitCaughtUp').queue;
    while (comparePositions(q.applied, target) < 0) {
      this.throwIfFailed();
      if (Date.now() > deadline) {
        throw new GhostwrightError('E_CATCHUP_TIMEOUT', `the revert's stream did not catch up within ${timeoutMs} ms (applied ${formatPosition(q.applied)}, target ${formatPosition(target)})`, {
          hint: 'the write load outpaces the apply; throttle the application or retry later',
        });
      }
      await this.stream!.waitForActivity(20);
    }
    this.throwIfFailed();
  }

  private verifyContext() {
    return {
      pool: this.pool,
      gate: this.window,
      original: this.need(this.newShape, 'verify'),
      ghost: this.need(this.ghostShape, 'verify'),
      ghostRef: this.ghost,
      plan: this.need(this.plan, 'verify'),
      lockTimeoutMs: this.ctx.request.cutOverLockTimeoutMs,
      log: this.ctx.log,
    };
  }

  async openVerifyPoint(): Promise<VerifyPoint> {
    this.throwIfFailed();
    return openMysqlVerifyPoint({ ...this.verifyContext(), spec: this.ctx.spec, waitCaughtUp: (ms) => this.waitCaughtUp(ms) });
  }

  async recopyRange(after: KeyTuple | null, through: KeyTuple): Promise<void> {
    this.throwIfFailed();
    await recopyMysqlRange(this.verifyContext(), after, through);
  }

  async cutOver(): Promise<CutOverResult> {
    this.throwIfFailed();
    const stream = this.need(this.stream, 'cutOver');
    const applier = this.need(this.applier, 'cutOver');
    const old = this.need(this.old, 'cutOver');
    const from = await currentBinlogPosition(this.pool);
    const ctx = { spec: this.ctx.spec, pool: this.pool, original: this.ctx.request.table, ghost: this.ghost, oldName: old, stream, applier, applySql: this.applySql!, utc: this.utcKey, window: this.window, lockTimeoutMs: this.ctx.request.cutOverLockTimeoutMs, log: this.ctx.log };
    const stallMs = await swapAndStopStream(ctx, () => (this.swapped = true));
    await this.restoreComment();
    // The new shape is now the kept table: it can be swapped back in turn.
    await keepRevertPoint(this.pool, old, from, this.ctx.log);
    return { stallMs, oldTable: old.name };
  }

  /** The table's own comment back, on the live table: a metadata-only change, bounded like the cut-over's lock. */
  private async restoreComment(): Promise<void> {
    const t = this.ctx.request.table;
    const conn = await this.pool.getConnection();
    try {
      await conn.query('SET SESSION lock_wait_timeout = ?', [Math.max(1, Math.ceil(this.ctx.request.cutOverLockTimeoutMs / 1000))]);
      await setTableComment(conn, t, this.need(this.point, 'restoreComment').comment);
    } catch (err) {
      this.ctx.log.warn({ err, table: t.name }, `reverted, but the table's comment still holds the revert point; set it back by hand: ALTER TABLE ... COMMENT = ...`);
    } finally {
      conn.destroy();
    }
  }

  async cleanup(): Promise<void> {
    await this.stopStream();
    await this.close();
  }

  async abort(): Promise<void> {
    try {
      await this.stopStream();
      if (this.renamedHere && !this.swapped && this.old) {
        // Back to where the revert found it: the same name and the same revert point.
        await queryExec(this.pool, buildRename([[this.ghost, this.old]]).sql);
        this.renamed = this.renamedHere = false;
      }
    } catch (err) {
      this.ctx.log.warn({ err, table: this.ghost.name }, `revert abort: rename ${this.ghost.name} back to ${this.old?.name} by hand, with its comment`);
    } finally {
      await this.close();
    }
  }

  private stopStream(): Promise<void> {
    return stopApplierAndStream(this.applier, this.stream);
  }

  private close(): Promise<void> {
    return this.closer.close();
  }
}
