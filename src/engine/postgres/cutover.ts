/**
 * The cut-over: ONE transaction on connection A.
 *
 *   SET LOCAL lock_timeout, client_connection_check_interval (see boundLockWait)
 *   LOCK TABLE t IN ACCESS EXCLUSIVE MODE
 *   -> every writer of t has committed (or waits behind us)
 *   emit a marker from ANOTHER connection; when the stream delivers it, every
 *   change committed before the lock has been received
 *   -> apply the remaining keys ON A (only A can read t now)
 *   -> rename t -> _t_del, _t_gho -> t, rebuild dependents (swap.ts)
 *   COMMIT: writers blocked on the lock proceed on the new table.
 *
 * Any failure rolls back: the original stays in place, untouched, and the
 * keys applied inside the rolled-back transaction are queued again. The
 * positions those keys complete are not acknowledged to the slot until the
 * COMMIT (ChangeStream.holdAcks): a crash after a rollback must find their
 * WAL still in the slot.
 *
 * Known effect on applications: a session that PREPARED a named statement
 * on the table (e.g. `SELECT *` through a driver's statement cache) gets
 * 0A000 "cached plan must not change result type" once after the swap when
 * the column list changed; re-executing works. Plain queries are unaffected.
 */
import type pg from 'pg';
import { GhostwrightError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { AlterRequest, CutOverResult, TableRef } from '../engine.js';
import type { ChangeApplier } from '../../core/change-applier.js';
import type { BacklogEntry } from '../../core/change-backlog.js';
import type { CopyWindow } from '../../core/copy-window.js';
import type { PgApplySql } from './apply.js';
import { boundLockWait, sqlState } from './connect.js';
import { readDependents } from './dependents.js';
import type { GhostFk } from './ghost.js';
import { qualified, quoteIdent } from './ident.js';
import type { ChangeStream } from './stream.js';
import { swap } from './swap.js';
import { catalog } from './connect.js';

export interface CutOverContext {
  pool: pg.Pool;
  stream: ChangeStream;
  applier: ChangeApplier<string>;
  applySql: PgApplySql;
  window: CopyWindow;
  request: AlterRequest;
  original: TableRef;
  ghost: TableRef;
  old: TableRef;
  publication: string;
  ghostFks: GhostFk[];
  columnMap: Map<string, string>;
  identityOverride: string | null;
  emitMarker: () => Promise<string>;
  /** ANALYZE of the ghost started while the stream caught up; true when it ran (no ANALYZE after the swap then). */
  ghostAnalyzed: Promise<boolean> | null;
  /** Inside the transaction, right before the renames (a revert moves the kept old table to the ghost's name). */
  beforeSwap?: (a: pg.ClientBase) => Promise<void>;
  /** Inside the transaction, after the renames (--revert-window: publish the new table, record the revert point). */
  afterSwap?: (a: pg.ClientBase) => Promise<void>;
  log: Logger;
}

/** How long, once locked, we wait for the stream to deliver the marker before giving up (writers are blocked meanwhile). */
const MARKER_WAIT_MS = 10_000;

export async function cutOver(ctx: CutOverContext): Promise<CutOverResult> {
  const { pool, stream, applier, request, original } = ctx;
  // It holds a lock on the ghost the rename would wait for.
  const analyzed = (await ctx.ghostAnalyzed) ?? false;
  if (!ctx.beforeSwap) await sendAutovacuumAway(ctx);
  await applier.hold(true);
  stream.holdAcks(true);
  const a = await pool.connect();
  const appliedHere: BacklogEntry[] = [];
  let truncatedHere = false;
  let lockedAt = 0;
  let stallMs = 0;
  let toValidate: [TableRef, string][] = [];
  try {
    await a.query('BEGIN');
    await boundLockWait(a, request.cutOverLockTimeoutMs);
    const [rel] = await catalog<{ oid: number }>(a, `SELECT $1::regclass::oid::int8 AS oid`, [qualified(original)]);
    // The ghost's lock before writers wait (see sendAutovacuumAway); the rename
    // takes it anyway, under the same lock_timeout. A revert's ghost name
    // exists only once beforeSwap has moved its table there.
    if (!ctx.beforeSwap) await a.query(`LOCK TABLE ${qualified(ctx.ghost)} IN ACCESS EXCLUSIVE MODE`);
    lockedAt = performance.now();
    await a.query(`LOCK TABLE ${qualified(original)} IN ACCESS EXCLUSIVE MODE`);
    const phases: Record<string, number> = { lockMs: performance.now() - lockedAt };
    const id = await ctx.emitMarker();
    const deadline = Date.now() + MARKER_WAIT_MS;
    const queue = stream.queue;
    while (!stream.markerApplied(id)) {
      if (stream.error) throw stream.error;
      if (Date.now() > deadline) throw new GhostwrightError('E_CUTOVER_CATCHUP_TIMEOUT', `the stream did not deliver the cut-over marker within ${MARKER_WAIT_MS} ms`, { hint: 'retry the cut-over when the backlog is smaller' });
      // markerReceived is read right before the queue is taken (synchronously).
      const final = stream.markerReceived(id);
      const batch = queue.take(Number.MAX_SAFE_INTEGER);
      if (!batch.entries.length && !batch.truncate) {
        await stream.waitFor(() => stream.markerApplied(id) || queue.size > 0 || queue.hasTruncate || stream.error !== null, 100);
        continue;
      }
      // The copy is done: every key is written now, on A (only A can read t).
      let ok = false;
      await applier.applyBatch(batch, async (w) => (ok = await ctx.applySql.applyLocked(a, w, final)));
      if (ok) {
        appliedHere.push(...batch.entries);
        truncatedHere ||= batch.truncate;
      } else {
        // A unique collision before the marker: a row that gave its value away
        // may still hold it in the ghost until its own change is received.
        await stream.waitFor(() => stream.markerReceived(id) || stream.error !== null, Math.max(1, deadline - Date.now()));
      }
    }
    stream.forgetMarker(id);
    phases.catchUpMs = performance.now() - lockedAt - phases.lockMs!;
    const deps = await readDependents(a, rel!.oid, ctx.publication, ctx.identityOverride);
    await ctx.beforeSwap?.(a);
    const res = await swap(a, { original, ghost: ctx.ghost, old: ctx.old, oldTableStamp: ctx.request.oldTableStamp, deps, ghostFks: ctx.ghostFks, columnMap: ctx.columnMap });
    toValidate = res.toValidate;
    for (const w of res.warnings) ctx.log.warn(w);
    await ctx.afterSwap?.(a);
    phases.swapMs = performance.now() - lockedAt - phases.lockMs! - phases.catchUpMs!;
    await a.query('COMMIT');
    stallMs = performance.now() - lockedAt;
    stream.holdAcks(false);
    ctx.log.info({ ...Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, Math.round(v)])), stallMs: Math.round(stallMs), keysAppliedUnderLock: appliedHere.length }, 'cut-over committed');
  } catch (err) {
    await a.query('ROLLBACK').catch(() => undefined);
    // Rolled back: what A applied is pending again, a TRUNCATE too (it empties the ghost before those keys).
    if (truncatedHere) stream.queue.truncate();
    stream.queue.redo(appliedHere);
    stream.holdAcks(false);
    await applier.hold(false);
    if (sqlState(err) === '55P03') {
      throw new GhostwrightError('E_CUTOVER_LOCK_TIMEOUT', `could not lock ${original.schema}.${original.name} within ${request.cutOverLockTimeoutMs} ms`, {
        hint: 'a long transaction holds a lock on the table; retry, or raise --cut-over-lock-timeout',
        cause: err,
      });
    }
    if (err instanceof GhostwrightError) throw err;
    throw new GhostwrightError('E_CUTOVER', `cut-over failed, the original table is unchanged: ${(err as Error).message}`, { cause: err });
  } finally {
    a.release();
  }
  await afterCommit(ctx, toValidate, analyzed);
  let oldTable: string | null = ctx.old.name;
  if (request.dropOldTable) {
    try {
      // RESTRICT: if anything we did not carry still depends on the old table, keep it.
      await pool.query(`DROP TABLE ${qualified(ctx.old)}`);
      oldTable = null;
    } catch (err) {
      ctx.log.warn({ err }, `kept ${ctx.old.name}: something still depends on it`);
    }
  }
  return { stallMs, oldTable };
}

