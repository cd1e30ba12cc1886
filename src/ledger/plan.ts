/**
 * How each statement of a migration will run, decided before anything runs
 * (and printed by `migrate --dry-run`):
 *   direct          as written; inside the file's transaction where DDL is transactional
 *   no-transaction  PostgreSQL statements that can't run in a transaction block
 *   instant         MySQL: `<ALTER>, ALGORITHM=INSTANT` first, then `fallback` if the server refuses
 *   online          a rewriting/locking ALTER of a table above the online threshold,
 *                   handed to the online engine (ghost table + change stream + swap)
 */
import type { Dialect } from '../connection.js';
import type { Engine, TableRef } from '../engine/engine.js';
import { RefusedError } from '../errors.js';
import { ledgerDialect } from './dialect-sql.js';
import { classifyAlter, type AlterClass } from './alter-class.js';
import { mustRunOutsideTransaction, stripSqlComments } from './non-transactional.js';
import type { Statement } from './splitter.js';

export type StatementPath = 'direct' | 'no-transaction' | 'instant' | 'online';

export interface PlannedStatement {
  /** 1-based position in the file. */
  index: number;
  sql: string;
  line: number;
  path: StatementPath;
  why: string;
  /** For `instant`: what runs when the server refuses INSTANT. */
  fallback?: 'direct' | 'online';
  alter?: { table: string; ref: TableRef; clauses: string; estimatedRows: number };
}

export const DEFAULT_ONLINE_THRESHOLD = 1_000_000;

export interface PathInput {
  dialect: Dialect;
  cls: AlterClass;
  estimatedRows: number;
  threshold: number;
}

/** The pure decision: which path for one ALTER TABLE, and why. */
export function decideAlterPath({ dialect, cls, estimatedRows, threshold }: PathInput): Pick<PlannedStatement, 'path' | 'why' | 'fallback'> {
  const reasons = [...new Set(cls.parts.filter((p) => p.cost === cls.cost).map((p) => p.why))].join('; ');
  const big = estimatedRows > threshold;
  const size = `~${estimatedRows} rows ${big ? '>' : '<='} online threshold ${threshold}`;
  if (cls.cost === 'metadata') return { path: 'direct', why: `metadata-only: ${reasons}` };
  if (cls.cost === 'instant' && ledgerDialect(dialect).instantAlter) {
    return { path: 'instant', why: `${reasons}; if the server refuses INSTANT: ${big ? 'online' : 'direct'} (${size})`, fallback: big ? 'online' : 'direct' };
  }
  if (big) return { path: 'online', why: `${size}; ${reasons}` };
  return { path: 'direct', why: `${size}; ${reasons}` };
}

export interface PlanContext {
  engine: Pick<Engine, 'dialect' | 'capabilities' | 'tableRef' | 'quoteIdent' | 'inspect'>;
  serverVersion: number;
  onlineThreshold: number;
}

async function estimatedRows(engine: PlanContext['engine'], ref: TableRef): Promise<number> {
  try {
    return (await engine.inspect(ref)).estimatedRows;
  } catch {
    // Not there yet (created by an earlier statement of the same run): empty.
    return 0;
  }
}

/** BEGIN/COMMIT in a file would end the file's own transaction early, and its history row with it. */
const TRANSACTION_CONTROL = /^(BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT)\b/i;

export async function planStatements(ctx: PlanContext, statements: Statement[]): Promise<PlannedStatement[]> {
  const out: PlannedStatement[] = [];
  for (const [i, st] of statements.entries()) {
    const base = { index: i + 1, sql: st.sql, line: st.line };
    if (ctx.engine.capabilities.transactionalDdl && TRANSACTION_CONTROL.test(stripSqlComments(st.sql).trim())) {
      throw new RefusedError('E_TRANSACTION_CONTROL', `line ${st.line}: "${st.sql.split('\n')[0]}": a migration may not control its transaction`, {
        hint: 'remove BEGIN/COMMIT: each file already runs in one transaction, and statements that cannot (CREATE INDEX CONCURRENTLY, ...) run outside it automatically',
      });
    }
    if (ledgerDialect(ctx.engine.dialect).nonTransactionalStatements && mustRunOutsideTransaction(st.sql, ctx.serverVersion)) {
      out.push({ ...base, path: 'no-transaction', why: 'cannot run inside a transaction block: runs alone, progress recorded' });
      continue;
    }
    const cls = classifyAlter(st.sql, ctx.engine.dialect);
    if (!cls) {
      out.push({ ...base, path: 'direct', why: ctx.engine.capabilities.transactionalDdl ? 'in the file transaction' : 'autocommit' });
      continue;
    }
    // cls names the table as the dialect read it (unquoted, folded): quoted again
    // before any text round trip, so "My Table" or a mixed-case name stays itself.
    const quoted = (cls.schema === null ? [cls.table] : [cls.schema, cls.table]).map((n) => ctx.engine.quoteIdent(n)).join('.');
    const ref: TableRef = ctx.engine.tableRef(quoted);
    const rows = cls.cost === 'metadata' ? 0 : await estimatedRows(ctx.engine, ref);
    const decision = decideAlterPath({ dialect: ctx.engine.dialect, cls, estimatedRows: rows, threshold: ctx.onlineThreshold });
    out.push({ ...base, ...decision, alter: { table: quoted, ref, clauses: cls.clauses, estimatedRows: rows } });
  }
  return out;
}

/** Whether a statement on this path shares the file's transaction. */
export function runsInTransaction(p: PlannedStatement, transactionalDdl: boolean): boolean {
  return transactionalDdl && p.path === 'direct';
}
