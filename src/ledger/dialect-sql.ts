/**
 * The ledger's history, progress and lock SQL as pure builders:
 * `(spec) => { sql, params }`, identifiers through the engine's quoteIdent,
 * values always parameters. What differs between dialects is asked of the
 * dialect's LedgerDialect (dialects/), never branched on here.
 */
import type { Dialect } from '../connection.js';
import type { LedgerDialect, Quote, Sql, TableNames } from './dialects/contract.js';
import { mysqlLedger } from './dialects/mysql.js';
import { postgresLedger } from './dialects/postgres.js';

export type { LedgerDialect, Quote, Sql };
export { mysqlLockName, MYSQL_LOCK_PREFIX } from './dialects/mysql.js';
export { PG_MIGRATION_LOCK_KEY } from './dialects/postgres.js';

const DIALECTS: Record<Dialect, LedgerDialect> = { mysql: mysqlLedger, postgres: postgresLedger };

/** The one lookup from a dialect name to what it can do and how it says it. */
export function ledgerDialect(dialect: Dialect): LedgerDialect {
  return DIALECTS[dialect];
}

export interface HistoryNames {
  dialect: Dialect;
  quote: Quote;
  schema: string;
  /** Default `ghostwright_schema_history`. */
  table: string;
}

export const HISTORY_TABLE = 'ghostwright_schema_history';
export const PROGRESS_SUFFIX = '_progress';

function ph(dialect: Dialect, n: number): string {
  return DIALECTS[dialect].param(n);
}

function qualified(n: HistoryNames, table: string): string {
  return `${n.quote(n.schema)}.${n.quote(table)}`;
}

function names(n: HistoryNames): TableNames {
  return { quote: n.quote, qualified: (table) => qualified(n, table), schema: n.schema, table: n.table };
}

export function historyTable(n: HistoryNames): string {
  return qualified(n, n.table);
}

export function progressTable(n: HistoryNames): string {
  return qualified(n, n.table + PROGRESS_SUFFIX);
}

/** Flyway's history table DDL for the dialect, plus ghostwright's progress table. */
export function createHistoryTables(n: HistoryNames): string[] {
  return DIALECTS[n.dialect].createHistoryTables(names(n), historyTable(n), progressTable(n));
}

export function tableExists(n: HistoryNames, table: string): Sql {
  return {
    sql: `SELECT 1 AS ${n.quote('found')} FROM information_schema.tables WHERE table_schema = ${ph(n.dialect, 1)} AND table_name = ${ph(n.dialect, 2)}`,
    params: [n.schema, table],
  };
}

const COLUMNS = ['installed_rank', 'version', 'description', 'type', 'script', 'checksum', 'installed_by', 'installed_on', 'execution_time', 'success'];

export function selectHistory(n: HistoryNames): Sql {
  const cols = COLUMNS.map((c) => (c === 'installed_on' ? DIALECTS[n.dialect].installedOnColumn(n.quote) : n.quote(c)));
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
  const tail = DIALECTS[n.dialect].upsertTail(q, updated);
  return { sql: `INSERT INTO ${progressTable(n)} (${cols.map(q).join(', ')}) VALUES (${values}) ${tail}`, params };
}

export function deleteProgress(n: HistoryNames, script: string): Sql {
  return { sql: `DELETE FROM ${progressTable(n)} WHERE ${n.quote('script')} = ${ph(n.dialect, 1)}`, params: [script] };
}

// ---------------------------------------------------------------- migration lock

export function acquireLock(dialect: Dialect, database: string, timeoutSeconds: number): Sql[] {
  return DIALECTS[dialect].acquireLock(database, timeoutSeconds);
}

export function releaseLock(dialect: Dialect, database: string): Sql[] {
  return DIALECTS[dialect].releaseLock(database);
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
  return DIALECTS[n.dialect].listCleanObjects(names(n));
}

const DROP_ORDER = ['view', 'materialized view', 'table', 'foreign table', 'sequence', 'procedure', 'function', 'type', 'domain'];

/** One DROP per object, in DROP_ORDER. */
export function dropObjects(n: HistoryNames, objects: { name: string; kind: string }[]): string[] {
  const sorted = [...objects].sort((a, b) => DROP_ORDER.indexOf(a.kind) - DROP_ORDER.indexOf(b.kind));
  return sorted.map((o) => DIALECTS[n.dialect].dropObject(names(n), o));
}
