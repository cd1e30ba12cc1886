/**
 * The atomic swap on MySQL/MariaDB. MariaDB refuses RENAME TABLE in a session
 * holding LOCK TABLES (error 1192), so two sessions, as in gh-ost's "sentry"
 * cut-over (DESIGN §2), with two corrections we measured:
 *
 * 1. RENAME TABLE takes its exclusive metadata locks one by one, in the byte
 *    order of the names. The writers queued on `t` must find the rename's
 *    exclusive request already pending on `t` when A lets go, or they go
 *    first and write into the OLD table. With gh-ost's names a lowercase `t`
 *    sorts after `_t_del` and `_t_gho`, so a rename blocked on either of
 *    those (A's sentry lock, or merely InnoDB purge holding a shared lock on
 *    the ghost for a moment) has no request on `t` yet: lost writes,
 *    reproduced 3/3 and in ~1 run in 2 under load. So the ghost's name sorts
 *    after `t` (`t_gho`, core/names.ts), `_t_del` does not exist, and the
 *    rename's first wait is on `t` itself.
 *
 * 2. A holds `LOCK TABLES t WRITE, t_gho WRITE`, not READ: a READ lock lets a
 *    transaction that has only read `t` keep its shared lock and write after
 *    A lets go. WRITE waits those out. A then applies the last changes itself
 *    (the applier re-reads `t`, which only A can now), with autocommit off, as
 *    START TRANSACTION would drop the locks; carries AUTO_INCREMENT over; and
 *    only then is B's rename issued. B starts once the ghost is complete and
 *    `t` frozen, so A dying at any point can't swap in an incomplete ghost:
 *    no sentry table is needed.
 */
import type { Pool, Connection } from 'mysql2/promise';
import type { ConnectionSpec } from '../../connection.js';
import type { Logger } from '../../log.js';
import { GhostwrightError } from '../../errors.js';
import type { CopyWindow } from '../../core/copy-window.js';
import type { ChangeApplier } from '../../core/change-applier.js';
import type { TableRef } from '../engine.js';
import { qualified } from './ident.js';
import { buildLockTables, buildRename } from './sql.js';
import { comparePositions, currentBinlogPosition, openConnection, queryRows, ROW_SESSION_SETUP, type BinlogPosition } from './connect.js';
import type { BinlogStream } from './stream.js';
import type { MysqlApplySql } from './apply.js';

export interface CutOverContext {
  spec: ConnectionSpec;
  pool: Pool;
  original: TableRef;
  ghost: TableRef;
  /** The name the original gets: `_t_del`. */
  oldName: TableRef;
  stream: BinlogStream;
  applier: ChangeApplier<BinlogPosition>;
  applySql: MysqlApplySql;
  /** The copy key has a TIMESTAMP column: A binds key values in UTC, as the pool's sessions do. */
  utc: boolean;
  window: CopyWindow;
  lockTimeoutMs: number;
  log: Logger;
}

type Settled = { ok: true } | { ok: false; err: unknown };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function lockTimeout(what: string, cause?: unknown): GhostwrightError {
  return new GhostwrightError('E_CUTOVER_LOCK_TIMEOUT', `cut-over: ${what}; the original table is untouched`, {
    cause,
    hint: 'long transactions or queries hold the table; retry, raise --cut-over-lock-timeout, or postpone the cut-over',
  });
}

function isLockTimeout(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === 'ER_LOCK_WAIT_TIMEOUT' || code === 'ER_LOCK_DEADLOCK';
}

