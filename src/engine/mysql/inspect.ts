/**
 * Reads a table's shape from information_schema. Lookups filter on
 * TABLE_SCHEMA/TABLE_NAME constants so the server opens only that table's
 * metadata; the exact (case-sensitive) name is re-checked here because
 * information_schema compares case-insensitively.
 */
import { RefusedError } from '../../errors.js';
import type { ColumnInfo, ForeignKeyInfo, IndexInfo, KeyInfo, TableInfo, TableRef, TriggerInfo } from '../engine.js';
import { queryRows, type Queryable, type Row } from './connect.js';
import { qualified } from './ident.js';
import { likeContains } from './sql.js';

const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

async function tableRow(conn: Queryable, ref: TableRef): Promise<Row> {
  const rows = await queryRows(
    conn,
    'SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_ROWS, DATA_LENGTH, INDEX_LENGTH, TABLE_COLLATION, ROW_FORMAT, CREATE_OPTIONS, @@lower_case_table_names AS LCTN FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    [ref.schema, ref.name],
  );
  // information_schema compares case-insensitively and ignores trailing
  // spaces ('lead ' = 'lead'): match the name exactly, folding case only
  // where the server itself does (lower_case_table_names 1 or 2).
  const same = (a: unknown, b: string, fold: boolean): boolean => (fold ? str(a).toLowerCase() === b.toLowerCase() : str(a) === b);
  const row = rows.find((r) => same(r.TABLE_SCHEMA, ref.schema, false) && same(r.TABLE_NAME, ref.name, false)) ?? rows.find((r) => Number(r.LCTN) !== 0 && same(r.TABLE_SCHEMA, ref.schema, true) && same(r.TABLE_NAME, ref.name, true));
  if (!row) {
    const schema = await queryRows(conn, 'SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [ref.schema]);
    throw new RefusedError('E_NO_TABLE', schema.length ? `table ${ref.schema}.${ref.name} does not exist` : `database ${ref.schema} does not exist`, {
      hint: 'check the table name (database.table) and the database in the URL',
    });
  }
  if (str(row.TABLE_TYPE) !== 'BASE TABLE') {
    throw new RefusedError('E_NO_TABLE', `${ref.schema}.${ref.name} is a ${str(row.TABLE_TYPE).toLowerCase()}, not a table`, { hint: 'ALTER the underlying table instead' });
  }
  return row;
}

export function columnFromRow(r: Row, flavor: string): ColumnInfo {
  const extra = str(r.EXTRA).toUpperCase();
  const generated = extra.includes('VIRTUAL') ? 'virtual' : extra.includes('STORED') || extra.includes('PERSISTENT') ? 'stored' : null;
  let def = strOrNull(r.COLUMN_DEFAULT);
  // MariaDB >= 10.2.7 prints an explicit NULL default as the text NULL.
  if (flavor === 'mariadb' && def === 'NULL') def = null;
  return {
    name: str(r.COLUMN_NAME),
    type: str(r.COLUMN_TYPE),
    nullable: str(r.IS_NULLABLE) === 'YES',
    default: generated ? null : def,
    generated,
    generationExpression: generated ? strOrNull(r.GENERATION_EXPRESSION) : null,
    identity: extra.includes('AUTO_INCREMENT') ? 'auto_increment' : null,
    collation: strOrNull(r.COLLATION_NAME),
  };
}

interface IndexPart {
  column: string | null;
  subPart: number | null;
  nullable: boolean;
}

/** Groups STATISTICS rows into keys and indexes; unique keys usable for the copy are NOT NULL and whole-column. */
export function keysFromStatistics(rows: Row[], columns: ColumnInfo[]): { primaryKey: KeyInfo | null; uniqueKeys: KeyInfo[]; indexes: IndexInfo[] } {
  const byName = new Map<string, { unique: boolean; type: string; parts: IndexPart[] }>();
  for (const r of rows) {
    const name = str(r.INDEX_NAME);
    let idx = byName.get(name);
    if (!idx) {
      idx = { unique: Number(r.NON_UNIQUE) === 0, type: str(r.INDEX_TYPE), parts: [] };
      byName.set(name, idx);
    }
    idx.parts[Number(r.SEQ_IN_INDEX) - 1] = { column: strOrNull(r.COLUMN_NAME), subPart: r.SUB_PART === null || r.SUB_PART === undefined ? null : Number(r.SUB_PART), nullable: str(r.NULLABLE) === 'YES' };
  }
  const colByName = new Map(columns.map((c) => [c.name.toLowerCase(), c]));
  let primaryKey: KeyInfo | null = null;
  const uniqueKeys: KeyInfo[] = [];
  const indexes: IndexInfo[] = [];
  for (const [name, idx] of byName) {
    const parts = idx.parts.filter(Boolean);
    const colNames = parts.map((p) => p.column ?? '(expression)');
    indexes.push({ name, columns: colNames, unique: idx.unique, definition: `${idx.type} (${parts.map((p) => (p.subPart ? `${p.column}(${p.subPart})` : p.column ?? '(expression)')).join(', ')})` });
    if (!idx.unique) continue;
    const hasNullable = parts.some((p) => p.nullable || (p.column !== null && colByName.get(p.column.toLowerCase())?.nullable === true));
    let reason: string | undefined;
    if (parts.some((p) => p.column === null)) reason = 'functional key part';
    else if (parts.some((p) => p.subPart !== null)) reason = 'prefix key part';
    else if (hasNullable) reason = 'nullable column';
    else if (parts.some((p) => colByName.get(p.column!.toLowerCase())?.generated === 'virtual')) reason = 'virtual generated column';
    const key: KeyInfo = { name, columns: colNames, primary: name === 'PRIMARY', unique: true, hasNullableColumn: hasNullable, usableForCopy: reason === undefined };
    if (reason) key.reason = reason;
    if (key.primary) primaryKey = key;
    else uniqueKeys.push(key);
  }
  return { primaryKey, uniqueKeys, indexes };
}

async function foreignKeys(conn: Queryable, ref: TableRef, direction: 'from' | 'to'): Promise<ForeignKeyInfo[]> {
  const filter = direction === 'from' ? 'k.TABLE_SCHEMA = ? AND k.TABLE_NAME = ?' : 'k.REFERENCED_TABLE_SCHEMA = ? AND k.REFERENCED_TABLE_NAME = ?';
  const rows = await queryRows(
    conn,
    `SELECT k.CONSTRAINT_NAME, k.TABLE_SCHEMA, k.TABLE_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, k.ORDINAL_POSITION, rc.UPDATE_RULE, rc.DELETE_RULE
       FROM information_schema.KEY_COLUMN_USAGE k
       JOIN information_schema.REFERENTIAL_CONSTRAINTS rc ON rc.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND rc.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND rc.TABLE_NAME = k.TABLE_NAME
      WHERE ${filter} AND k.REFERENCED_TABLE_NAME IS NOT NULL
      ORDER BY k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION`,
    [ref.schema, ref.name],
  );
  const byKey = new Map<string, ForeignKeyInfo>();
  for (const r of rows) {
    const id = `${str(r.TABLE_SCHEMA)}\u0000${str(r.TABLE_NAME)}\u0000${str(r.CONSTRAINT_NAME)}`;
    let fk = byKey.get(id);
    if (!fk) {
      fk = {
        name: str(r.CONSTRAINT_NAME),
        table: { schema: str(r.TABLE_SCHEMA), name: str(r.TABLE_NAME) },
        columns: [],
        referencedTable: { schema: str(r.REFERENCED_TABLE_SCHEMA), name: str(r.REFERENCED_TABLE_NAME) },
        referencedColumns: [],
        onUpdate: str(r.UPDATE_RULE),
        onDelete: str(r.DELETE_RULE),
      };
      byKey.set(id, fk);
    }
    fk.columns.push(str(r.COLUMN_NAME));
    fk.referencedColumns.push(str(r.REFERENCED_COLUMN_NAME));
  }
  return [...byKey.values()];
}

async function triggers(conn: Queryable, ref: TableRef): Promise<TriggerInfo[]> {
  const rows = await queryRows(
    conn,
    'SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ? ORDER BY ACTION_ORDER',
    [ref.schema, ref.name],
  );
  return rows.map((r) => ({ name: str(r.TRIGGER_NAME), timing: str(r.ACTION_TIMING), events: [str(r.EVENT_MANIPULATION)], definition: str(r.ACTION_STATEMENT) }));
}

export async function inspectTable(conn: Queryable, ref: TableRef, flavor: string): Promise<TableInfo> {
  const t = await tableRow(conn, ref);
  const exact = { schema: ref.schema, name: str(t.TABLE_NAME) };
  // Independent reads of information_schema: side by side on a pool (each
  // takes 2-30 ms; one after the other they were ~40-100 ms of every run's
  // start, twice: the original, then the ghost). A single connection queues them.
  const [colRows, statRows, partRows, viewRows, foreignKeysFrom, referencedBy, triggerList] = await Promise.all([
    queryRows(
      conn,
      'SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, GENERATION_EXPRESSION, COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
      [exact.schema, exact.name],
    ),
    queryRows(
      conn,
      'SELECT INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART, NULLABLE, INDEX_TYPE FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY INDEX_NAME = \'PRIMARY\' DESC, NON_UNIQUE, INDEX_NAME, SEQ_IN_INDEX',
      [exact.schema, exact.name],
    ),
    queryRows(
      conn,
      'SELECT PARTITION_NAME FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND PARTITION_NAME IS NOT NULL ORDER BY PARTITION_ORDINAL_POSITION',
      [exact.schema, exact.name],
    ),
    // Views store their definition with fully qualified, backtick-quoted names.
    queryRows(conn, 'SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.VIEWS WHERE VIEW_DEFINITION LIKE ?', [likeContains(qualified(exact))]),
    foreignKeys(conn, exact, 'from'),
    foreignKeys(conn, exact, 'to'),
    triggers(conn, exact),
  ]);
  const columns = colRows.map((r) => columnFromRow(r, flavor));
  const { primaryKey, uniqueKeys, indexes } = keysFromStatistics(statRows, columns);
  const copyKey = primaryKey?.usableForCopy ? primaryKey : (uniqueKeys.find((k) => k.usableForCopy) ?? null);
  return {
    ref: exact,
    columns,
    primaryKey,
    uniqueKeys,
    indexes,
    copyKey,
    foreignKeys: foreignKeysFrom,
    referencedBy,
    triggers: triggerList,
    partitioned: partRows.length > 0,
    partitions: partRows.map((r) => str(r.PARTITION_NAME)),
    dependentViews: viewRows.map((r) => `${str(r.TABLE_SCHEMA)}.${str(r.TABLE_NAME)}`),
    ownedSequences: [],
    estimatedRows: Number(t.TABLE_ROWS ?? 0),
    estimatedBytes: Number(t.DATA_LENGTH ?? 0) + Number(t.INDEX_LENGTH ?? 0),
    extra: {
      engine: strOrNull(t.ENGINE),
      charset: strOrNull(t.TABLE_COLLATION)?.split('_')[0] ?? null,
      collation: strOrNull(t.TABLE_COLLATION),
      rowFormat: strOrNull(t.ROW_FORMAT),
      createOptions: strOrNull(t.CREATE_OPTIONS),
    },
  };
}
