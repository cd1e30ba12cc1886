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
import { parseMysql, parsePg, type MysqlAst, type PgNode } from './parsers.js';
import { alterHead, joinTokens, tokenize, type Token } from '../engine/sql-lexer.js';
import { ledgerDialect } from './dialect-sql.js';
import { splitClauses } from '../core/columns.js';

export type AlterCost = 'metadata' | 'instant' | 'locking' | 'rewrite';

export interface ClauseClass {
  clause: string;
  cost: AlterCost;
  why: string;
}

export interface AlterClass {
  schema: string | null;
  table: string;
  /** The text after `ALTER TABLE <name>`: what the online engine receives. */
  clauses: string;
  cost: AlterCost;
  parts: ClauseClass[];
}

const RANK: Record<AlterCost, number> = { metadata: 0, instant: 1, locking: 2, rewrite: 3 };

export interface AlterHead {
  /** As the dialect reads the name: quotes removed, unquoted words folded (PostgreSQL: lower case). */
  schema: string | null;
  table: string;
  /** The text after the name, comments removed. */
  clauses: string;
}

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

function worst(parts: ClauseClass[]): AlterCost {
  return parts.reduce<AlterCost>((acc, p) => (RANK[p.cost] > RANK[acc] ? p.cost : acc), 'metadata');
}

export function classifyAlter(sql: string, dialect: Dialect): AlterClass | null {
  const head = splitAlterHead(sql, dialect);
  if (!head) return null;
  return dialect === 'postgres' ? classifyPg(sql, head) : classifyMysql(sql, head);
}

// ---------------------------------------------------------------- PostgreSQL

/** Defaults evaluated per row force a rewrite even on PG 11+. */
const VOLATILE_FUNCS = new Set(['random', 'clock_timestamp', 'timeofday', 'gen_random_uuid', 'uuid_generate_v1', 'uuid_generate_v4', 'nextval', 'txid_current', 'statement_timestamp']);
const SERIAL_TYPES = new Set(['serial', 'serial4', 'bigserial', 'serial8', 'smallserial', 'serial2']);

function funcNames(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => funcNames(n, out));
  else if (node && typeof node === 'object') {
    const obj = node as Record<string, unknown>;
    const call = obj.FuncCall as { funcname?: { String?: { sval?: string } }[] } | undefined;
    if (call?.funcname) out.push(call.funcname.map((p) => p.String?.sval ?? '').pop() ?? '');
    for (const v of Object.values(obj)) funcNames(v, out);
  }
  return out;
}

function pgAddColumn(def: PgNode): Omit<ClauseClass, 'clause'> {
  const col = (def.ColumnDef ?? {}) as { typeName?: { names?: { String?: { sval?: string } }[] }; constraints?: { Constraint: { contype: string; raw_expr?: unknown; generated_when?: string } }[] };
  const typeName = col.typeName?.names?.map((n) => n.String?.sval ?? '').pop() ?? '';
  if (SERIAL_TYPES.has(typeName)) return { cost: 'rewrite', why: `ADD COLUMN ${typeName} fills every row from a sequence` };
  for (const c of col.constraints ?? []) {
    const k = c.Constraint;
    if (k.contype === 'CONSTR_DEFAULT') {
      const volatile = funcNames(k.raw_expr).find((f) => VOLATILE_FUNCS.has(f));
      if (volatile) return { cost: 'rewrite', why: `ADD COLUMN with a volatile default (${volatile}()) rewrites every row` };
    }
    if (k.contype === 'CONSTR_GENERATED') return { cost: 'rewrite', why: 'ADD COLUMN ... GENERATED ALWAYS AS ... STORED computes every row' };
    if (k.contype === 'CONSTR_IDENTITY') return { cost: 'rewrite', why: 'ADD COLUMN ... GENERATED AS IDENTITY fills every row' };
    if (k.contype === 'CONSTR_PRIMARY' || k.contype === 'CONSTR_UNIQUE') return { cost: 'locking', why: 'ADD COLUMN with PRIMARY KEY/UNIQUE builds an index under ACCESS EXCLUSIVE' };
    if (k.contype === 'CONSTR_CHECK') return { cost: 'locking', why: 'ADD COLUMN with a CHECK scans the table under ACCESS EXCLUSIVE' };
  }
  return { cost: 'metadata', why: 'ADD COLUMN nullable or with a non-volatile default is catalog-only (PG 11+)' };
}

