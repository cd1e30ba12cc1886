/** MySQL/MariaDB: what each clause of an ALTER TABLE costs, read from node-sql-parser's tree or, where it can't read one, by keyword (see ../alter-class.ts). */
import { splitClauses } from '../../core/columns.js';
import { worst, type AlterClass, type AlterHead, type ClauseClass } from '../alter-cost.js';
import { parseMysql, type MysqlAst } from '../parsers.js';

/** Keyword rules for clauses node-sql-parser can't read (e.g. ALTER COLUMN ... SET DEFAULT). */
function mysqlClauseByKeyword(clause: string): Omit<ClauseClass, 'clause'> {
  const c = clause.trim().toUpperCase().replace(/\s+/g, ' ');
  if (/^ALTER (COLUMN )?\S+ (SET|DROP) DEFAULT\b/.test(c)) return { cost: 'instant', why: 'SET/DROP DEFAULT is catalog-only (INSTANT)' };
  if (/^ALTER (COLUMN )?\S+ SET (IN)?VISIBLE\b/.test(c)) return { cost: 'instant', why: 'column visibility is catalog-only (INSTANT)' };
  if (/^ALTER (INDEX|KEY) /.test(c)) return { cost: 'metadata', why: 'index visibility is catalog-only' };
  if (/^(ALGORITHM|LOCK)\b/.test(c)) return { cost: 'metadata', why: 'algorithm/lock option' };
  if (/^RENAME (TO|AS) /.test(c) || /^RENAME [^ ]+$/.test(c)) return { cost: 'instant', why: 'RENAME TO is catalog-only' };
  if (/^RENAME (INDEX|KEY) /.test(c)) return { cost: 'metadata', why: 'RENAME INDEX is catalog-only' };
  if (/^RENAME COLUMN /.test(c)) return { cost: 'instant', why: 'RENAME COLUMN is catalog-only (INSTANT)' };
  if (/^DROP (INDEX|KEY) /.test(c)) return { cost: 'metadata', why: 'DROP INDEX only removes the index (in place, no rebuild)' };
  if (/^DROP (COLUMN )?(?!PRIMARY|FOREIGN|CONSTRAINT|CHECK|INDEX|KEY|PARTITION)\S+/.test(c)) return { cost: 'instant', why: 'DROP COLUMN is INSTANT on MySQL 8.0.29+ / MariaDB 10.4+' };
  if (/^DROP (FOREIGN KEY|CONSTRAINT|CHECK) /.test(c)) return { cost: 'metadata', why: 'dropping a constraint is catalog-only' };
  if (/^ADD (UNIQUE|PRIMARY|INDEX|KEY|FULLTEXT|SPATIAL|CONSTRAINT|FOREIGN)\b/.test(c)) {
    if (/FOREIGN KEY/.test(c)) return { cost: 'rewrite', why: 'ADD FOREIGN KEY copies the table unless foreign_key_checks=0' };
    return { cost: 'locking', why: 'adding an index reads the whole table and lags replicas' };
  }
  if (/^ADD (COLUMN )?/.test(c)) return { cost: 'instant', why: 'ADD COLUMN is INSTANT on MySQL 8.0.12+ / MariaDB 10.3+' };
  if (/^(MODIFY|CHANGE)\b/.test(c)) return { cost: 'rewrite', why: 'MODIFY/CHANGE COLUMN copies the table when the type changes' };
  return { cost: 'rewrite', why: `"${clause.trim().slice(0, 40)}" may rebuild the table` };
}

function mysqlExpr(e: Record<string, unknown>): Omit<ClauseClass, 'clause'> | null {
  const action = e.action as string | undefined;
  const resource = e.resource as string | undefined;
  if (resource === 'algorithm' || resource === 'lock') return { cost: 'metadata', why: 'algorithm/lock option' };
  if (action === 'add' && resource === 'column') return { cost: 'instant', why: 'ADD COLUMN is INSTANT on MySQL 8.0.12+ / MariaDB 10.3+' };
  if (action === 'drop' && resource === 'column') return { cost: 'instant', why: 'DROP COLUMN is INSTANT on MySQL 8.0.29+ / MariaDB 10.4+' };
  if (action === 'rename' && resource === 'column') return { cost: 'instant', why: 'RENAME COLUMN is catalog-only (INSTANT)' };
  if (action === 'rename' && resource === 'table') return { cost: 'instant', why: 'RENAME TO is catalog-only' };
  if (action === 'drop' && resource === 'index') return { cost: 'metadata', why: 'DROP INDEX only removes the index (in place, no rebuild)' };
  if ((action === 'modify' || action === 'change') && resource === 'column') return { cost: 'rewrite', why: 'MODIFY/CHANGE COLUMN copies the table when the type changes' };
  if (action === 'add' && (resource === 'index' || resource === 'constraint' || resource === 'fulltext index' || resource === 'spatial index')) {
    const def = e.create_definitions as { constraint_type?: string } | undefined;
    if (def?.constraint_type?.toUpperCase() === 'FOREIGN KEY') return { cost: 'rewrite', why: 'ADD FOREIGN KEY copies the table unless foreign_key_checks=0' };
    return { cost: 'locking', why: 'adding an index reads the whole table and lags replicas' };
  }
  if (resource === 'engine' || resource === 'charset' || e.keyword === 'convert') return { cost: 'rewrite', why: 'ENGINE=/CONVERT TO rebuilds the table' };
  return null;
}

export function classifyMysql(sql: string, { schema, table, clauses }: AlterHead): AlterClass | null {
  const texts = splitClauses(clauses);
  const ast = parseMysql(sql) as (MysqlAst & { expr?: Record<string, unknown>[] }) | null;
  const exprs = ast?.type === 'alter' && ast.expr && ast.expr.length === texts.length ? ast.expr : null;
  const parts: ClauseClass[] = texts.map((clause, i) => {
    // node-sql-parser reads some clauses only on their own: retry one by one.
    const expr = exprs ? exprs[i]! : ((parseMysql(`ALTER TABLE t ${clause}`) as { expr?: Record<string, unknown>[] } | null)?.expr?.[0] ?? null);
    const fromAst = expr ? mysqlExpr(expr) : null;
    return { clause, ...(fromAst ?? mysqlClauseByKeyword(clause)) };
  });
  return { schema, table, clauses, cost: worst(parts), parts };
}