/** Runs one cut-over attempt. Resolves with the stall; throws with the original in place. */
export async function cutOverTables(ctx: CutOverContext): Promise<{ stallMs: number }> {
  const seconds = Math.max(1, Math.ceil(ctx.lockTimeoutMs / 1000));
  const a = await openConnection(ctx.spec);
  const b = await openConnection(ctx.spec);
  // Both sessions get a short lock wait (the server default is a day). B waits
  // on A's lock for at most the rest of A's hold, which is capped below.
  await a.query('SET SESSION lock_wait_timeout = ?', [seconds]);
  // A applies the last changes as the pool's sessions do, in one transaction per batch.
  for (const q of [...ROW_SESSION_SETUP, ...(ctx.utc ? ["SET SESSION time_zone = '+00:00'"] : []), 'SET SESSION autocommit = 0']) await a.query(q);
  await b.query('SET SESSION lock_wait_timeout = ?', [seconds * 2 + 1]);
  ctx.stream.allowDdl = true;
  await ctx.applier.hold(true);
  let swapped = false;
  try {
    // Exclusive: no chunk copy and no background apply runs from here on.
    const result = await ctx.window.exclusive(() => attempt(ctx, a, b));
    swapped = true;
    return result;
  } finally {
    // After a swap the stream is about to stop and will see our RENAME: keep allowing it.
    if (!swapped) {
      ctx.stream.allowDdl = false;
      // The attempt failed and the original stays: the background apply resumes during the backoff.
      await ctx.applier.hold(false);
    }
    await a.end().catch(() => undefined);
    await b.end().catch(() => undefined);
  }
}

async function attempt(ctx: CutOverContext, a: Connection, b: Connection): Promise<{ stallMs: number }> {
  const { original, ghost, oldName, pool, log } = ctx;
  let locked = false;
  let renamed: Promise<Settled> | null = null;
  let settled: Settled | null = null;
  const t0 = Date.now();
  const deadline = t0 + ctx.lockTimeoutMs;
  try {
    try {
      await a.query(buildLockTables([original, ghost]).sql);
    } catch (err) {
      if (isLockTimeout(err)) throw lockTimeout('could not lock the table in time', err);
      throw err;
    }
    locked = true;
    const lockedAt = Date.now();
    // No other transaction touches the table now (the lock waited them out),
    // so everything to apply is in the binlog before this position.
    const target = await currentBinlogPosition(pool);
    while (comparePositions(ctx.stream.queue.received, target) < 0) {
      if (ctx.stream.error) throw ctx.stream.error;
      await ctx.applier.drain((w) => ctx.applySql.applyOn(a, w, true));
      if (Date.now() > deadline) throw new GhostwrightError('E_CUTOVER_CATCHUP_TIMEOUT', 'cut-over: the stream did not catch up under the lock in time; the original table is untouched', { hint: 'retry the cut-over when the backlog is smaller' });
      await ctx.stream.waitForActivity(10);
    }
    await ctx.applier.drain((w) => ctx.applySql.applyOn(a, w, true));
    if (ctx.stream.error) throw ctx.stream.error;
    const drainedAt = Date.now();
    await carryAutoIncrement(a, original, ghost);
    // The ghost is complete: commit it before the rename is issued (COMMIT keeps LOCK TABLES' locks).
    await a.query('COMMIT');
    const carriedAt = Date.now();
    renamed = b.query(buildRename([[original, oldName], [ghost, original]]).sql).then(
      (): Settled => ({ ok: true }),
      (err: unknown): Settled => ({ ok: false, err }),
    );
    void renamed.then((s) => (settled = s));
    // B must be queued on the table's metadata lock before A lets go, or the
    // writers would go first. `_t_del` does not exist and the ghost sorts
    // after `t`, so a rename waiting on a metadata lock waits on `t`.
    for (;;) {
      if (settled) {
        const err = (settled as { err?: unknown }).err;
        throw new GhostwrightError('E_CUTOVER', `cut-over: the rename failed early: ${(err as Error)?.message ?? 'unknown'}; the original table is untouched`, { cause: err });
      }
      const rows = await queryRows(pool, 'SELECT STATE FROM information_schema.PROCESSLIST WHERE ID = ?', [b.threadId]);
      if (/metadata lock/i.test(String(rows[0]?.STATE ?? ''))) break;
      if (Date.now() > deadline) throw lockTimeout('the rename was not seen waiting in time');
      await sleep(2);
    }
    // From here the rename goes through as soon as A lets go: its result is the truth.
    locked = false;
    await a.query('UNLOCK TABLES').catch((e: unknown) => log.warn({ err: e }, 'cut-over: UNLOCK failed (the session ended, its lock with it)'));
    const result = await renamed;
    const stallMs = Date.now() - t0;
    if (!result.ok) {
      if (isLockTimeout(result.err)) throw lockTimeout('the rename timed out', result.err);
      throw new GhostwrightError('E_CUTOVER', `cut-over rename failed: ${(result.err as Error)?.message}; the original table is untouched`, { cause: result.err });
    }
    // Where the stall went: waiting for the lock, the last changes, the counter, the rename.
    log.info({ stallMs, lockWaitMs: lockedAt - t0, drainMs: drainedAt - lockedAt, autoIncrementMs: carriedAt - drainedAt, renameMs: Date.now() - carriedAt }, 'cut-over: tables swapped');
    return { stallMs };
  } catch (err) {
    // A pending rename is killed before A lets go. Should the kill miss, the
    // rename would still be correct: the ghost was complete when it started.
    if (renamed && !settled) await pool.query('KILL QUERY ?', [b.threadId]).catch(() => undefined);
    if (renamed) await Promise.race([renamed, sleep(5000)]);
    if (locked) {
      await a.query('ROLLBACK').catch(() => undefined);
      await a.query('UNLOCK TABLES').catch(() => undefined);
    }
    if (renamed && (await renamed).ok) {
      log.warn({ err }, 'cut-over: the rename completed despite the error; the swap is done');
      return { stallMs: Date.now() - t0 };
    }
    throw err;
  }
}

