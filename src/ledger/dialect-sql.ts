/**
 * The only SQL text of the ledger that differs between dialects, as pure
 * builders: `(spec) => { sql, params }`, identifiers through the engine's
 * quoteIdent, values always parameters (`?` for MySQL, `$n` for PostgreSQL).
 */
import type { Dialect } from '../connection.js';

export interface Sql {
  sql: string;
  params: unknown[];
}

export type Quote = (name: string) => string;

export interface HistoryNames {
  dialect: Dialect;
  quote: Quote;
  schema: string;
  /** Default `ghostwright_schema_history`. */
  table: string;
}

export const HISTORY_TABLE = 'ghostwright_schema_history';
export const PROGRESS_SUFFIX = '_progress';

/** PostgreSQL advisory lock key: the bytes of "ghostwri" as a bigint (advisory locks are per database). */
export const PG_MIGRATION_LOCK_KEY = '7451328125150392937';
export const MYSQL_LOCK_PREFIX = 'ghostwright_migrate';

function ph(dialect: Dialect, n: number): string {
  return dialect === 'mysql' ? '?' : `$${n}`;
}

function qualified(n: HistoryNames, table: string): string {
  return `${n.quote(n.schema)}.${n.quote(table)}`;
}

export function historyTable(n: HistoryNames): string {
  return qualified(n, n.table);
}

export function progressTable(n: HistoryNames): string {
  return qualified(n, n.table + PROGRESS_SUFFIX);
}

/** Flyway's history table DDL for the dialect, plus ghostwright's progress table. */
export function createHistoryTables(n: HistoryNames): string[] {
  const q = n.quote;
  const t = historyTable(n);
  const p = progressTable(n);
  if (n.dialect === 'mysql') {
    return [
      `CREATE TABLE IF NOT EXISTS ${t} (${q('installed_rank')} INT NOT NULL, ${q('version')} VARCHAR(50), ${q('description')} VARCHAR(200) NOT NULL, ` +
        `${q('type')} VARCHAR(20) NOT NULL, ${q('script')} VARCHAR(1000) NOT NULL, ${q('checksum')} INT, ${q('installed_by')} VARCHAR(100) NOT NULL, ` +
        `${q('installed_on')} TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, ${q('execution_time')} INT NOT NULL, ${q('success')} BOOL NOT NULL, ` +
        `CONSTRAINT ${q(`${n.table}_pk`)} PRIMARY KEY (${q('installed_rank')}), INDEX ${q(`${n.table}_s_idx`)} (${q('success')})) ENGINE=InnoDB`,
      `CREATE TABLE IF NOT EXISTS ${p} (${q('script')} VARCHAR(700) NOT NULL PRIMARY KEY, ${q('version')} VARCHAR(50), ${q('statements_done')} INT NOT NULL, ` +
        `${q('statements_total')} INT NOT NULL, ${q('done_checksum')} INT NOT NULL, ${q('error')} TEXT, ` +
        `${q('updated_on')} TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP) ENGINE=InnoDB`,
    ];
  }
  return [
    `CREATE TABLE IF NOT EXISTS ${t} (${q('installed_rank')} INT NOT NULL, ${q('version')} VARCHAR(50), ${q('description')} VARCHAR(200) NOT NULL, ` +
      `${q('type')} VARCHAR(20) NOT NULL, ${q('script')} VARCHAR(1000) NOT NULL, ${q('checksum')} INTEGER, ${q('installed_by')} VARCHAR(100) NOT NULL, ` +
      `${q('installed_on')} TIMESTAMP NOT NULL DEFAULT now(), ${q('execution_time')} INTEGER NOT NULL, ${q('success')} BOOLEAN NOT NULL, ` +
      `CONSTRAINT ${q(`${n.table}_pk`)} PRIMARY KEY (${q('installed_rank')}))`,
    `CREATE INDEX IF NOT EXISTS ${q(`${n.table}_s_idx`)} ON ${t} (${q('success')})`,
    `CREATE TABLE IF NOT EXISTS ${p} (${q('script')} VARCHAR(1000) NOT NULL PRIMARY KEY, ${q('version')} VARCHAR(50), ${q('statements_done')} INTEGER NOT NULL, ` +
      `${q('statements_total')} INTEGER NOT NULL, ${q('done_checksum')} INTEGER NOT NULL, ${q('error')} TEXT, ` +
      `${q('updated_on')} TIMESTAMP NOT NULL DEFAULT now())`,
  ];
}

