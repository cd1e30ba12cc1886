/**
 * MySQL/MariaDB SQL text: the one identifier-quoting function and the pure
 * statement builders of the online ALTER. Every builder is `(spec) => { sql,
 * params }`; identifiers go through quoteIdent, values are `?` parameters
 * (mysql2 binds them: BIGINT as strings, binary keys as Buffers).
 */
import { RefusedError } from '../../errors.js';
import type { KeyTuple, TableRef } from '../engine.js';
import type { ColumnPair } from '../../core/columns.js';

export interface Sql {
  sql: string;
  params: unknown[];
}

/** MySQL limits database, table, column and index names to 64 characters. */
export const MAX_IDENTIFIER_CHARS = 64;

/** Backtick-quotes an identifier, doubling embedded backticks. */
export function quoteIdent(name: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new RefusedError('E_BAD_IDENTIFIER', 'an identifier may not be empty', { hint: 'name the table or column' });
  }
  if (name.includes('\u0000')) {
    throw new RefusedError('E_BAD_IDENTIFIER', 'an identifier may not contain a NUL character', { hint: 'check the table or column name' });
  }
  if ([...name].length > MAX_IDENTIFIER_CHARS) {
    throw new RefusedError('E_BAD_IDENTIFIER', `identifier longer than ${MAX_IDENTIFIER_CHARS} characters: ${name.slice(0, 70)}...`, {
      hint: 'MySQL/MariaDB identifiers are at most 64 characters',
    });
  }
  return '`' + name.replace(/`/g, '``') + '`';
}

/** `schema`.`table` */
export function qualified(ref: TableRef): string {
  return `${quoteIdent(ref.schema)}.${quoteIdent(ref.name)}`;
}

/**
 * Parses `t`, `db.t`, and backtick-quoted parts (`` `my.db`.`t` ``) into a
 * TableRef; the database defaults to the connection's.
 */
export function parseTableRef(text: string, defaultSchema: string): TableRef {
  const parts: string[] = [];
  let i = 0;
  // Taken exactly: ' lead' is not `lead` (names may begin with spaces).
  const s = text;
  while (i < s.length) {
    if (s[i] === '`') {
      let j = i + 1;
      let part = '';
      for (;;) {
        if (j >= s.length) throw badRef(text);
        if (s[j] === '`') {
          if (s[j + 1] === '`') {
            part += '`';
            j += 2;
            continue;
          }
          break;
        }
        part += s[j];
        j++;
      }
      parts.push(part);
      i = j + 1;
    } else {
      const dot = s.indexOf('.', i);
      const end = dot === -1 ? s.length : dot;
      parts.push(s.slice(i, end));
      i = end;
    }
    if (i < s.length) {
      if (s[i] !== '.') throw badRef(text);
      i++;
      if (i >= s.length) throw badRef(text);
    }
  }
  if (parts.length === 1) return { schema: defaultSchema, name: check(parts[0]!, text) };
  if (parts.length === 2) return { schema: check(parts[0]!, text), name: check(parts[1]!, text) };
  throw badRef(text);
}

function check(part: string, text: string): string {
  if (!part) throw badRef(text);
  quoteIdent(part);
  return part;
}

function badRef(text: string): RefusedError {
  return new RefusedError('E_BAD_TABLE', `not a table name: ${text}`, { hint: 'use table or database.table (backticks for names containing dots)' });
}

// ---------------------------------------------------------------- key predicates

function cols(names: readonly string[]): string {
  return names.map(quoteIdent).join(', ');
}

/**
 * Keyset bound over a (possibly composite) key, expanded into ORs of
 * equalities so the range optimizer of every MySQL/MariaDB version turns it
 * into index ranges: (a > ?) OR (a = ? AND b > ?).
 */
export function keyCompare(key: readonly string[], op: '>' | '<=', values: KeyTuple): Sql {
  if (values.length !== key.length) throw new Error(`key has ${key.length} columns, tuple has ${values.length}`);
  const strict = op === '>' ? '>' : '<';
  const ors: string[] = [];
  const params: unknown[] = [];
  for (let i = 0; i < key.length; i++) {
    const ands: string[] = [];
    for (let j = 0; j < i; j++) {
      ands.push(`${quoteIdent(key[j]!)} = ?`);
      params.push(values[j]);
    }
    const last = i === key.length - 1;
    ands.push(`${quoteIdent(key[i]!)} ${last ? op : strict} ?`);
    params.push(values[i]);
    ors.push(ands.length === 1 ? ands[0]! : `(${ands.join(' AND ')})`);
  }
  return { sql: ors.length === 1 ? ors[0]! : `(${ors.join(' OR ')})`, params };
}

