/** The ledger's MySQL/MariaDB history and lock SQL (see contract.ts). */
import { MYSQL_LEX } from '../../engine/sql-lexer.js';
import type { LedgerDialect } from './contract.js';
import { classifyMysql } from './mysql-alter.js';

export const MYSQL_LOCK_PREFIX = 'ghostwright_migrate';

/**
 * MySQL lock names are server-wide (not per database) and at most 64
 * characters, so the database name is part of it; PostgreSQL advisory locks
 * are already per database.
 */
export function mysqlLockName(database: string): string {
  const name = `${MYSQL_LOCK_PREFIX}:${database}`;
  return name.length <= 64 ? name : name.slice(0, 64);
}

export const mysqlLedger: LedgerDialect = {
  lex: MYSQL_LEX,
  foldUnquoted: (word) => word,
  classifyAlter: classifyMysql,
  historySchema: (database) => database,
  schemaIsDatabase: true,
  script: {
    delimiterCommand: true,
    dashCommentNeedsSpace: true,
    hashComments: true,
    executableComments: true,
    nestedBlockComments: false,
    backslashEscapes: true,
    backtickIdentifiers: true,
    dollarQuotes: false,
  },
  param: () => '?',
  createHistoryTables: ({ quote: q, table }, t, p) => [
    `CREATE TABLE IF NOT EXISTS ${t} (${q('installed_rank')} INT NOT NULL, ${q('version')} VARCHAR(50), ${q('description')} VARCHAR(200) NOT NULL, ` +
      `${q('type')} VARCHAR(20) NOT NULL, ${q('script')} VARCHAR(1000) NOT NULL, ${q('checksum')} INT, ${q('installed_by')} VARCHAR(100) NOT NULL, ` +
      `${q('installed_on')} TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, ${q('execution_time')} INT NOT NULL, ${q('success')} BOOL NOT NULL, ` +
      `CONSTRAINT ${q(`${table}_pk`)} PRIMARY KEY (${q('installed_rank')}), INDEX ${q(`${table}_s_idx`)} (${q('success')})) ENGINE=InnoDB`,
    // VARCHAR(700): an InnoDB key is at most 3072 bytes, 4 per utf8mb4 character.
    `CREATE TABLE IF NOT EXISTS ${p} (${q('script')} VARCHAR(700) NOT NULL PRIMARY KEY, ${q('version')} VARCHAR(50), ${q('statements_done')} INT NOT NULL, ` +
      `${q('statements_total')} INT NOT NULL, ${q('done_checksum')} INT NOT NULL, ${q('error')} TEXT, ` +
      `${q('updated_on')} TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP) ENGINE=InnoDB`,
  ],
  installedOnColumn: (q) => q('installed_on'),
  upsertTail: (q, updated) => `ON DUPLICATE KEY UPDATE ${updated.map((c) => `${q(c)} = VALUES(${q(c)})`).join(', ')}, ${q('updated_on')} = CURRENT_TIMESTAMP`,
  acquireLock: (database, timeoutSeconds) => [{ sql: 'SELECT GET_LOCK(?, ?) AS acquired', params: [mysqlLockName(database), timeoutSeconds] }],
  releaseLock: (database) => [{ sql: 'SELECT RELEASE_LOCK(?) AS released', params: [mysqlLockName(database)] }],
  lockAnswers: true,
  listCleanObjects: ({ schema }) => ({
    sql:
      "SELECT table_name AS `name`, CASE table_type WHEN 'VIEW' THEN 'view' ELSE 'table' END AS `kind` FROM information_schema.tables WHERE table_schema = ? " +
      'UNION ALL SELECT routine_name, LOWER(routine_type) FROM information_schema.routines WHERE routine_schema = ?',
    params: [schema, schema],
  }),
  dropObject: (t, o) => `DROP ${o.kind.toUpperCase()} IF EXISTS ${t.qualified(o.name)}`,
  beforeClean: ['SET FOREIGN_KEY_CHECKS = 0'],
  instantAlter: true,
  nonTransactionalStatements: false,
};
