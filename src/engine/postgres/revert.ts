/**
 * Revert after cut-over on PostgreSQL (engine/revert-contract.ts): the kept
 * old table `_t_del` is brought up to date from the slot the forward run
 * kept (--revert-window, revert-point.ts), and swapped back by the forward
 * cut-over (cutover.ts) itself.
 *
 * The stream reads the slot from its confirmed position, at or before the
 * swap: the commits before the swap that it sends again are keys of the
 * original, which the apply re-reads from the new table (harmless, as any
 * replay); every commit after it is a write to the new table. The applier is
 * the forward one with the roles turned around: the source is the new table
 * `t`, the ghost is `_t_del`, every key counts as copied (there is no copy).
 * Only the columns both shapes share are written; the old shape's own
 * columns take their defaults in rows inserted since the cut-over.
 *
 * The swap back is the forward cut-over's one transaction (lock `t`, apply
 * the last keys under the lock, rename, rebuild dependents). Its beforeSwap
 * step moves the old table to the ghost's name first, its indexes and
 * identity sequences to names of their own (the swap gives the new table's
 * ones the `_del` names they hold), and puts its own comment back. Nothing
 * is renamed outside that transaction: a revert that fails or is killed
 * leaves both tables as they were, and the window open for another try.
 * After the swap, the slot and the publication are dropped.
 */
