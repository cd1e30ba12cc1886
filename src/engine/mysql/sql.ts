/**
 * MySQL/MariaDB SQL text: the pure statement builders of the online ALTER's
 * copy and of its helper tables (the apply's are in apply-sql.ts). Every
 * builder is `(spec) => { sql, params }`; identifiers go through quoteIdent
 * (ident.ts), values are `?` parameters (mysql2 binds them: BIGINT as
 * strings, binary keys as Buffers).
 */
import type { KeyTuple, TableRef } from '../engine.js';
import type { ColumnPair } from '../../core/columns.js';
import { qualified, quoteIdent } from './ident.js';

export interface Sql {
  sql: string;
  params: unknown[];
}

// ---------------------------------------------------------------- key predicates

export function cols(names: readonly string[]): string {
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

export function where(parts: Sql[]): Sql {
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
