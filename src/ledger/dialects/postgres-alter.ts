/** PostgreSQL: what each clause of an ALTER TABLE costs, read from pgsql-parser's tree (see ../alter-class.ts). */
import { splitClauses } from '../../core/columns.js';
import { worst, type AlterClass, type AlterHead, type ClauseClass } from '../alter-cost.js';
import { parsePg, type PgNode } from '../parsers.js';

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

export function classifyPg(sql: string, { clauses }: AlterHead): AlterClass | null {
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
