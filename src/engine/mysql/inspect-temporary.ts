/**
 * Reads the shape of a TEMPORARY table, which information_schema does not
 * list (MariaDB 10.11, MySQL 8: TABLES/COLUMNS/STATISTICS show only base
 * tables; temporary tables live in the session). The SHOW statements do see
 * them, on the session that created them: SHOW FULL COLUMNS, SHOW INDEX and
 * SHOW CREATE TABLE. Their rows are mapped onto the information_schema rows
 * inspect.ts reads, so both paths build a TableInfo the same way.
 *
 * Two values differ in form between SHOW COLUMNS and information_schema:
 * - MariaDB (>= 10.2.7) quotes a literal default in COLUMNS.COLUMN_DEFAULT
 *   (`'abc'`, `NULL`) as SHOW CREATE TABLE writes it; SHOW COLUMNS prints the
 *   bare value. MySQL prints the bare value in both. So MariaDB takes the
 *   default from SHOW CREATE TABLE.
 * - GENERATION_EXPRESSION is only in SHOW CREATE TABLE (`AS (expr)`).
 */
import type { TableInfo, TableRef } from '../engine.js';
import { tokenize, type Token } from '../sql-lexer.js';
import { MYSQL_LEX } from './alter-parse.js';
import { queryRows, type Queryable, type Row } from './connect.js';
import { columnFromRow, keysFromStatistics } from './inspect.js';
import { qualified } from './ident.js';

/** Server output, not user input: a version comment in it is text to read, not code to refuse. */
const SHOW_CREATE_LEX = { ...MYSQL_LEX, executableComments: false };

interface ColumnClauses {
  default: string | null;
  generation: string | null;
}

/** The table's SHOW CREATE TABLE text. */
export async function showCreateTable(conn: Queryable, ref: TableRef): Promise<string> {
  return String((await queryRows(conn, `SHOW CREATE TABLE ${qualified(ref)}`))[0]?.['Create Table'] ?? '');
}

/** The temporary table's shape; `create`: its SHOW CREATE TABLE text when the caller has read it already. */
export async function inspectTemporaryTable(conn: Queryable, ref: TableRef, flavor: string, create?: string): Promise<TableInfo> {
  const t = qualified(ref);
  const { columns: clauses, options } = readCreateTable(create ?? (await showCreateTable(conn, ref)));
  const columns = (await queryRows(conn, `SHOW FULL COLUMNS FROM ${t}`)).map((r) => {
    const c = clauses.get(String(r.Field));
    const row: Row = {
      COLUMN_NAME: r.Field,
      COLUMN_TYPE: r.Type,
      IS_NULLABLE: r.Null,
      COLUMN_DEFAULT: flavor === 'mariadb' ? (c?.default ?? null) : r.Default,
      EXTRA: r.Extra,
      GENERATION_EXPRESSION: c?.generation ?? null,
      COLLATION_NAME: r.Collation,
    };
    return columnFromRow(row, flavor);
  });
  const stats = (await queryRows(conn, `SHOW INDEX FROM ${t}`)).map((r) => ({
    INDEX_NAME: r.Key_name,
    NON_UNIQUE: r.Non_unique,
    SEQ_IN_INDEX: r.Seq_in_index,
    COLUMN_NAME: r.Column_name,
    SUB_PART: r.Sub_part,
    NULLABLE: r.Null,
    INDEX_TYPE: r.Index_type,
  }));
  // The order inspect.ts asks information_schema for: PRIMARY, unique, then by name.
  const rank = (r: Row) => (r.INDEX_NAME === 'PRIMARY' ? 0 : 1);
  stats.sort((a, b) => rank(a) - rank(b) || Number(a.NON_UNIQUE) - Number(b.NON_UNIQUE) || String(a.INDEX_NAME).toLowerCase().localeCompare(String(b.INDEX_NAME).toLowerCase()) || Number(a.SEQ_IN_INDEX) - Number(b.SEQ_IN_INDEX));
  const { primaryKey, uniqueKeys, indexes } = keysFromStatistics(stats, columns);
  const collation = options.get('COLLATE') ?? null;
  return {
    ref,
    columns,
    primaryKey,
    uniqueKeys,
    indexes,
    copyKey: primaryKey?.usableForCopy ? primaryKey : (uniqueKeys.find((k) => k.usableForCopy) ?? null),
    // A temporary table has no foreign keys, triggers, partitions or views on it; it is empty.
    foreignKeys: [],
    referencedBy: [],
    triggers: [],
    partitioned: false,
    partitions: [],
    dependentViews: [],
    ownedSequences: [],
    estimatedRows: 0,
    estimatedBytes: 0,
    extra: {
      engine: options.get('ENGINE') ?? null,
      charset: options.get('CHARSET') ?? collation?.split('_')[0] ?? null,
      collation,
      rowFormat: options.get('ROW_FORMAT') ?? null,
      createOptions: null,
    },
  };
}

