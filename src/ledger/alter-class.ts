/**
 * What an ALTER TABLE costs the server, clause by clause, read with the real
 * parsers:
 *   metadata  catalog-only, brief lock (PG: ADD COLUMN nullable or with a
 *             non-volatile default since PG 11, DROP COLUMN, SET/DROP
 *             DEFAULT, DROP NOT NULL, RENAME, NOT VALID constraints, ...)
 *   instant   MySQL/MariaDB may do it with ALGORITHM=INSTANT (ADD/DROP/RENAME
 *             COLUMN, SET/DROP DEFAULT, RENAME TO); tried first, the
 *             server's refusal (ER_ALTER_OPERATION_NOT_SUPPORTED) costs nothing
 *   locking   no rewrite, but a full scan or index build under a lock that
 *             blocks writes (SET NOT NULL, validated FK/CHECK, ADD PRIMARY KEY)
 *   rewrite   the table is rebuilt (column type changes, volatile defaults,
 *             MODIFY/CHANGE, ENGINE=, SET TABLESPACE, ...)
 * The most expensive clause decides the statement.
 */
import type { Dialect } from '../connection.js';
import { alterHead, joinTokens, tokenize, type Token } from '../engine/sql-lexer.js';
import type { AlterClass, AlterHead } from './alter-cost.js';
import { ledgerDialect } from './dialect-sql.js';

export type { AlterClass, AlterCost, AlterHead, ClauseClass } from './alter-cost.js';

/**
 * Splits `ALTER TABLE [IF EXISTS] [ONLY] name clauses` with the dialect's
 * lexer (the one --alter goes through): quoted names (`"My Table"`,
 * `` `a``b` ``), comments and folding as the server reads them. Null when
 * the statement is not an ALTER TABLE or does not lex.
 */
export function splitAlterHead(sql: string, dialect: Dialect): AlterHead | null {
  let tokens: Token[];
  let head: ReturnType<typeof alterHead>;
  try {
    const d = ledgerDialect(dialect);
    tokens = tokenize(sql, d.lex);
    head = alterHead(tokens, (w) => d.foldUnquoted(w));
  } catch {
    return null; // no name or no clause after ALTER TABLE, an unterminated quote: not ours to classify
  }
  if (!head || head.parts.length > 2) return null;
  let end = tokens.length;
  while (end > head.rest && (tokens[end - 1]!.kind === 'space' || tokens[end - 1]!.text === ';')) end--;
  const clauses = joinTokens(tokens.slice(head.rest, end));
  if (!clauses) return null;
  return { schema: head.parts.length === 2 ? head.parts[0]! : null, table: head.parts[head.parts.length - 1]!, clauses };
}

/** The dialect's classifier (dialects/*-alter.ts) on the statement the dialect's lexer read. */
export function classifyAlter(sql: string, dialect: Dialect): AlterClass | null {
  const head = splitAlterHead(sql, dialect);
  if (!head) return null;
  return ledgerDialect(dialect).classifyAlter(sql, head);
}
