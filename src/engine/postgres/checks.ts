/**
 * Server readiness checks shared by `doctor` and the online ALTER's preflight.
 * Each check has a stable id and, on failure, the exact fix.
 */
import type pg from 'pg';
import { redactedUrl, type ConnectionSpec } from '../../connection.js';
import { SLOT_PREFIX } from '../../core/names.js';
import type { CheckResult } from '../engine.js';
import { catalog, createPool } from './connect.js';
import { quoteIdent } from './ident.js';
import { findRevertPoints } from './revert-point.js';

export const MIN_VERSION_NUM = 140000;

export interface ServerFacts {
  version: string;
  versionNum: number;
  walLevel: string;
  maxSlots: number;
  usedSlots: number;
  maxSenders: number;
  usedSenders: number;
  replication: boolean;
  user: string;
  schema: string;
}

export async function serverFacts(db: pg.Pool | pg.ClientBase): Promise<ServerFacts> {
  const [f] = await catalog<ServerFacts>(
    db,
    `SELECT current_setting('server_version') AS "version", current_setting('server_version_num')::int AS "versionNum",
            current_setting('wal_level') AS "walLevel",
            current_setting('max_replication_slots')::int AS "maxSlots", (SELECT count(*) FROM pg_replication_slots)::int AS "usedSlots",
            current_setting('max_wal_senders')::int AS "maxSenders",
            (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender')::int AS "usedSenders",
            (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user) AS "replication",
            current_user AS "user", current_schema() AS "schema"`,
  );
  return f!;
}

const check = (id: string, title: string, ok: boolean, detail: string, fix?: string, severity: 'error' | 'warn' = 'error'): CheckResult =>
  ok || fix === undefined ? { id, title, ok, severity, detail } : { id, title, ok, severity, detail, fix };

/** Settings and privileges the stream needs: wal_level, a free slot and sender, REPLICATION, CREATE in the schema. */
export async function serverChecks(db: pg.Pool | pg.ClientBase, schema: string | null): Promise<CheckResult[]> {
  const f = await serverFacts(db);
  const targetSchema = schema ?? f.schema;
  const [priv] = await catalog<{ create: boolean | null }>(db, `SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) THEN has_schema_privilege($1, 'CREATE') END AS "create"`, [targetSchema]);
  return [
    check('pg-version', 'PostgreSQL version', f.versionNum >= MIN_VERSION_NUM, `server_version=${f.version}`, 'upgrade to PostgreSQL 14 or later (pgoutput messages are needed for catch-up markers)'),
    check('wal-level', 'WAL level', f.walLevel === 'logical', `wal_level=${f.walLevel}`, 'wal_level = logical in postgresql.conf, then restart (or ALTER SYSTEM SET wal_level = logical; then restart)'),
    check('replication-slots', 'Free replication slot', f.maxSlots - f.usedSlots >= 1, `max_replication_slots=${f.maxSlots}, in use ${f.usedSlots}`, `max_replication_slots = ${f.usedSlots + 4} in postgresql.conf, then restart`),
    check('wal-senders', 'Free WAL sender', f.maxSenders - f.usedSenders >= 1, `max_wal_senders=${f.maxSenders}, in use ${f.usedSenders}`, `max_wal_senders = ${f.usedSenders + 4} in postgresql.conf, then restart`),
    check('replication-privilege', 'REPLICATION privilege', f.replication === true, `user ${f.user} ${f.replication ? 'has' : 'lacks'} REPLICATION`, `ALTER ROLE ${quoteIdent(f.user)} REPLICATION;`),
    check('create-privilege', `CREATE on schema ${targetSchema}`, priv?.create === true, priv?.create === null ? `schema ${targetSchema} does not exist` : `user ${f.user} ${priv?.create ? 'may' : 'may not'} create tables in ${targetSchema}`, `GRANT CREATE ON SCHEMA ${quoteIdent(targetSchema)} TO ${quoteIdent(f.user)};`),
  ];
}

export interface SlotRow {
  name: string;
  active: boolean;
  retained: number | null;
}

export async function ourSlots(db: pg.Pool | pg.ClientBase): Promise<SlotRow[]> {
  return catalog<SlotRow>(
    db,
    `SELECT slot_name AS name, active, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 AS retained
       FROM pg_replication_slots WHERE starts_with(slot_name::text, $1) ORDER BY 1`,
    [SLOT_PREFIX],
  );
}

export const dropSlotFix = (name: string): string => `SELECT pg_drop_replication_slot('${name.replace(/'/g, "''")}');`;

/** Leftover slots of ours: an inactive one retains WAL forever (one kept for alter --revert is revert-window-check.ts's). */
export async function leftoverSlotCheck(db: pg.Pool | pg.ClientBase): Promise<CheckResult> {
  const kept = await revertSlotNames(db);
  const inactive = (await ourSlots(db)).filter((s) => !s.active && !kept.has(s.name));
  return check(
    'leftover-slots',
    'Leftover ghostwright replication slots',
    inactive.length === 0,
    inactive.length ? inactive.map((s) => `${s.name} (inactive, retains ${s.retained ?? 0} bytes of WAL)`).join('; ') : 'none',
    inactive.map((s) => dropSlotFix(s.name)).join(' '),
    'warn',
  );
}

/** Slots kept on purpose after a cut-over, for alter --revert (revert-point.ts). */
export async function revertSlotNames(db: pg.Pool | pg.ClientBase): Promise<Set<string>> {
  return new Set((await findRevertPoints(db)).map((p) => p.point.slot));
}

export async function standbyChecks(db: pg.Pool | pg.ClientBase): Promise<CheckResult[]> {
  const rows = await catalog<{ name: string; addr: string | null; state: string; lag: number | null }>(
    db,
    `SELECT application_name AS name, client_addr::text AS addr, state, (extract(epoch FROM replay_lag) * 1000)::float8 AS lag FROM pg_stat_replication ORDER BY 1`,
  );
  return rows.map((r) =>
    check(`standby:${r.name || r.addr}`, `Standby ${r.name || r.addr}`, r.state === 'streaming', `state=${r.state}, replay_lag=${r.lag === null ? 'n/a' : `${Math.round(r.lag)} ms`}`, 'check the standby: it is not streaming', 'warn'),
  );
}

/** Each replica given by URL: reachable, in recovery, and its replay lag. */
export async function replicaChecks(replicas: ConnectionSpec[]): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const spec of replicas) {
    const name = redactedUrl(spec);
    const pool = createPool(spec, 1, { connectionTimeoutMillis: 5000 });
    try {
      const [r] = await catalog<{ recovery: boolean; lag: number | null }>(
        pool,
        `SELECT pg_is_in_recovery() AS recovery, (extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)::float8 AS lag`,
      );
      out.push(check(`replica:${name}`, `Replica ${name}`, r!.recovery, `reachable, in recovery=${r!.recovery}, last replayed transaction ${r!.lag === null ? 'unknown' : `${Math.round(r!.lag)} ms ago`}`, 'this URL is not a standby (pg_is_in_recovery() is false); give the standby URL'));
    } catch (err) {
      out.push(check(`replica:${name}`, `Replica ${name}`, false, `unreachable: ${(err as Error).message}`, `check that the replica at ${spec.host}:${spec.port} accepts connections for ${spec.user}`));
    } finally {
      await pool.end().catch(() => undefined);
    }
  }
  return out;
}