/**
 * A DECIMAL key's values arrive as text. MariaDB 10.11 compares a DECIMAL
 * column with a list of two or more text values as DOUBLE: `k IN ('...82.0000000067',
 * '...83.0000000001')` on DECIMAL(30,10) missed one row and matched a neighbour
 * in our tests, so an apply would touch the wrong rows. Equalities convert the
 * value to the column's type and are exact; on a text key they mean the same
 * as IN.
 */
const isNumericText = (v: unknown): boolean => typeof v === 'string' && /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(v);

/** Membership of a batch of key tuples: k IN (?, ?) or (a = ? AND b = ?) OR (...). */
export function keyIn(key: readonly string[], tuples: readonly KeyTuple[], alias = ''): Sql {
  if (tuples.length === 0) throw new Error('keyIn needs at least one key');
  const params: unknown[] = [];
  const col = (c: string) => (alias ? `${alias}.${quoteIdent(c)}` : quoteIdent(c));
  if (key.length === 1 && !tuples.some((t) => isNumericText(t[0]))) {
    for (const t of tuples) params.push(t[0]);
    return { sql: `${col(key[0]!)} IN (${tuples.map(() => '?').join(', ')})`, params };
  }
  const one = `(${key.map((c) => `${col(c)} = ?`).join(' AND ')})`;
  for (const t of tuples) params.push(...t);
  return { sql: `(${tuples.map(() => one).join(' OR ')})`, params };
}

function where(parts: Sql[]): Sql {
  if (parts.length === 0) return { sql: '', params: [] };
  return { sql: ` WHERE ${parts.map((p) => p.sql).join(' AND ')}`, params: parts.flatMap((p) => p.params) };
}

// ---------------------------------------------------------------- copy

export interface KeyScan {
  table: TableRef;
  /** Index name driving the scan (FORCE INDEX keeps the optimizer from a full scan). */
  index: string;
  key: readonly string[];
}

/** Smallest (or largest) key now in the table. */
export function buildKeyBound(spec: KeyScan & { desc: boolean }): Sql {
  const order = spec.key.map((c) => `${quoteIdent(c)}${spec.desc ? ' DESC' : ''}`).join(', ');
  return { sql: `SELECT ${cols(spec.key)} FROM ${qualified(spec.table)} FORCE INDEX (${quoteIdent(spec.index)}) ORDER BY ${order} LIMIT 1`, params: [] };
}

/**
 * The key `offset` rows after `after` (and not beyond `upTo`): the end of a
 * chunk, or a split point for parallel ranges.
 */
export function buildKeyAtOffset(spec: KeyScan & { after: KeyTuple | null; upTo: KeyTuple | null; offset: number }): Sql {
  const conds: Sql[] = [];
  if (spec.after) conds.push(keyCompare(spec.key, '>', spec.after));
  if (spec.upTo) conds.push(keyCompare(spec.key, '<=', spec.upTo));
  const w = where(conds);
  return {
    sql: `SELECT ${cols(spec.key)} FROM ${qualified(spec.table)} FORCE INDEX (${quoteIdent(spec.index)})${w.sql} ORDER BY ${cols(spec.key)} LIMIT 1 OFFSET ?`,
    params: [...w.params, spec.offset],
  };
}

/** Largest key in (after, upTo]: the end of the last, partial chunk. */
export function buildLastKeyInRange(spec: KeyScan & { after: KeyTuple | null; upTo: KeyTuple | null }): Sql {
  const conds: Sql[] = [];
  if (spec.after) conds.push(keyCompare(spec.key, '>', spec.after));
  if (spec.upTo) conds.push(keyCompare(spec.key, '<=', spec.upTo));
  const w = where(conds);
  const desc = spec.key.map((c) => `${quoteIdent(c)} DESC`).join(', ');
  return { sql: `SELECT ${cols(spec.key)} FROM ${qualified(spec.table)} FORCE INDEX (${quoteIdent(spec.index)})${w.sql} ORDER BY ${desc} LIMIT 1`, params: w.params };
}

export interface CopySpec {
  source: TableRef;
  ghost: TableRef;
  pairs: readonly ColumnPair[];
  index: string;
  key: readonly string[];
  after: KeyTuple | null;
  /** Inclusive end of the chunk, read just before. */
  through: KeyTuple;
}

