/** The ledger's PostgreSQL history and lock SQL (see contract.ts). */
import { PG_LEX } from '../../engine/sql-lexer.js';
import type { LedgerDialect } from './contract.js';
import { classifyPg } from './postgres-alter.js';

/** PostgreSQL advisory lock key: the bytes of "ghostwri" as a bigint (advisory locks are per database). */
export const PG_MIGRATION_LOCK_KEY = '7451328125150392937';

export const postgresLedger: LedgerDialect = {
  lex: PG_LEX,
  foldUnquoted: (word) => word.toLowerCase(),
  classifyAlter: classifyPg,
  historySchema: () => 'public',
  schemaIsDatabase: false,
  script: {
    delimiterCommand: false,
    dashCommentNeedsSpace: false,
    hashComments: false,
    executableComments: false,
    nestedBlockComments: true,
    backslashEscapes: false,
    backtickIdentifiers: false,
    dollarQuotes: true,
  },
  param: (n) => `$${n}`,
  createHistoryTables: ({ quote: q, table }, t, p) => [
    `CREATE TABLE IF NOT EXISTS ${t} (${q('installed_rank')} INT NOT NULL, ${q('version')} VARCHAR(50), ${q('description')} VARCHAR(200) NOT NULL, ` +
      `${q('type')} VARCHAR(20) NOT NULL, ${q('script')} VARCHAR(1000) NOT NULL, ${q('checksum')} INTEGER, ${q('installed_by')} VARCHAR(100) NOT NULL, ` +
      `${q('installed_on')} TIMESTAMP NOT NULL DEFAULT now(), ${q('execution_time')} INTEGER NOT NULL, ${q('success')} BOOLEAN NOT NULL, ` +
      `CONSTRAINT ${q(`${table}_pk`)} PRIMARY KEY (${q('installed_rank')}))`,
    `CREATE INDEX IF NOT EXISTS ${q(`${table}_s_idx`)} ON ${t} (${q('success')})`,
    `CREATE TABLE IF NOT EXISTS ${p} (${q('script')} VARCHAR(1000) NOT NULL PRIMARY KEY, ${q('version')} VARCHAR(50), ${q('statements_done')} INTEGER NOT NULL, ` +
      `${q('statements_total')} INTEGER NOT NULL, ${q('done_checksum')} INTEGER NOT NULL, ${q('error')} TEXT, ` +
      `${q('updated_on')} TIMESTAMP NOT NULL DEFAULT now())`,
  ],
  installedOnColumn: (q) => `${q('installed_on')}::text AS ${q('installed_on')}`,
  upsertTail: (q, updated) => `ON CONFLICT (${q('script')}) DO UPDATE SET ${updated.map((c) => `${q(c)} = EXCLUDED.${q(c)}`).join(', ')}, ${q('updated_on')} = now()`,
  // lock_timeout also bounds waits for advisory locks; it errors with 55P03.
  acquireLock: (_database, timeoutSeconds) => [
    { sql: "SELECT set_config('lock_timeout', $1, false)", params: [`${Math.max(1, Math.round(timeoutSeconds * 1000))}ms`] },
    { sql: 'SELECT pg_advisory_lock($1::bigint) AS acquired', params: [PG_MIGRATION_LOCK_KEY] },
  ],
  // The lock session goes back to the engine's pool afterwards: undo our lock_timeout too.
  releaseLock: () => [
    { sql: 'SELECT pg_advisory_unlock($1::bigint) AS released', params: [PG_MIGRATION_LOCK_KEY] },
    { sql: 'RESET lock_timeout', params: [] },
  ],
  lockAnswers: false,
  listCleanObjects: ({ schema }) => ({
    sql:
      "SELECT c.relname AS name, CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' ELSE 'table' END AS kind " +
      "FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE ns.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND NOT c.relispartition " +
      "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e') " +
      "UNION ALL SELECT t.typname, CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END FROM pg_type t JOIN pg_namespace ns ON ns.oid = t.typnamespace " +
      "WHERE ns.nspname = $1 AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')) " +
      "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e') " +
      "UNION ALL SELECT p.oid::regprocedure::text, CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END FROM pg_proc p JOIN pg_namespace ns ON ns.oid = p.pronamespace " +
      "WHERE ns.nspname = $1 AND p.prokind IN ('f', 'p') AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')",
    params: [schema],
  }),
  // Routines come as server-printed signatures (`public.f(integer)`, already
  // quoted by the server): an overload can only be named with its argument types.
  dropObject: (t, o) => `DROP ${o.kind.toUpperCase()} IF EXISTS ${o.kind === 'function' || o.kind === 'procedure' ? o.name : t.qualified(o.name)} CASCADE`,
  beforeClean: [],
  instantAlter: false,
  nonTransactionalStatements: true,
};