/**
 * The ghost's AUTO_INCREMENT counter only knows the ids copied into it; the
 * original's may be higher (rows deleted at the top): carry it over so no id
 * is handed out twice. SHOW CREATE TABLE prints the live counter (MySQL 8
 * caches information_schema.TABLES.AUTO_INCREMENT). Setting it is a
 * metadata-only change on the ghost, allowed under A's LOCK TABLES (it
 * commits A's applied changes, which are complete by then); it is skipped
 * when the ghost's counter is already as high.
 */
async function carryAutoIncrement(conn: Connection, original: TableRef, ghost: TableRef): Promise<void> {
  const counter = async (t: TableRef) => /\bAUTO_INCREMENT=(\d+)/.exec(String((await queryRows(conn, `SHOW CREATE TABLE ${qualified(t)}`))[0]?.['Create Table'] ?? ''))?.[1];
  const theirs = await counter(original);
  if (!theirs) return;
  // Usually the ghost's counter is there already (the same ids went into it): then no DDL inside the stall.
  const mine = await counter(ghost);
  if (mine !== undefined && BigInt(mine) >= BigInt(theirs)) return;
  // DDL takes no parameters; the value is digits only (re-printed through BigInt).
  await conn.query(`ALTER TABLE ${qualified(ghost)} AUTO_INCREMENT = ${BigInt(theirs).toString()}`);
}

/**
 * One swap attempt for a running migration or revert. On failure the
 * applier resumes (the original stays, the stream goes on). On success
 * `swapped` runs at once (the ghost IS the table now: nothing may drop it),
 * then the applier and the stream stop: events from now on belong to the
 * new table. Returns how long writers were blocked, ms.
 */
export async function swapAndStopStream(ctx: CutOverContext, swapped: () => void): Promise<number> {
  let stallMs: number;
  try {
    ({ stallMs } = await cutOverTables(ctx));
  } catch (err) {
    await ctx.applier.hold(false);
    throw err;
  }
  swapped();
  await ctx.applier.stop();
  await ctx.stream.stop();
  ctx.stream.queue.clear();
  return stallMs;
}