/**
 * One chunk: a closed key range copied in one statement. IGNORE because the
 * stream may already have put a newer version of a row there; the caller
 * inspects the warnings so that nothing else is silently ignored.
 */
export function buildCopyChunk(spec: CopySpec): Sql {
  const conds: Sql[] = [];
  if (spec.after) conds.push(keyCompare(spec.key, '>', spec.after));
  conds.push(keyCompare(spec.key, '<=', spec.through));
  const w = where(conds);
  return {
    sql:
      `INSERT IGNORE INTO ${qualified(spec.ghost)} (${cols(spec.pairs.map((p) => p.target))}) ` +
      `SELECT ${cols(spec.pairs.map((p) => p.source))} FROM ${qualified(spec.source)} FORCE INDEX (${quoteIdent(spec.index)})${w.sql} ORDER BY ${cols(spec.key)}`,
    params: w.params,
  };
}

/** Keys of the original's range missing from the ghost (after a chunk skipped rows on a unique conflict). */
export function buildMissingKeys(spec: Omit<CopySpec, 'pairs'> & { targetKey: readonly string[] }): Sql {
  const conds: Sql[] = [];
  if (spec.after) conds.push(keyCompare(spec.key, '>', spec.after));
  conds.push(keyCompare(spec.key, '<=', spec.through));
  const w = where(conds);
  const s = spec.key.map((c) => `s.${quoteIdent(c)}`).join(', ');
  const on = spec.key.map((c, i) => `g.${quoteIdent(spec.targetKey[i]!)} = s.${quoteIdent(c)}`).join(' AND ');
  return {
    sql: `SELECT ${s} FROM (SELECT ${cols(spec.key)} FROM ${qualified(spec.source)}${w.sql}) s LEFT JOIN ${qualified(spec.ghost)} g ON ${on} WHERE g.${quoteIdent(spec.targetKey[0]!)} IS NULL`,
    params: w.params,
  };
}

// ---------------------------------------------------------------- apply

export interface ApplySpec {
  source: TableRef;
  ghost: TableRef;
  pairs: readonly ColumnPair[];
  sourceKey: readonly string[];
  targetKey: readonly string[];
  keys: readonly KeyTuple[];
  /** The source index over sourceKey: the locking read must use it (see buildApplyInsert). */
  index?: string;
}

/**
 * Key-based apply, step 1: remove every key of the batch from the ghost.
 * Step 2 re-inserts those still in the original with their CURRENT values,
 * so the ghost ends up as the original is now, whatever the events said.
 */
export function buildApplyDelete(spec: ApplySpec): Sql {
  const k = keyIn(spec.targetKey, spec.keys);
  return { sql: `DELETE FROM ${qualified(spec.ghost)} WHERE ${k.sql}`, params: k.params };
}

/**
 * Step 2: a plain INSERT (no IGNORE, no REPLACE): the batch's keys are gone
 * from the ghost, so a duplicate can only come from another unique key of
 * the new shape; REPLACE would silently delete that other row.
 *
 * The read LOCKS IN SHARE MODE: a transaction is written to the binlog
 * before its InnoDB commit becomes visible, so a consistent read right after
 * its event can still see the old row. A locking read waits for the writer's
 * row locks, i.e. for the commit, and then reads the committed row.
 *
 * FORCE INDEX on the key: a batch listing a large share of a (small) table's
 * keys makes the optimizer prefer a full scan, and a locking scan waits for
 * the row lock of EVERY row it passes, even rows not in the batch (READ
 * COMMITTED releases non-matching rows only after acquiring them). One
 * application transaction holding one unrelated row for longer than the
 * migration's catch-up timeout then stalls the apply for good; with the key
 * index the read locks exactly the batch's keys.
 */
export function buildApplyInsert(spec: ApplySpec): Sql {
  const k = keyIn(spec.sourceKey, spec.keys);
  const force = spec.index ? ` FORCE INDEX (${quoteIdent(spec.index)})` : '';
  return {
    sql: `INSERT INTO ${qualified(spec.ghost)} (${cols(spec.pairs.map((p) => p.target))}) SELECT ${cols(spec.pairs.map((p) => p.source))} FROM ${qualified(spec.source)}${force} WHERE ${k.sql} LOCK IN SHARE MODE`,
    params: k.params,
  };
}

