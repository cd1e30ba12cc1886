/**
 * The PostgreSQL SQL of the engine-neutral applier (core/change-applier.ts):
 * for a batch of distinct keys, delete them from the ghost and insert the
 * current rows of those still in the original, read by SQL (rows never leave
 * the server: exact types by construction). Replaying a batch is harmless.
 *
 * Visibility: unlike MySQL's binlog, a change decoded from the WAL is
 * COMMITTED (pgoutput sends a transaction once its commit record is
 * flushed). It may still be a moment away from being VISIBLE to other
 * snapshots: the committing backend leaves the proc array after the flush,
 * and waits for synchronous standbys first. Reading its keys too early would
 * see the old row and lose the change. So a batch first polls the current
 * snapshot until it includes every transaction (xid) of the batch; from
 * then on every later snapshot does too. Only then are the keys the copy had
 * not reached placed (settle): a chunk that claims them later takes its
 * snapshot after this point and sees the commit. The batch then runs at
 * READ COMMITTED: its DELETE and INSERT each take a snapshot after the
 * check and after settle, so they also see a chunk that finished meanwhile.
 *
 * In place, set-based (sql.ts): delete the keys gone from the original,
 * UPDATE the others from the original (HOT when no indexed column changed),
 * insert the keys the ghost lacks; three statements per batch, whatever its
 * size. Joins are pinned to nested loops over the keys' index probes: from
 * a few thousand keys on, the planner (which now sees the key array's
 * length) prefers a hash join over a sequential scan of the whole original
 * and ghost, measured 10x slower on 200k rows (and worse the bigger the
 * table). A unique violation (rows of the batch swapped values of another
 * unique key) retries the batch in replace mode: delete every key, then
 * insert the current rows. One left after that (a row whose own change is
 * not applied yet still holds the value in the ghost) rolls the batch back;
 * it is retried with the whole backlog until UNIQUE_RETRY_MS, then it is
 * real.
 */
import type pg from 'pg';
import type { ApplySql, ApplyWork } from '../../core/change-applier.js';
import { GhostwrightError, isConnectionLost } from '../../errors.js';
import type { Logger } from '../../log.js';
import { SESSION_LOSS_RETRIES, sessionLostServerUp, sqlState } from './connect.js';
import { qualified } from './ident.js';
import { applyDeleteSql, applyInsertSql, applyRemoveSql, applyUpdateSql, type CopySpec } from './sql.js';

/** Keys per batch: large, so the per-batch round trips (~5) vanish beside the set-based statements. */
export const APPLY_BATCH = 5000;
/** A unique violation on another key that lasts this long is real (the data breaks a constraint the ALTER added). */
const UNIQUE_RETRY_MS = 30_000;
const VISIBLE_WAIT_MS = 30_000;
/** Transaction-local: the apply's joins probe the keys' indexes (see the header). */
const KEY_PROBES_ONLY = 'SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off';

/** True when every 32-bit xid is visible in a snapshot printed as 'xmin:xmax:xip,...' (xid8 values). */
export function xidsVisible(snapshot: string, xids: readonly number[]): boolean {
  const [, xmaxText, xipText] = snapshot.split(':');
  const xmax = Number(BigInt(xmaxText ?? '0') & 0xffffffffn);
  const running = new Set((xipText ?? '').split(',').filter(Boolean).map((x) => Number(BigInt(x) & 0xffffffffn)));
  for (const xid of xids) {
    if (xid === 0) continue;
    // modulo-2^32 comparison, as the server compares xids: xid precedes xmax
    const diff = (xmax - xid) >>> 0;
    if (diff === 0 || diff >= 0x80000000 || running.has(xid)) return false;
  }
  return true;
}

export class PgApplySql implements ApplySql {
  private uniqueFailingSince: number | null = null;
  /** Batches redone in a row after their session was ended (connect.ts sessionLostServerUp). */
  private lostSessions = 0;
  /** For the run's stats: batches retried on a unique violation, and the time spent waiting for commits to become visible. */
  readonly retries = { lockRetries: 0, dupRetries: 0, visibleWaitMs: 0 };

  constructor(
    private readonly pool: pg.Pool,
    private readonly spec: CopySpec,
    private readonly log: Logger,
    /** When the server started (connect.ts sessionLostServerUp); null: a lost session fails the batch. */
    private readonly serverStart: string | null = null,
  ) {}