export function tableExists(n: HistoryNames, table: string): Sql {
  return {
    sql: `SELECT 1 AS ${n.quote('found')} FROM information_schema.tables WHERE table_schema = ${ph(n.dialect, 1)} AND table_name = ${ph(n.dialect, 2)}`,
    params: [n.schema, table],
  };
}

const COLUMNS = ['installed_rank', 'version', 'description', 'type', 'script', 'checksum', 'installed_by', 'installed_on', 'execution_time', 'success'];

export function selectHistory(n: HistoryNames): Sql {
  const cols = COLUMNS.map((c) => (c === 'installed_on' && n.dialect === 'postgres' ? `${n.quote(c)}::text AS ${n.quote(c)}` : n.quote(c)));
  return { sql: `SELECT ${cols.join(', ')} FROM ${historyTable(n)} ORDER BY ${n.quote('installed_rank')}`, params: [] };
}

export interface InsertHistorySpec {
  version: string | null;
  description: string;
  type: string;
  script: string;
  checksum: number | null;
  installedBy: string;
  executionTime: number;
  success: boolean;
}

/**
 * installed_rank is max + 1, computed in the same statement; runners are
 * serialised by the migration lock, so two can't pick the same rank.
 */
export function insertHistory(n: HistoryNames, row: InsertHistorySpec): Sql {
  const q = n.quote;
  const t = historyTable(n);
  const cols = ['installed_rank', 'version', 'description', 'type', 'script', 'checksum', 'installed_by', 'execution_time', 'success'].map(q).join(', ');
  const values = [2, 3, 4, 5, 6, 7, 8, 9].map((i) => ph(n.dialect, i - 1)).join(', ');
  return {
    sql: `INSERT INTO ${t} (${cols}) SELECT COALESCE(MAX(${q('installed_rank')}), 0) + 1, ${values} FROM ${t}`,
    params: [row.version, row.description, row.type, row.script, row.checksum, row.installedBy, row.executionTime, row.success],
  };
}

export function deleteHistory(n: HistoryNames, installedRank: number): Sql {
  return { sql: `DELETE FROM ${historyTable(n)} WHERE ${n.quote('installed_rank')} = ${ph(n.dialect, 1)}`, params: [installedRank] };
}

export function realignHistory(n: HistoryNames, installedRank: number, checksum: number | null, description: string): Sql {
  const q = n.quote;
  return {
    sql: `UPDATE ${historyTable(n)} SET ${q('checksum')} = ${ph(n.dialect, 1)}, ${q('description')} = ${ph(n.dialect, 2)} WHERE ${q('installed_rank')} = ${ph(n.dialect, 3)}`,
    params: [checksum, description, installedRank],
  };
}

export function selectProgress(n: HistoryNames, script: string): Sql {
  const q = n.quote;
  const cols = ['script', 'version', 'statements_done', 'statements_total', 'done_checksum', 'error'].map(q).join(', ');
  return { sql: `SELECT ${cols} FROM ${progressTable(n)} WHERE ${q('script')} = ${ph(n.dialect, 1)}`, params: [script] };
}

export interface ProgressSpec {
  script: string;
  version: string | null;
  statementsDone: number;
  statementsTotal: number;
  doneChecksum: number;
  error: string | null;
}

/** Upsert of one file's progress (MySQL ON DUPLICATE KEY / PostgreSQL ON CONFLICT). */
export function upsertProgress(n: HistoryNames, row: ProgressSpec): Sql {
  const q = n.quote;
  const cols = ['script', 'version', 'statements_done', 'statements_total', 'done_checksum', 'error'];
  const params = [row.script, row.version, row.statementsDone, row.statementsTotal, row.doneChecksum, row.error];
  const values = cols.map((_, i) => ph(n.dialect, i + 1)).join(', ');
  const updated = cols.slice(1);
  const tail =
    n.dialect === 'mysql'
      ? `ON DUPLICATE KEY UPDATE ${updated.map((c) => `${q(c)} = VALUES(${q(c)})`).join(', ')}, ${q('updated_on')} = CURRENT_TIMESTAMP`
      : `ON CONFLICT (${q('script')}) DO UPDATE SET ${updated.map((c) => `${q(c)} = EXCLUDED.${q(c)}`).join(', ')}, ${q('updated_on')} = now()`;
  return { sql: `INSERT INTO ${progressTable(n)} (${cols.map(q).join(', ')}) VALUES (${values}) ${tail}`, params };
}

