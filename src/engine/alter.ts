/**
 * The --alter text, read by the dialect's real parser (libpg_query for
 * PostgreSQL, node-sql-parser for MySQL/MariaDB) into a shape core can use
 * without knowing the dialect. The parser is the gate: text that is not
 * exactly one ALTER TABLE (two statements, a statement hidden after a
 * comment, another statement kind) is refused before anything connects.
 */

/** The table a whole `ALTER TABLE [schema.]name ...` names; as the dialect reads it (PG folds unquoted names). */
export interface AlterTarget {
  schema: string | null;
  name: string;
}

export type AlterClauseKind =
  | 'add-column'
  | 'drop-column'
  /** Type, default, nullability, collation of one column (MODIFY, ALTER COLUMN, CHANGE without a new name). */
  | 'modify-column'
  /** CHANGE a b ... (MySQL) / RENAME COLUMN a TO b: `column` becomes `to`. */
  | 'rename-column'
  | 'add-index'
  | 'drop-index'
  /** PRIMARY KEY / UNIQUE added (MySQL ADD UNIQUE KEY, PG ADD PRIMARY KEY / UNIQUE / EXCLUDE). */
  | 'add-key'
  | 'drop-key'
  | 'add-constraint'
  | 'drop-constraint'
  /** RENAME TO / SET SCHEMA: refused, an online ALTER cannot move the table. */
  | 'rename-table'
  /** ENGINE=, CONVERT TO CHARACTER SET, ALGORITHM=, SET (fillfactor=...), ... */
  | 'table-option'
  | 'other';

export interface AlterClause {
  kind: AlterClauseKind;
  /** The clause as written (comments removed). */
  text: string;
  /** The column (or index/constraint) the clause is about, as the dialect reads the name. */
  column?: string;
  /** rename-column: the new name. */
  to?: string;
  /** modify-column with `USING expr` (PG): the expression computing the new value from the old row. */
  using?: string;
}

export interface ParsedAlter {
  /** Set when the text was a whole `ALTER TABLE name ...`; null when it was only the clauses. */
  target: AlterTarget | null;
  /** What follows `ALTER TABLE <table>`: one statement's clauses, comments and trailing `;` removed. */
  clauses: string;
  parts: AlterClause[];
  /**
   * True when the real parser read every clause. False when it could only
   * prove the text is one statement and classified some clauses by their
   * leading keywords (node-sql-parser lacks some MySQL/MariaDB forms).
   */
  fullyParsed: boolean;
}

/** One dialect's reading of --alter and --table, pure: usable before anything connects. */
export interface AlterParser {
  /** Throws RefusedError E_BAD_ALTER (exit 2) for anything but one ALTER TABLE. */
  parseAlter(text: string): ParsedAlter;
  /** --table as the dialect reads it (quotes, case folding); schema null when not given. */
  parseTable(text: string): AlterTarget;
}