  /** The batch's first step alone: every xid's commit visible to new snapshots (core/change-applier.ts pruneAhead). */
  async visible(tokens: readonly number[]): Promise<void> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await waitVisible(client, tokens);
    } catch (err) {
      if (isConnectionLost(err)) broken = err as Error;
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /** After a unique violation, take everything: the row that frees the value is likely queued too. */
  batchSize(): number {
    return this.uniqueFailingSince !== null ? APPLY_BATCH * 20 : APPLY_BATCH;
  }

  async apply(work: ApplyWork): Promise<boolean> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      const t0 = Date.now();
      await waitVisible(client, work.tokens);
      this.retries.visibleWaitMs += Date.now() - t0;
      const keys = work.ahead.length ? [...work.write, ...work.settle()] : work.write;
      // One round trip (simple protocol): see the header for the join settings.
      await client.query(`BEGIN; ${KEY_PROBES_ONLY}; SAVEPOINT gw_apply`);
      try {
        await this.write(client, keys, work, this.uniqueFailingSince !== null);
      } catch (err) {
        if (sqlState(err) !== '23505' || this.uniqueFailingSince !== null) throw err;
        this.retries.dupRetries++;
        await client.query('ROLLBACK TO SAVEPOINT gw_apply');
        await this.write(client, keys, work, true);
      }
      await client.query('COMMIT');
      this.uniqueFailingSince = null;
      this.lostSessions = 0;
      return true;
    } catch (err) {
      // The session was ended (pg_terminate_backend) with the server up: the
      // transaction rolled back (or its COMMIT went through unseen, and
      // applying it again is harmless); the batch is retried on a new session.
      if (isConnectionLost(err)) broken = err as Error;
      if (this.serverStart !== null && this.lostSessions < SESSION_LOSS_RETRIES && (await sessionLostServerUp(this.pool, err, this.serverStart))) {
        this.lostSessions++;
        this.log.warn({ err }, 'apply: connection lost; retrying the batch');
        return false;
      }
      await client.query('ROLLBACK').catch(() => undefined);
      return this.failed(err);
    } finally {
      client.release(broken);
    }
  }

  /**
   * Applies one batch on the cut-over's connection, inside its transaction
   * (a savepoint undoes it alone). No visibility wait: that connection holds
   * ACCESS EXCLUSIVE on the original, which every writer released only after
   * leaving the proc array, so all of their commits are visible. `final`:
   * every change committed before the lock is received (the marker came), so
   * a unique violation is real and throws; before that it may be a row whose
   * change is still on its way: false, wait for the marker.
   */
  async applyLocked(client: pg.ClientBase, work: ApplyWork, final: boolean): Promise<boolean> {
    const keys = work.ahead.length ? [...work.write, ...work.settle()] : work.write;
    await client.query('SAVEPOINT gw_apply');
    for (const replace of [false, true]) {
      try {
        await client.query(KEY_PROBES_ONLY);
        await this.write(client, keys, work, replace);
        // The swap's own statements plan as usual (a rollback to the savepoint undoes the settings too).
        await client.query('RESET enable_hashjoin; RESET enable_mergejoin; RELEASE SAVEPOINT gw_apply');
        return true;
      } catch (err) {
        await client.query('ROLLBACK TO SAVEPOINT gw_apply');
        if (sqlState(err) !== '23505') throw err;
        if (replace && final) throw err;
      }
    }
    await client.query('RELEASE SAVEPOINT gw_apply');
    return false;
  }

  private async write(client: pg.ClientBase, keys: readonly (readonly unknown[])[], work: ApplyWork, replace: boolean): Promise<void> {
    // TRUNCATE of the original: empty the ghost; keys received since then
    // are in this batch or later ones and re-read from the original.
    if (work.truncate) await client.query(`TRUNCATE ${qualified(this.spec.ghost)}`);
    if (!keys.length) return;
    // work.copied (keys JavaScript can't order): read only keys the copy passed; the copy reads the others.
    const steps = replace
      ? [applyRemoveSql(this.spec, keys), applyInsertSql(this.spec, keys, work.copied)]
      : [applyDeleteSql(this.spec, keys), applyUpdateSql(this.spec, keys, work.copied), applyInsertSql(this.spec, keys, work.copied, true)];
    for (const q of steps) if (q) await client.query(q.sql, q.params);
  }

  private async failed(err: unknown): Promise<false> {
    if (sqlState(err) !== '23505') {
      if (err instanceof GhostwrightError) throw err;
      throw new GhostwrightError('E_APPLY', `applying changes to the ghost failed: ${(err as Error).message}`, { cause: err });
    }
    this.retries.dupRetries++;
    this.uniqueFailingSince ??= Date.now();
    if (Date.now() - this.uniqueFailingSince >= UNIQUE_RETRY_MS) {
      throw new GhostwrightError('E_APPLY_UNIQUE', `applying changes violates a unique constraint of the new table for ${UNIQUE_RETRY_MS / 1000} s: ${(err as Error).message}`, {
        cause: err,
        hint: 'the data breaks a unique constraint the ALTER adds; fix the data or the ALTER',
      });
    }
    this.log.debug({ err }, 'unique violation while applying; retrying with the whole backlog');
    await new Promise((r) => setTimeout(r, 20));
    return false;
  }
}

/** Polls snapshots (READ COMMITTED, outside a transaction) until every xid is visible. */
async function waitVisible(client: pg.ClientBase, xids: readonly number[]): Promise<void> {
  if (!xids.some((x) => x !== 0)) return;
  const deadline = Date.now() + VISIBLE_WAIT_MS;
  for (;;) {
    const snap = await client.query<{ s: string }>('SELECT pg_current_snapshot()::text AS s');
    if (xidsVisible(snap.rows[0]!.s, xids)) return;
    if (Date.now() > deadline) throw new GhostwrightError('E_APPLY', `committed transactions did not become visible within ${VISIBLE_WAIT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
