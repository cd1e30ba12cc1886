/**
 * PostgreSQL statements that refuse to run inside a transaction block
 * ("... cannot run inside a transaction block"): the ledger commits what came
 * before, runs them alone in autocommit, and records progress after each, so
 * a file that fails after one of them resumes at the right statement.
 */
export function stripSqlComments(sql: string): string {
  return sql.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/--[^\n]*/g, ' ');
}

const ALWAYS: RegExp[] = [
  /^CREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY\b/,
  /^DROP\s+INDEX\s+CONCURRENTLY\b/,
  /^REINDEX\b.*\bCONCURRENTLY\b/s,
  /^REINDEX\s+\(?[^)]*\)?\s*(SYSTEM|DATABASE)\b/,
  /^VACUUM\b/,
  /^CLUSTER\s*$/,
  /^(CREATE|DROP)\s+DATABASE\b/,
  /^(CREATE|DROP)\s+TABLESPACE\b/,
  /^ALTER\s+SYSTEM\b/,
  /^ALTER\s+TABLE\b.*\bDETACH\s+PARTITION\b.*\bCONCURRENTLY\b/s,
  /^CREATE\s+SUBSCRIPTION\b/,
  /^DROP\s+SUBSCRIPTION\b/,
];

/** `ALTER TYPE ... ADD VALUE` can run in a transaction since PostgreSQL 12. */
const ADD_ENUM_VALUE = /^ALTER\s+TYPE\b.*\bADD\s+VALUE\b/s;

/** True when the statement must run outside a transaction on PostgreSQL of this version (e.g. 150004). */
export function mustRunOutsideTransaction(sql: string, serverVersion: number): boolean {
  const text = stripSqlComments(sql).trim().replace(/\s+/g, ' ').toUpperCase();
  if (ALWAYS.some((re) => re.test(text))) return true;
  return serverVersion > 0 && serverVersion < 120000 && ADD_ENUM_VALUE.test(text);
}
