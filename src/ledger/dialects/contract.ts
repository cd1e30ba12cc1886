/**
 * The history/lock SQL that differs between dialects, behind one small
 * interface (kysely's Dialect): each dialect says what it can do with flags
 * and builds its own text; the ledger's builders (dialect-sql.ts) never ask
 * which dialect they have. Identifiers through the engine's quoteIdent,
 * values always parameters.
 */
import type { LexRules } from '../../engine/sql-lexer.js';
import type { AlterClass, AlterHead } from '../alter-cost.js';

export interface Sql {
  sql: string;
  params: unknown[];
}

export type Quote = (name: string) => string;

/** Where the history table lives and how this dialect quotes. */
export interface TableNames {
  quote: Quote;
  /** schema.table, quoted. */
  qualified: (table: string) => string;
  schema: string;
  /** The history table's name (default ghostwright_schema_history). */
  table: string;
}

/** How the dialect's own client splits a script into statements (splitter.ts). */
export interface ScriptSyntax {
  /** The client's `DELIMITER //` command (MySQL: procedure bodies contain `;`); the line itself is never sent. */
  readonly delimiterCommand: boolean;
  /** `--` starts a comment only before whitespace (MySQL: `1--1` is arithmetic). */
  readonly dashCommentNeedsSpace: boolean;
  /** `#` line comments (MySQL). */
  readonly hashComments: boolean;
  /** `/*! ... *\/` is SQL the server runs, kept in the statement (MySQL). */
  readonly executableComments: boolean;
  /** Block comments nest (PostgreSQL). */
  readonly nestedBlockComments: boolean;
  /** Backslash escapes in every '...' and "..." (MySQL; PostgreSQL only in E'...'). */
  readonly backslashEscapes: boolean;
  /** `...` quoted identifiers (MySQL). */
  readonly backtickIdentifiers: boolean;
  /** $tag$ ... $tag$ dollar quoting, for function bodies (PostgreSQL). */
  readonly dollarQuotes: boolean;
}

export interface LedgerDialect {
  readonly script: ScriptSyntax;
  /** How the dialect reads an ALTER TABLE's name (alter-class.ts): its lexer, and the folding of unquoted words. */
  readonly lex: LexRules;
  foldUnquoted(word: string): string;
  /** What the ALTER TABLE costs, clause by clause, read with the dialect's real parser (null: not one it reads). */
  classifyAlter(sql: string, head: AlterHead): AlterClass | null;
  /** The schema that holds the history and is the migrations' default: the URL's database (MySQL) or `public` (PostgreSQL). */
  historySchema(database: string): string;
  /** A schema is a database, the one the URL names (MySQL): Flyway's `schemas` may list only that one. */
  readonly schemaIsDatabase: boolean;
  /** The n-th bound parameter (1-based): `?` or `$n`. */
  param(n: number): string;
  /** Flyway's history table and ghostwright's progress table. */
  createHistoryTables(t: TableNames, history: string, progress: string): string[];
  /** installed_on as the driver should return it (PostgreSQL: as text, so both read alike). */
  installedOnColumn(q: Quote): string;
  /** The tail of an INSERT that updates the `updated` columns of an existing row with the same primary key. */
  upsertTail(q: Quote, updated: readonly string[]): string;
  /** The migration lock for this database, at most timeoutSeconds of waiting. */
  acquireLock(database: string, timeoutSeconds: number): Sql[];
  releaseLock(database: string): Sql[];
  /**
   * true: the lock query answers whether it got the lock (MySQL GET_LOCK: 0
   * on timeout, column `acquired`); false: it errors on timeout instead
   * (PostgreSQL lock_timeout, 55P03).
   */
  readonly lockAnswers: boolean;
  /** Every object `clean` drops: rows of (name, kind). */
  listCleanObjects(t: TableNames): Sql;
  /** One DROP of one listed object. */
  dropObject(t: TableNames, o: { name: string; kind: string }): string;
  /** Run on the clean session first (MySQL: foreign keys would dictate the order). */
  readonly beforeClean: readonly string[];
  /** ALGORITHM=INSTANT exists: a cheap ALTER may be tried instantly first (MySQL 8, MariaDB 10.3+). */
  readonly instantAlter: boolean;
  /** Some statements cannot run inside a transaction block (PostgreSQL: CREATE INDEX CONCURRENTLY, ...). */
  readonly nonTransactionalStatements: boolean;
}
