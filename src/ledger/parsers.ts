/**
 * The real SQL parsers, behind two small functions: libpg_query (PostgreSQL's
 * own grammar, via pgsql-parser, WASM, loaded once) and node-sql-parser for
 * MySQL. Both return null instead of throwing when a statement is outside
 * what they understand; callers fall back to keyword rules then.
 */
import { createRequire } from 'node:module';
import type NodeSqlParser from 'node-sql-parser';

// Imported on first use too: the CLI's start-up reaches this file through the
// ledger's dialects, and pgsql-parser's JavaScript alone took ~50 ms of it.
let pgLoaded: Promise<void> | null = null;
let pgParse: ((sql: string) => unknown) | null = null;

export async function loadParsers(): Promise<void> {
  pgLoaded ??= import('pgsql-parser').then(async ({ loadModule, parseSync }) => {
    await loadModule();
    pgParse = parseSync;
  });
  await pgLoaded;
}

export type PgNode = Record<string, unknown>;

/** The first statement node, e.g. `{ AlterTableStmt: {...} }`, or null. Call loadParsers() first. */
export function parsePg(sql: string): PgNode | null {
  try {
    if (!pgParse) return null;
    const result = pgParse(sql) as { stmts?: { stmt: PgNode }[] };
    return result.stmts?.[0]?.stmt ?? null;
  } catch {
    return null;
  }
}

// Required on first use: loading node-sql-parser takes ~0.3-0.8 s, which every
// command's start-up paid (the CLI imports the ledger), PostgreSQL runs included.
let mysqlParser: InstanceType<typeof NodeSqlParser.Parser> | null = null;
const requireCjs = createRequire(import.meta.url);

export type MysqlAst = Record<string, unknown> & { type?: string };

export function parseMysql(sql: string): MysqlAst | null {
  try {
    mysqlParser ??= new (requireCjs('node-sql-parser') as typeof NodeSqlParser).Parser();
    const ast = mysqlParser.astify(sql, { database: 'MySQL' }) as unknown;
    const first = Array.isArray(ast) ? ast[0] : ast;
    return (first as MysqlAst | undefined) ?? null;
  } catch {
    return null;
  }
}