function pgCmd(cmd: { subtype?: string; def?: PgNode }): Omit<ClauseClass, 'clause'> {
  switch (cmd.subtype) {
    case 'AT_AddColumn':
      return pgAddColumn(cmd.def ?? {});
    case 'AT_DropColumn':
      return { cost: 'metadata', why: 'DROP COLUMN only marks the column dropped' };
    case 'AT_ColumnDefault':
      return { cost: 'metadata', why: 'SET/DROP DEFAULT affects future rows only' };
    case 'AT_DropNotNull':
      return { cost: 'metadata', why: 'DROP NOT NULL is catalog-only' };
    case 'AT_SetNotNull':
      return { cost: 'locking', why: 'SET NOT NULL scans the whole table under ACCESS EXCLUSIVE (unless a validated CHECK proves it, PG 12+)' };
    case 'AT_AlterColumnType':
      return { cost: 'rewrite', why: 'ALTER COLUMN TYPE rewrites the table and its indexes under ACCESS EXCLUSIVE' };
    case 'AT_AddConstraint': {
      const c = ((cmd.def ?? {}) as { Constraint?: { contype?: string; skip_validation?: boolean; indexname?: string } }).Constraint ?? {};
      if (c.skip_validation) return { cost: 'metadata', why: 'a NOT VALID constraint checks new rows only' };
      if (c.indexname) return { cost: 'metadata', why: 'constraint USING INDEX adopts an existing index' };
      if (c.contype === 'CONSTR_FOREIGN' || c.contype === 'CONSTR_CHECK') return { cost: 'locking', why: 'a validated FOREIGN KEY/CHECK scans the table while writes wait' };
      return { cost: 'locking', why: 'PRIMARY KEY/UNIQUE/EXCLUDE builds an index under ACCESS EXCLUSIVE' };
    }
    case 'AT_ValidateConstraint':
      return { cost: 'metadata', why: 'VALIDATE CONSTRAINT scans under SHARE UPDATE EXCLUSIVE: writes continue' };
    case 'AT_SetTableSpace':
    case 'AT_SetLogged':
    case 'AT_SetUnLogged':
    case 'AT_SetAccessMethod':
      return { cost: 'rewrite', why: `${cmd.subtype.slice(3)} rewrites the table` };
    default:
      return { cost: 'metadata', why: `${cmd.subtype ?? 'this change'} does not rewrite the table` };
  }
}

function classifyPg(sql: string, { clauses }: AlterHead): AlterClass | null {
  const node = parsePg(sql);
  const stmt = node?.AlterTableStmt as { relation?: { schemaname?: string; relname?: string }; cmds?: { AlterTableCmd: { subtype?: string; def?: PgNode } }[]; objtype?: string } | undefined;
  const rename = node?.RenameStmt as { relation?: { schemaname?: string; relname?: string } } | undefined;
  const relation = stmt?.relation ?? rename?.relation;
  if (!relation?.relname) return null;
  const texts = splitClauses(clauses);
  const parts: ClauseClass[] = rename
    ? [{ clause: clauses, cost: 'metadata', why: 'RENAME is catalog-only' }]
    : (stmt?.cmds ?? []).map((c, i) => ({ clause: texts[i] ?? clauses, ...pgCmd(c.AlterTableCmd) }));
  return { schema: relation.schemaname ?? null, table: relation.relname, clauses, cost: worst(parts), parts };
}

// ---------------------------------------------------------------- MySQL / MariaDB

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

function classifyMysql(sql: string, { schema, table, clauses }: AlterHead): AlterClass | null {
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