import type pg from 'pg';
import type { ConnectionSpec } from '../../connection.js';
import { ChangeApplier } from '../../core/change-applier.js';
import { chooseSharedKey, mapColumns } from '../../core/columns.js';
import { CopyWindow, keyOrder } from '../../core/copy-window.js';
import { cleanupCommand } from '../../core/leftovers.js';
import { isStampedOldTable } from '../../core/names.js';
import { GhostwrightError, RefusedError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { CutOverResult, KeyTuple, StreamStats, TableInfo, TableRef, VerifyPoint } from '../engine.js';
import { preparedRevert, type PreparedRevert, type RevertJob, type RevertRequest, type RevertTarget } from '../revert-contract.js';
import { revertShapeProblems } from '../revert-shape.js';
import { PgApplySql } from './apply.js';
import { catalog, createPool } from './connect.js';
import { cutOver } from './cutover.js';
import { PG_MAX_IDENTIFIER_BYTES, qualified } from './ident.js';
import { inspectTable } from './inspect.js';
import { pgKeyKind } from './key-types.js';
import { disableTriggers, moveAside, restoreTriggers, type TriggerState } from './revert-aside.js';
import { endRevertWindow, expired, findRevertPoints, stampOf, type FoundRevertPoint } from './revert-point.js';
import { slotState } from './slot.js';
import { uniqueIndexesKept, type CopySpec } from './sql.js';
import { ChangeStream, emitWalMarker } from './stream.js';
import { openPgVerifyPoint, recopyPgRange } from './verify.js';
import { CloseOnce, stopApplierAndStream } from '../run-teardown.js';
import { helperTables } from '../helper-tables.js';

const same = (n: string) => n;

export class PgRevert implements RevertJob {
  private readonly pool: pg.Pool;
  private readonly ghost: TableRef;
  private found: FoundRevertPoint | null = null;
  private startLsn = '';
  private oldShape: TableInfo | null = null;
  private spec: CopySpec | null = null;
  private window = new CopyWindow(null);
  private stream: ChangeStream | null = null;
  private applier: ChangeApplier<string> | null = null;
  private applySql: PgApplySql | null = null;
  private markerSeq = 0;
  /** The old table's triggers this run disabled (enabled again by abort). */
  private triggers: TriggerState[] = [];
  private swapped = false;
  private readonly closer = new CloseOnce(() => this.pool.end().catch(() => undefined));

  constructor(private readonly ctx: { spec: ConnectionSpec; request: RevertRequest; log: Logger }) {
    const t = ctx.request.table;
    this.ghost = helperTables('postgres', t).ghost;
    this.pool = createPool(ctx.spec, 4, { application_name: 'ghostwright_revert' });
  }

  async prepare(): Promise<PreparedRevert> {
    return preparedRevert(await this.findTarget(), this);
  }

  /** What can be reverted, refused here if nothing can; changes nothing. */
  private async findTarget(): Promise<RevertTarget> {
    const t = this.ctx.request.table;
    const newShape = await inspectTable(this.pool, t);
    const found = await this.findPoint();
    const { point } = found;
    if (expired(point)) {
      const dropped = await endRevertWindow(this.pool, found);
      throw new RefusedError('E_REVERT_WINDOW', `the revert window of ${t.name} ended at ${point.expires} (cut-over at ${point.at}): ${dropped.length ? `dropped ${dropped.join(' and ')}` : 'its slot was already gone'}; the writes since the cut-over can no longer be read`, {
        hint: `revert with a forward ALTER instead; ${found.table.name} is kept (drop it with ghostwright cleanup --table ${t.schema}.${t.name} --drop-old-table --execute); give the next alter a longer --revert-window`,
      });
    }
    const slot = await slotState(this.pool, point.slot);
    if (!slot?.confirmedFlushLsn) {
      throw new RefusedError('E_REVERT_WINDOW', `the revert window of ${t.name} is gone: its replication slot ${point.slot} no longer exists, so the writes since the cut-over at ${point.at} can no longer be read`, {
        hint: `revert with a forward ALTER instead; ${cleanupCommand(t, false)} removes what is left of the window`,
      });
    }
    if (slot.active) throw new RefusedError('E_RUN_ACTIVE', `the slot ${point.slot} of the revert window of ${t.name} is in use (pid ${slot.activePid}): another revert is going on`, { hint: 'wait for it to finish, or stop it, then try again' });
    const [ghost] = await catalog(this.pool, `SELECT 1 FROM pg_class WHERE oid = to_regclass($1)`, [qualified(this.ghost)]);
    if (ghost) throw new RefusedError('E_LEFTOVER', `${this.ghost.name} exists (a ghost of an earlier run); the revert needs that name`, { hint: cleanupCommand(t, false) });
    const oldShape = await inspectTable(this.pool, found.table);
    const problems = revertShapeProblems(newShape, oldShape, same);
    if (problems.length) {
      throw new RefusedError('E_REVERT_SHAPE', `the old shape (${found.table.name}) can't hold the new table's rows: ${problems.map((p) => `${p.column}: ${p.reason}`).join('; ')}`, {
        hint: 'revert with a forward ALTER instead (ghostwright alter --alter "..."), after making the data fit the old shape',
        details: { columns: problems.map((p) => p.column) },
      });
    }
    const mapping = mapColumns(newShape, oldShape, new Map(), same);
    const plan = chooseSharedKey(newShape, oldShape, mapping, same);
    if (!plan) throw new RefusedError('E_NO_SHARED_KEY', `no PRIMARY KEY or NOT NULL UNIQUE key is shared by ${t.name} and ${found.table.name}`, { hint: 'revert with a forward ALTER instead' });
    const keyTypes = plan.sourceKey.map((k) => newShape.columns.find((c) => c.name === k)!.type);
    this.found = found;
    this.startLsn = slot.confirmedFlushLsn;
    this.oldShape = oldShape;
    this.spec = { original: t, ghost: found.table, pairs: mapping.pairs.map((p) => ({ source: p.source, target: p.target })), sourceKey: plan.sourceKey, targetKey: plan.targetKey, keyTypes, onlyTransientConflicts: uniqueIndexesKept(newShape, oldShape) };
    this.window = new CopyWindow(keyOrder(keyTypes.map(pgKeyKind)));
    return { oldTable: found.table.name, swappedAt: point.at, from: slot.confirmedFlushLsn, columns: mapping.pairs.map((p) => p.target), defaulted: mapping.added };
  }

  /** `_t_del`, else the newest `_t_<stamp>_del` (--timestamp-old-table), with its revert point. */
  private async findPoint(): Promise<FoundRevertPoint> {
    const t = this.ctx.request.table;
    const plain = helperTables('postgres', t).old.name;
    const ours = (name: string) => name === plain || isStampedOldTable('postgres', t.name, name, PG_MAX_IDENTIFIER_BYTES);
    const points = (await findRevertPoints(this.pool, t.schema)).filter((f) => ours(f.table.name) && f.point.table === t.name);
    const best = points.sort((a, b) => (a.point.at < b.point.at ? 1 : -1))[0];
    if (best) return best;
    const kept = await catalog<{ n: string }>(this.pool, `SELECT c.relname AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname LIKE '\\_%\\_del'`, [t.schema]);
    if (!kept.some((k) => ours(k.n))) {
      throw new RefusedError('E_REVERT_NO_OLD_TABLE', `no kept old table of ${t.name} (${plain}): nothing to revert to`, { hint: 'the cut-over dropped it (--ok-to-drop-table) or it was dropped since; revert with a forward ALTER instead' });
    }
    throw new RefusedError('E_REVERT_NO_WINDOW', `no revert window is kept for ${t.schema}.${t.name}: PostgreSQL keeps the writes since a cut-over only when that alter ran with --revert-window`, {
      hint: 'revert with a forward ALTER instead (ghostwright alter --alter "..."); next time, run the alter with --revert-window 1h',
    });
  }

  private need<T>(v: T | null, what: string): T {
    if (v === null) throw new GhostwrightError('E_STATE', `revert: ${what} before prepare()`);
    return v;
  }

  async startStream(): Promise<void> {
    const spec = this.need(this.spec, 'startStream');
    const { point } = this.need(this.found, 'startStream');
    const t = this.ctx.request.table;
    this.window.begin([{ after: null, upTo: null }], [{ through: null, done: true }]);
    this.triggers = await disableTriggers(this.pool, spec.ghost, this.ctx.request.cutOverLockTimeoutMs);
    // The changelog's heartbeats before the swap are positions, not data.
    const changelog = helperTables('postgres', t).changelog;
    const stream = new ChangeStream({ spec: this.ctx.spec, slot: point.slot, publication: point.publication, keyColumns: spec.sourceKey, ignoreTable: changelog, maxBacklog: this.ctx.request.maxBacklogEvents, startLsn: this.startLsn, log: this.ctx.log });
    this.stream = stream;
    try {
      await stream.start();
    } catch (err) {
      throw new GhostwrightError('E_STREAM', `cannot read the revert window's slot ${point.slot}: ${(err as Error).message}`, { cause: err });
    }
    this.applySql = new PgApplySql(this.pool, spec, this.ctx.log);
    this.applier = new ChangeApplier({ backlog: stream.queue, window: this.window, sql: this.applySql, log: this.ctx.log, idle: (ms) => stream.waitForActivity(ms), onError: () => stream.wake() });
    this.applier.start();
  }

  private throwIfFailed(): void {
    const err = this.stream?.error ?? this.applier?.error;
    if (err) throw err;
  }

  streamStats(): StreamStats {
    return { eventsApplied: this.stream?.eventsApplied ?? 0, backlog: this.stream?.backlog ?? 0, appliedPosition: this.stream?.position ?? '' };
  }

  /** A marker into the WAL, flushed (a walsender sends only flushed WAL), from its own autocommit transaction. */
  private async emitMarker(): Promise<string> {
    const id = `revert:${this.need(this.found, 'marker').point.slot}:${++this.markerSeq}`;
    await emitWalMarker(this.pool, id);
    return id;
  }

  /**
   * The slot may hold hours of WAL when the revert comes late in its window:
   * waiting goes on while the stream still receives changes, and gives up
   * after timeoutMs without any.
   */
  async waitCaughtUp(timeoutMs: number): Promise<void> {
    const stream = this.need(this.stream, 'waitCaughtUp');
    let seen = -1;
    while (seen !== stream.eventsReceived) {
      seen = stream.eventsReceived;
      try {
        return await this.waitMarker(timeoutMs);
      } catch (err) {
        if ((err as GhostwrightError).code !== 'E_CATCHUP_TIMEOUT') throw err;
        if (seen === stream.eventsReceived) throw err;
        this.ctx.log.info({ backlog: stream.backlog, applied: stream.eventsApplied }, 'revert: still catching up with the writes since the cut-over');
      }
    }
  }

  /** Everything committed before a marker emitted now is applied within timeoutMs. */
  private async waitMarker(timeoutMs: number): Promise<void> {
    const stream = this.need(this.stream, 'waitCaughtUp');
    this.throwIfFailed();
    const id = await this.emitMarker();
    await stream.waitFor(() => stream.markerApplied(id) || stream.error !== null || this.applier?.error != null, timeoutMs);
    this.throwIfFailed();
    const ok = stream.markerApplied(id);
    stream.forgetMarker(id);
    if (!ok) throw new GhostwrightError('E_CATCHUP_TIMEOUT', `the revert's stream did not catch up within ${timeoutMs} ms (backlog ${stream.backlog})`, { hint: 'the write load outpaces the apply; retry when it is lower' });
  }

  async openVerifyPoint(): Promise<VerifyPoint> {
    this.throwIfFailed();
    return openPgVerifyPoint({
      pool: this.pool,
      window: this.window,
      spec: this.need(this.spec, 'verify'),
      ghost: this.need(this.oldShape, 'verify'),
      stream: this.need(this.stream, 'verify'),
      applier: this.need(this.applier, 'verify'),
      applySql: this.need(this.applySql, 'verify'),
      markerTimeoutMs: 60_000,
      emitMarker: () => this.emitMarker(),
      waitCaughtUp: (ms) => this.waitCaughtUp(ms),
    });
  }

  async recopyRange(after: KeyTuple | null, through: KeyTuple): Promise<void> {
    this.throwIfFailed();
    await recopyPgRange({ pool: this.pool, window: this.window, spec: this.need(this.spec, 'recopy') }, after, through);
  }

  async cutOver(): Promise<CutOverResult> {
    this.throwIfFailed();
    const found = this.need(this.found, 'cutOver');
    const spec = this.need(this.spec, 'cutOver');
    const t = this.ctx.request.table;
    const { stallMs } = await cutOver({
      pool: this.pool,
      stream: this.need(this.stream, 'cutOver'),
      applier: this.need(this.applier, 'cutOver'),
      applySql: this.need(this.applySql, 'cutOver'),
      window: this.window,
      // A stamped kept table (--timestamp-old-table): the live table's indexes take its stamp, the names its own held.
      request: { table: t, alter: '', cutOverLockTimeoutMs: this.ctx.request.cutOverLockTimeoutMs, dropOldTable: false, maxBacklogEvents: this.ctx.request.maxBacklogEvents, ...stampOf(found.table.name, t.name) },
      original: t,
      ghost: this.ghost,
      // The new shape takes the kept table's name: it is free once beforeSwap moved that aside.
      old: found.table,
      publication: found.point.publication,
      // The old table kept its own foreign keys; the tables referencing t are re-pointed by the swap.
      ghostFks: [],
      columnMap: new Map(spec.pairs.map((p) => [p.source, p.target])),
      identityOverride: null,
      emitMarker: () => this.emitMarker(),
      ghostAnalyzed: null,
      beforeSwap: (a) => moveAside(a, found, this.ghost, t),
      log: this.ctx.log,
    });
    this.swapped = true;
    await this.stopStream();
    // The window has served: its slot must not retain WAL any longer.
    const dropped = await endRevertWindow(this.pool, found, { restoreComment: false, lockTimeoutMs: this.ctx.request.cutOverLockTimeoutMs }).catch((err: unknown) => {
      this.ctx.log.warn({ err, slot: found.point.slot }, `reverted, but dropping the revert window's slot failed: ${cleanupCommand(t, false)}`);
      return [];
    });
    this.ctx.log.info({ dropped }, 'revert: the revert window is closed');
    return { stallMs, oldTable: found.table.name };
  }

  async cleanup(): Promise<void> {
    await this.stopStream();
    await this.close();
  }

  /** Nothing was renamed outside the swap's transaction: the tables are as found (triggers enabled again), and the window stays open. */
  async abort(): Promise<void> {
    await this.stopStream();
    if (!this.swapped && this.triggers.length && this.spec) {
      await restoreTriggers(this.pool, this.spec.ghost, this.triggers, this.ctx.request.cutOverLockTimeoutMs).catch((err: unknown) =>
        this.ctx.log.warn({ err, triggers: this.triggers.map((t) => t.name) }, `revert abort: enable these triggers of ${this.spec!.ghost.name} again by hand`),
      );
    }
    await this.close();
  }

  private stopStream(): Promise<void> {
    return stopApplierAndStream(this.applier, this.stream);
  }

  private close(): Promise<void> {
    return this.closer.close();
  }
}
