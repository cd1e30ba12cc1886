/**
 * Reads a table's shape from pg_catalog. Names come back exactly as stored;
 * types exactly as format_type() prints them (the form accepted in a cast).
 */
import type pg from 'pg';
import { RefusedError } from '../../errors.js';
import type { ColumnInfo, ForeignKeyInfo, IndexInfo, KeyInfo, TableInfo, TableRef, TriggerInfo } from '../engine.js';
import { catalog } from './connect.js';
import { qualified } from './ident.js';

type Db = pg.Pool | pg.ClientBase;

interface RelRow {
  oid: number;
  relkind: string;
  relispartition: boolean;
  reltuples: number;
  bytes: number;
  replident: string;
  reloptions: string[] | null;
  owner: string;
  rls: boolean;
  forcerls: boolean;
  hasrules: boolean;
}

export async function tableOid(db: Db, ref: TableRef): Promise<RelRow> {
  const rows = await catalog<RelRow>(
    db,
    `SELECT c.oid::int8 AS oid, c.relkind, c.relispartition, c.reltuples, pg_total_relation_size(c.oid) AS bytes,
            c.relreplident AS replident, c.reloptions, pg_get_userbyid(c.relowner) AS owner,
            c.relrowsecurity AS rls, c.relforcerowsecurity AS forcerls, c.relhasrules AS hasrules
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
    [ref.schema, ref.name],
  );
  if (rows[0]) return rows[0];
  const schema = await catalog<{ n: string }>(db, `SELECT nspname AS n FROM pg_namespace WHERE nspname = $1`, [ref.schema]);
  if (!schema[0]) throw new RefusedError('E_NO_TABLE', `schema "${ref.schema}" does not exist`, { hint: 'check the schema name (unquoted names are folded to lower case)' });
  throw new RefusedError('E_NO_TABLE', `table "${ref.schema}"."${ref.name}" does not exist`, { hint: 'check the table name (unquoted names are folded to lower case)' });
}

interface ColRow {
  name: string;
  type: string;
  nullable: boolean;
  def: string | null;
  generated: string;
  identity: string;
  collation: string | null;
}

async function columns(db: Db, oid: number): Promise<ColumnInfo[]> {
  const rows = await catalog<ColRow>(
    db,
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable,
            pg_get_expr(d.adbin, d.adrelid) AS def, a.attgenerated AS generated, a.attidentity AS identity,
            CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN co.collname END AS collation
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       LEFT JOIN pg_collation co ON co.oid = a.attcollation
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [oid],
  );
  return rows.map((r) => ({
    name: r.name,
    type: r.type,
    nullable: r.nullable,
    default: r.generated ? null : r.def,
    generated: r.generated === 's' ? 'stored' : null,
    generationExpression: r.generated ? r.def : null,
    identity: r.identity === 'a' ? 'always' : r.identity === 'd' ? 'by default' : null,
    collation: r.collation,
  }));
}

interface IdxRow {
  name: string;
  primary: boolean;
  unique: boolean;
  partial: boolean;
  expression: boolean;
  deferrable: boolean;
  nullable: boolean;
  columns: string[];
  definition: string;
}

async function indexes(db: Db, oid: number): Promise<IdxRow[]> {
  return catalog<IdxRow>(
    db,
    `SELECT i.relname AS name, x.indisprimary AS primary, x.indisunique AS unique,
            x.indpred IS NOT NULL AS partial, x.indexprs IS NOT NULL AS expression,
            coalesce(con.condeferrable, false) AS deferrable,
            EXISTS (SELECT 1 FROM unnest(x.indkey::int2[]) k(n) JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n
                     WHERE NOT a.attnotnull) AS nullable,
            ARRAY(SELECT a.attname FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(n, o)
                    JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n
                   WHERE k.o <= x.indnkeyatts ORDER BY k.o) AS columns,
            pg_get_indexdef(x.indexrelid) AS definition
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
       LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid AND con.contype IN ('p', 'u')
      WHERE x.indrelid = $1 ORDER BY NOT x.indisprimary, i.relname`,
    [oid],
  );
}

function toKey(r: IdxRow): KeyInfo {
  const reason = r.partial ? 'partial index (WHERE ...)' : r.expression ? 'expression index' : r.deferrable ? 'deferrable constraint' : r.nullable ? 'nullable column' : undefined;
  const key: KeyInfo = { name: r.name, columns: r.columns, primary: r.primary, unique: true, hasNullableColumn: r.nullable, usableForCopy: reason === undefined };
  if (reason) key.reason = reason;
  return key;
}

const ACTIONS: Record<string, string> = { a: 'NO ACTION', r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' };

interface FkRow {
  name: string;
  schema: string;
  table: string;
  columns: string[];
  rschema: string;
  rtable: string;
  rcolumns: string[];
  upd: string;
  del: string;
  conrelid: number;
  confrelid: number;
}

export async function foreignKeys(db: Db, oid: number): Promise<FkRow[]> {
  return catalog<FkRow>(
    db,
    `SELECT con.conname AS name, cn.nspname AS schema, c.relname AS table, rn.nspname AS rschema, r.relname AS rtable,
            ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o) AS columns,
            ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.o) AS rcolumns,
            con.confupdtype AS upd, con.confdeltype AS del, con.conrelid::int8 AS conrelid, con.confrelid::int8 AS confrelid
       FROM pg_constraint con
       JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
       JOIN pg_class r ON r.oid = con.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
      WHERE con.contype = 'f' AND con.conparentid = 0 AND (con.conrelid = $1 OR con.confrelid = $1)
      ORDER BY con.conname`,
    [oid],
  );
}

function toFk(r: FkRow): ForeignKeyInfo {
  return {
    name: r.name,
    table: { schema: r.schema, name: r.table },
    columns: r.columns,
    referencedTable: { schema: r.rschema, name: r.rtable },
    referencedColumns: r.rcolumns,
    onUpdate: ACTIONS[r.upd] ?? r.upd,
    onDelete: ACTIONS[r.del] ?? r.del,
  };
}

async function triggers(db: Db, oid: number): Promise<TriggerInfo[]> {
  const rows = await catalog<{ name: string; type: number; def: string }>(
    db,
    `SELECT tgname AS name, tgtype::int AS type, pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE tgrelid = $1 AND NOT tgisinternal ORDER BY tgname`,
    [oid],
  );
  return rows.map((r) => {
    // tgtype bits (pg_trigger.h): 1 ROW, 2 BEFORE, 4 INSERT, 8 DELETE, 16 UPDATE, 32 TRUNCATE, 64 INSTEAD
    const events = [[4, 'INSERT'], [8, 'DELETE'], [16, 'UPDATE'], [32, 'TRUNCATE']].filter(([bit]) => r.type & (bit as number)).map(([, e]) => e as string);
    const timing = r.type & 2 ? 'BEFORE' : r.type & 64 ? 'INSTEAD OF' : 'AFTER';
    return { name: r.name, timing, events, definition: r.def };
  });
}

/** The key the copy uses: the primary key if usable, else the usable unique key with fewest columns. */
export function pickCopyKey(primary: KeyInfo | null, uniques: KeyInfo[]): KeyInfo | null {
  if (primary?.usableForCopy) return primary;
  const usable = uniques.filter((k) => k.usableForCopy).sort((a, b) => a.columns.length - b.columns.length);
  return usable[0] ?? null;
}

export async function inspectTable(db: Db, ref: TableRef): Promise<TableInfo> {
  const rel = await tableOid(db, ref);
  const oid = rel.oid;
  const [cols, idx, fks, trg, parts, rules, views, seqs] = await Promise.all([
    columns(db, oid),
    indexes(db, oid),
    foreignKeys(db, oid),
    triggers(db, oid),
    catalog<{ n: string }>(db, `SELECT c.relname AS n FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1 ORDER BY 1`, [oid]),
    catalog<{ n: string }>(db, `SELECT rulename AS n FROM pg_rewrite WHERE ev_class = $1 AND rulename <> '_RETURN' ORDER BY 1`, [oid]),
    catalog<{ n: string }>(
      db,
      // A view's dependency on the table is recorded from its _RETURN rule.
      `SELECT DISTINCT format('%I.%I', vn.nspname, v.relname) AS n
         FROM pg_depend d JOIN pg_rewrite rw ON rw.oid = d.objid JOIN pg_class v ON v.oid = rw.ev_class
         JOIN pg_namespace vn ON vn.oid = v.relnamespace
        WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = $1 AND v.oid <> $1 ORDER BY 1`,
      [oid],
    ),
    catalog<{ n: string }>(
      db,
      // 'a' = OWNED BY (serial), 'i' = identity column's internal sequence.
      `SELECT format('%I.%I', sn.nspname, s.relname) AS n FROM pg_depend d
         JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
        WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = $1 AND d.deptype IN ('a', 'i') ORDER BY 1`,
      [oid],
    ),
  ]);
  const primary = idx.find((i) => i.primary);
  const primaryKey = primary ? toKey(primary) : null;
  const uniqueKeys = idx.filter((i) => i.unique && !i.primary).map(toKey);
  const indexList: IndexInfo[] = idx.map((i) => ({ name: i.name, columns: i.columns, unique: i.unique, definition: i.definition }));
  return {
    ref,
    columns: cols,
    primaryKey,
    uniqueKeys,
    indexes: indexList,
    copyKey: pickCopyKey(primaryKey, uniqueKeys),
    foreignKeys: fks.filter((f) => f.conrelid === oid).map(toFk),
    referencedBy: fks.filter((f) => f.confrelid === oid).map(toFk),
    triggers: trg,
    partitioned: rel.relkind === 'p',
    partitions: parts.map((p) => p.n),
    dependentViews: views.map((v) => v.n),
    ownedSequences: seqs.map((s) => s.n),
    estimatedRows: await estimateRows(db, ref, rel.reltuples),
    estimatedBytes: rel.bytes,
    extra: {
      replicaIdentity: { d: 'default', n: 'nothing', f: 'full', i: 'index' }[rel.replident] ?? rel.replident,
      reloptions: rel.reloptions ?? [],
      owner: rel.owner,
      rls: rel.rls,
      forceRls: rel.forcerls,
      hasRules: rel.hasrules,
      rules: rules.map((r) => r.n),
      isPartition: rel.relispartition,
      oid,
    },
  };
}

/**
 * reltuples is -1 until the table was first vacuumed or analyzed (PG 14+),
 * so a table filled by the previous migration file looks empty. Then count,
 * capped so a huge never-analyzed table costs a bounded scan.
 */
const COUNT_CAP = 5_000_000;
async function estimateRows(db: Db, ref: TableRef, reltuples: number): Promise<number> {
  if (reltuples >= 0) return Math.round(reltuples);
  const rows = await catalog<{ n: string }>(db, `SELECT count(*) AS n FROM (SELECT 1 FROM ${qualified(ref)} LIMIT $1) s`, [COUNT_CAP]);
  return Number(rows[0]?.n ?? 0);
}
