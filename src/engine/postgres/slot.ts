/**
 * The run's logical replication slot: created, looked up on resume, dropped.
 *
 * The slot is PERSISTENT (pg_create_logical_replication_slot without
 * `temporary`): it survives a kill -9 of the tool and a restart of the
 * server, and keeps the WAL of every change after its confirmed_flush_lsn,
 * which only moves when the stream acknowledges a commit whose every key was
 * applied (stream.ts). That confirmed position is where a resumed run's
 * stream restarts. The price: an abandoned slot retains WAL forever, so every
 * exit path that is not "keep for --resume" drops it, and `cleanup` sweeps it.
 */
import type pg from 'pg';
import { GhostwrightError } from '../../errors.js';
import { catalog, sqlState, whileInUse } from './connect.js';

/**
 * Creates the slot, which waits until every transaction that holds an xid
 * now has ended. One left open (an idle session in a transaction) would
 * hold the migration forever: after timeoutMs it fails, naming them.
 * Returns the slot's consistent point.
 */
export async function createSlot(pool: pg.Pool, slot: string, timeoutMs: number): Promise<string> {
  const client = await pool.connect();
  try {
    await client.query(`SELECT set_config('statement_timeout', $1, false)`, [`${timeoutMs}ms`]);
    const res = await client.query<{ lsn: string }>(`SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
    return res.rows[0]!.lsn;
  } catch (err) {
    if (sqlState(err) !== '57014') throw err;
    const open = await catalog<{ pid: number; since: string; state: string }>(
      pool,
      `SELECT pid, xact_start::text AS since, state FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() ORDER BY xact_start LIMIT 5`,
    );
    const who = open.map((o) => `pid ${o.pid} (${o.state}, in a transaction since ${o.since})`).join(', ');
    throw new GhostwrightError('E_STREAM_START', `the replication slot could not be created within ${timeoutMs / 1000} s: it waits for transactions already running to end${who ? `: ${who}` : ''}`, {
      cause: err,
      hint: 'end or commit those transactions (pg_terminate_backend(pid) if they are abandoned) and rerun, or raise --stream-start-timeout',
    });
  } finally {
    await client.query(`SELECT set_config('statement_timeout', '0', false)`).catch(() => undefined);
    client.release();
  }
}

/** Drops the slot if it exists; waits while a walsender that just ended still holds it. */
export async function dropSlot(pool: pg.Pool, slot: string): Promise<void> {
  await whileInUse(() => pool.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, [slot]));
}

export interface SlotState {
  active: boolean;
  activePid: number | null;
  confirmedFlushLsn: string | null;
  plugin: string;
  database: string;
}

/** The slot as the server sees it, or null when it does not exist. */
export async function slotState(db: pg.Pool | pg.ClientBase, slot: string): Promise<SlotState | null> {
  const [s] = await catalog<SlotState>(
    db,
    `SELECT active, active_pid AS "activePid", confirmed_flush_lsn::text AS "confirmedFlushLsn", plugin::text AS plugin, database::text AS database
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  return s ?? null;
}

/**
 * Waits until no walsender holds the slot. After a kill -9 of the tool its
 * walsender sees the closed socket and exits within moments; one still
 * streaming after `timeoutMs` belongs to a run that is alive.
 */
export async function waitSlotReleased(db: pg.Pool, slot: string, timeoutMs: number): Promise<SlotState | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await slotState(db, slot);
    if (!s || !s.active || Date.now() > deadline) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
}