/**
 * After a batch's INSERT hit a duplicate on another unique key of the ghost
 * (`uniqueKey`, ghost columns): the keys of the ghost rows outside the batch
 * that hold the values the batch's rows now have in the original. Such a row
 * is stale when its own change (the one that gave the value up) is not
 * applied yet: refreshing it from the original together with the batch ends
 * the collision at once, whatever the stream's lag. When the original itself
 * holds the duplicate, the refreshed batch fails again: a real conflict.
 * Null when a column of the key is not fed by a column of the original.
 */
export function buildCollidingKeys(spec: ApplySpec & { uniqueKey: readonly string[] }): Sql | null {
  const sources: string[] = [];
  for (const c of spec.uniqueKey) {
    const pair = spec.pairs.find((p) => p.target.toLowerCase() === c.toLowerCase());
    if (!pair) return null;
    sources.push(pair.source);
  }
  // No alias for the ghost: under the cut-over's LOCK TABLES an alias is a table that isn't locked.
  const g = qualified(spec.ghost);
  const batch = keyIn(spec.sourceKey, spec.keys);
  const outside = keyIn(spec.targetKey, spec.keys, g);
  const force = spec.index ? ` FORCE INDEX (${quoteIdent(spec.index)})` : '';
  const derived = sources.map((c, i) => `${quoteIdent(c)} AS ${quoteIdent(`_gw${i}`)}`).join(', ');
  const on = spec.uniqueKey.map((c, i) => `${g}.${quoteIdent(c)} = s.${quoteIdent(`_gw${i}`)}`).join(' AND ');
  return {
    sql: `SELECT ${spec.targetKey.map((c) => `${g}.${quoteIdent(c)}`).join(', ')} FROM ${g} JOIN (SELECT ${derived} FROM ${qualified(spec.source)}${force} WHERE ${batch.sql}) s ON ${on} WHERE NOT (${outside.sql})`,
    params: [...batch.params, ...outside.params],
  };
}

/**
 * A locking read of the batch's keys the copy has not reached (key columns
 * only): returns once every transaction that wrote them has committed (see
 * buildApplyInsert), so a chunk that starts afterwards sees those commits.
 */
export function buildLockKeys(spec: ApplySpec): Sql {
  const k = keyIn(spec.sourceKey, spec.keys);
  const force = spec.index ? ` FORCE INDEX (${quoteIdent(spec.index)})` : '';
  return { sql: `SELECT ${cols(spec.sourceKey)} FROM ${qualified(spec.source)}${force} WHERE ${k.sql} LOCK IN SHARE MODE`, params: k.params };
}

// ---------------------------------------------------------------- helpers' DDL

export function buildCreateChangelog(ghc: TableRef): Sql {
  return {
    sql:
      `CREATE TABLE ${qualified(ghc)} (` +
      '`id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT, `hint` VARCHAR(64) NOT NULL, `value` TEXT NULL, ' +
      '`updated_at` DATETIME(6) NOT NULL, PRIMARY KEY (`id`), UNIQUE KEY `hint_uidx` (`hint`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
    params: [],
  };
}

/** Heartbeat/checkpoint row; UTC_TIMESTAMP so the session time zone can't skew the lag. */
export function buildChangelogWrite(ghc: TableRef, hint: string, value: string): Sql {
  return {
    sql: `INSERT INTO ${qualified(ghc)} (\`hint\`, \`value\`, \`updated_at\`) VALUES (?, ?, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE \`value\` = VALUES(\`value\`), \`updated_at\` = VALUES(\`updated_at\`)`,
    params: [hint, value],
  };
}

/** Replica lag: how old the newest heartbeat row this server has is, in microseconds. */
export function buildHeartbeatLag(ghc: TableRef): Sql {
  return {
    sql: `SELECT TIMESTAMPDIFF(MICROSECOND, \`updated_at\`, UTC_TIMESTAMP(6)) AS lag_us FROM ${qualified(ghc)} WHERE \`hint\` = ?`,
    params: ['heartbeat'],
  };
}

export function buildRename(pairs: ReadonlyArray<readonly [TableRef, TableRef]>): Sql {
  return { sql: `RENAME TABLE ${pairs.map(([a, b]) => `${qualified(a)} TO ${qualified(b)}`).join(', ')}`, params: [] };
}

export function buildLockTables(tables: readonly TableRef[]): Sql {
  return { sql: `LOCK TABLES ${tables.map((t) => `${qualified(t)} WRITE`).join(', ')}`, params: [] };
}

/** LIKE pattern matching `text` literally (for VIEW_DEFINITION searches). */
export function likeContains(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