/**
 * After 1M inserts autovacuum is often vacuuming the ghost, and a lock request
 * on it cancels that only after deadlock_timeout (1 s): inside the stall, that
 * was the swap's rename (measured under pgbench: swap 1089 ms of a 1254 ms
 * stall, "canceling autovacuum task" on the ghost). A brief lock of the ghost
 * sends it away first, the applier still running; then the changes that came
 * meanwhile are applied before the applier is held, so few are left for the
 * lock. Best effort: the cut-over's own locks still decide.
 */
async function sendAutovacuumAway(ctx: CutOverContext): Promise<void> {
  const c = await ctx.pool.connect();
  try {
    await c.query('BEGIN');
    await boundLockWait(c, Math.max(ctx.request.cutOverLockTimeoutMs, 2000));
    await c.query(`LOCK TABLE ${qualified(ctx.ghost)} IN ACCESS EXCLUSIVE MODE`);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    ctx.log.debug({ err }, 'the ghost could not be locked ahead of the cut-over');
  } finally {
    c.release();
  }
  const id = await ctx.emitMarker();
  await ctx.stream.waitFor(() => ctx.stream.markerApplied(id) || ctx.stream.error !== null, MARKER_WAIT_MS);
  ctx.stream.forgetMarker(id);
}

/** Outside the lock: validate the foreign keys added NOT VALID, and refresh the planner's statistics unless the ghost had them. */
async function afterCommit(ctx: CutOverContext, toValidate: [TableRef, string][], analyzed: boolean): Promise<void> {
  for (const [table, name] of toValidate) {
    try {
      await ctx.pool.query(`ALTER TABLE ${qualified(table)} VALIDATE CONSTRAINT ${quoteIdent(name)}`);
    } catch (err) {
      ctx.log.warn({ err, constraint: name }, 'foreign key left NOT VALID: validation failed');
    }
  }
  if (!analyzed) await ctx.pool.query(`ANALYZE ${qualified(ctx.original)}`).catch((err: unknown) => ctx.log.warn({ err }, 'ANALYZE failed'));
}