export function deleteProgress(n: HistoryNames, script: string): Sql {
  return { sql: `DELETE FROM ${progressTable(n)} WHERE ${n.quote('script')} = ${ph(n.dialect, 1)}`, params: [script] };
}

// ---------------------------------------------------------------- migration lock

/**
 * MySQL lock names are server-wide (not per database) and at most 64
 * characters, so the database name is part of it; PostgreSQL advisory locks
 * are already per database.
 */
export function mysqlLockName(database: string): string {
  const name = `${MYSQL_LOCK_PREFIX}:${database}`;
  return name.length <= 64 ? name : name.slice(0, 64);
}

export function acquireLock(dialect: Dialect, database: string, timeoutSeconds: number): Sql[] {
  if (dialect === 'mysql') return [{ sql: 'SELECT GET_LOCK(?, ?) AS acquired', params: [mysqlLockName(database), timeoutSeconds] }];
  // lock_timeout also bounds waits for advisory locks; it errors with 55P03.
  return [
    { sql: "SELECT set_config('lock_timeout', $1, false)", params: [`${Math.max(1, Math.round(timeoutSeconds * 1000))}ms`] },
    { sql: 'SELECT pg_advisory_lock($1::bigint) AS acquired', params: [PG_MIGRATION_LOCK_KEY] },
  ];
}

/** The lock session goes back to the engine's pool afterwards: undo our lock_timeout too. */
export function releaseLock(dialect: Dialect, database: string): Sql[] {
  if (dialect === 'mysql') return [{ sql: 'SELECT RELEASE_LOCK(?) AS released', params: [mysqlLockName(database)] }];
  return [
    { sql: 'SELECT pg_advisory_unlock($1::bigint) AS released', params: [PG_MIGRATION_LOCK_KEY] },
    { sql: 'RESET lock_timeout', params: [] },
  ];
}

// ---------------------------------------------------------------- schema objects (baseline check, clean)

export function listTables(n: HistoryNames): Sql {
  return {
    sql: `SELECT table_name AS ${n.quote('name')}, table_type AS ${n.quote('kind')} FROM information_schema.tables WHERE table_schema = ${ph(n.dialect, 1)} ORDER BY table_name`,
    params: [n.schema],
  };
}

/** Objects `clean` drops, in an order that works: views before tables, tables before types. */
export function listCleanObjects(n: HistoryNames): Sql {
  if (n.dialect === 'mysql') {
    return {
      sql:
        "SELECT table_name AS `name`, CASE table_type WHEN 'VIEW' THEN 'view' ELSE 'table' END AS `kind` FROM information_schema.tables WHERE table_schema = ? " +
        "UNION ALL SELECT routine_name, LOWER(routine_type) FROM information_schema.routines WHERE routine_schema = ?",
      params: [n.schema, n.schema],
    };
  }
  return {
    sql:
      "SELECT c.relname AS name, CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' ELSE 'table' END AS kind " +
      "FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE ns.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND NOT c.relispartition " +
      "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e') " +
      "UNION ALL SELECT t.typname, CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END FROM pg_type t JOIN pg_namespace ns ON ns.oid = t.typnamespace " +
      "WHERE ns.nspname = $1 AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')) " +
      "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e') " +
      "UNION ALL SELECT p.oid::regprocedure::text, CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END FROM pg_proc p JOIN pg_namespace ns ON ns.oid = p.pronamespace " +
      "WHERE ns.nspname = $1 AND p.prokind IN ('f', 'p') AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')",
    params: [n.schema],
  };
}

const DROP_ORDER = ['view', 'materialized view', 'table', 'foreign table', 'sequence', 'procedure', 'function', 'type', 'domain'];

/**
 * One DROP per object. PostgreSQL routines come as server-printed signatures
 * (`public.f(integer)`, already quoted by the server) since an overload can
 * only be named with its argument types.
 */
export function dropObjects(n: HistoryNames, objects: { name: string; kind: string }[]): string[] {
  const sorted = [...objects].sort((a, b) => DROP_ORDER.indexOf(a.kind) - DROP_ORDER.indexOf(b.kind));
  const cascade = n.dialect === 'postgres' ? ' CASCADE' : '';
  return sorted.map((o) => {
    const kw = o.kind.toUpperCase();
    const target = n.dialect === 'postgres' && (o.kind === 'function' || o.kind === 'procedure') ? o.name : qualified(n, o.name);
    return `DROP ${kw} IF EXISTS ${target}${cascade}`;
  });
}