/** Column DEFAULT / AS (...) texts and the table options (ENGINE=, CHARSET=, ...) of a SHOW CREATE TABLE text. */
export function readCreateTable(create: string): { columns: Map<string, ColumnClauses>; options: Map<string, string> } {
  const tokens = tokenize(create, SHOW_CREATE_LEX).filter((t) => t.kind !== 'space');
  const open = tokens.findIndex((t) => t.kind === 'punct' && t.text === '(');
  const close = open < 0 ? -1 : matching(tokens, open);
  const columns = new Map<string, ColumnClauses>();
  const options = new Map<string, string>();
  if (close < 0) return { columns, options };
  for (const def of splitOnCommas(tokens.slice(open + 1, close))) {
    if (def[0]?.kind !== 'ident') continue; // PRIMARY KEY, KEY, CONSTRAINT ...: not a column
    columns.set(def[0].value, columnClauses(def));
  }
  const tail = tokens.slice(close + 1);
  for (let k = 0; k + 2 < tail.length; k++) {
    if (tail[k]!.kind === 'word' && tail[k + 1]!.text === '=') options.set(tail[k]!.text.toUpperCase(), tail[k + 2]!.value);
  }
  return { columns, options };
}

function columnClauses(def: Token[]): ColumnClauses {
  const out: ColumnClauses = { default: null, generation: null };
  for (let k = 1; k < def.length; k++) {
    const t = def[k]!;
    if (t.kind === 'punct' && t.text === '(') {
      k = matching(def, k);
      continue;
    }
    if (t.kind !== 'word') continue;
    const word = t.text.toUpperCase();
    if (word === 'AS' && def[k + 1]?.text === '(') {
      const end = matching(def, k + 1);
      out.generation = text(def.slice(k + 2, end));
      k = end;
    } else if (word === 'DEFAULT') {
      // One value as the server writes it: 47, -1.5, 'a''b', b'101', current_timestamp(), (expr):
      // its tokens touch each other; a space ends it.
      let end = k + 1;
      for (;;) {
        if (def[end]?.text === '(') end = matching(def, end);
        const next = def[end + 1];
        if (!next || next.start !== def[end]!.end || next.text === ',') break;
        end++;
      }
      out.default = text(def.slice(k + 1, end + 1));
      k = end;
    }
  }
  return out;
}

/** Tokens joined as the server wrote them, with single spaces where it had any. */
function text(tokens: Token[]): string {
  let out = '';
  for (let k = 0; k < tokens.length; k++) {
    const gap = k > 0 && tokens[k]!.start > tokens[k - 1]!.end;
    out += (gap ? ' ' : '') + tokens[k]!.text;
  }
  return out;
}

function matching(tokens: Token[], open: number): number {
  let depth = 0;
  for (let k = open; k < tokens.length; k++) {
    if (tokens[k]!.text === '(' && tokens[k]!.kind === 'punct') depth++;
    else if (tokens[k]!.text === ')' && tokens[k]!.kind === 'punct' && --depth === 0) return k;
  }
  return tokens.length - 1;
}

function splitOnCommas(tokens: Token[]): Token[][] {
  const out: Token[][] = [[]];
  let depth = 0;
  for (const t of tokens) {
    if (t.kind === 'punct' && t.text === '(') depth++;
    else if (t.kind === 'punct' && t.text === ')') depth--;
    if (depth === 0 && t.kind === 'punct' && t.text === ',') out.push([]);
    else out[out.length - 1]!.push(t);
  }
  return out;
}
