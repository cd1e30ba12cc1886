/**
 * Names of the helper objects of one migration, shared by both engines:
 * ghost `_t_gho` (`t_gho` on MySQL, see ghostNameAfter), old table `_t_del`,
 * changelog `_t_ghc`, PG slot/publication.
 * MySQL limits identifiers to 64 characters, PostgreSQL to 63 bytes (and
 * silently truncates longer ones, which could make two names collide), so a
 * long table name is cut on a character boundary and suffixed with a hash.
 * Each engine states its limit as a capability (identifierLimit).
 */
import { createHash } from 'node:crypto';
import { RefusedError } from '../errors.js';
import type { Dialect } from '../connection.js';
import type { IdentifierLimit } from '../engine/engine.js';

export type { IdentifierLimit };

export type HelperKind = 'gho' | 'del' | 'ghc';

export const MYSQL_IDENTIFIER_LIMIT: IdentifierLimit = Object.freeze({ max: 64, unit: 'characters' });
export const PG_IDENTIFIER_LIMIT: IdentifierLimit = Object.freeze({ max: 63, unit: 'bytes' });

const asLimit = (limit: IdentifierLimit | number): IdentifierLimit => (typeof limit === 'number' ? { max: limit, unit: 'bytes' } : limit);
const measure = (text: string, unit: IdentifierLimit['unit']): number => (unit === 'bytes' ? Buffer.byteLength(text) : [...text].length);

function shortHash(text: string): string {
  return createHash('sha1').update(text).digest('hex').slice(0, 8);
}

/** Cuts text to at most maxBytes UTF-8 bytes without splitting a character. */
export function truncateBytes(text: string, maxBytes: number): string {
  return truncate(text, { max: maxBytes, unit: 'bytes' });
}

/** Cuts text to the limit without splitting a character. */
function truncate(text: string, limit: IdentifierLimit): string {
  if (measure(text, limit.unit) <= limit.max) return text;
  let out = '';
  for (const ch of text) {
    if (measure(out + ch, limit.unit) > limit.max) break;
    out += ch;
  }
  return out;
}

export function helperTableName(table: string, kind: HelperKind | `${string}_del`, limit: IdentifierLimit | number): string {
  const l = asLimit(limit);
  const full = `_${table}_${kind}`;
  if (measure(full, l.unit) <= l.max) return full;
  const suffix = `_${shortHash(table)}_${kind}`;
  return `_${truncate(table, { max: l.max - 1 - suffix.length, unit: l.unit })}${suffix}`;
}

/**
 * The MySQL ghost's name must sort AFTER the table's, byte for byte (and
 * lowercased, for lower_case_table_names): RENAME TABLE takes its metadata
 * locks in that order, and the cut-over is only safe when the rename's first
 * wait is on the table itself (see engine/mysql/cutover.ts). `t_gho` has `t`
 * as a prefix, so it always does; a name too long for that is cut and
 * continued with a marker and a hash: `~` (0x7E, above every ASCII letter and
 * digit), or where the cut lands on a non-ASCII character, U+FFEE (UTF-8
 * EF BF AE, above every character but U+FFEF..U+FFFF; MySQL identifiers hold
 * only the Basic Multilingual Plane). Null when no such name exists.
 */
export function ghostNameAfter(table: string, limit: IdentifierLimit | number): string | null {
  const l = asLimit(limit);
  const full = `${table}_gho`;
  if (measure(full, l.unit) <= l.max) return full;
  const after = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b)) > 0;
  for (const marker of ['~', '\uFFEE']) {
    const suffix = `${marker}${shortHash(table)}_gho`;
    const name = `${truncate(table, { max: l.max - measure(suffix, l.unit), unit: l.unit })}${suffix}`;
    if (after(name, table) && after(name.toLowerCase(), table.toLowerCase())) return name;
  }
  return null;
}

export interface HelperNames {
  ghost: string;
  old: string;
  changelog: string;
}

/** gh-ost's --timestamp-old-table stamp: `20261206031500` (UTC, to the second). */
export function oldTableStamp(at: Date): string {
  return at.toISOString().replace(/\D/g, '').slice(0, 14);
}

const STAMPED = /_(\d{14})_del$/;

/** Whether `name` is an old table of `table` kept by a --timestamp-old-table run (`_t_20261206031500_del`). */
export function isStampedOldTable(dialect: Dialect, table: string, name: string, limit?: IdentifierLimit | number): boolean {
  const stamp = STAMPED.exec(name)?.[1];
  return stamp !== undefined && helperNames(dialect, table, limit, stamp).old === name;
}

/**
 * The helper tables of one migration of `table` on `dialect` (limit: the
 * engine's identifierLimit capability). `stamp` (oldTableStamp): the old
 * table is `_t_<stamp>_del`, so a kept `_t_del` does not stand in the way.
 */
export function helperNames(dialect: Dialect, table: string, limit: IdentifierLimit | number = dialect === 'mysql' ? MYSQL_IDENTIFIER_LIMIT : PG_IDENTIFIER_LIMIT, stamp?: string): HelperNames {
  let ghost = helperTableName(table, 'gho', limit);
  if (dialect === 'mysql') {
    const after = ghostNameAfter(table, limit);
    if (!after) {
      const l = asLimit(limit);
      throw new RefusedError('E_TABLE_NAME', `no ghost table name both fits ${l.max} ${l.unit} and sorts after ${table}, which a safe cut-over needs`, {
        hint: 'rename the table to something shorter first',
      });
    }
    ghost = after;
  }
  return { ghost, old: helperTableName(table, stamp ? `${stamp}_del` : 'del', limit), changelog: helperTableName(table, 'ghc', limit) };
}

export const SLOT_PREFIX = 'ghostwright_';

/** Replication slot / publication name: [a-z0-9_], fixed prefix so leftovers can be swept. */
export function slotName(schema: string, table: string): string {
  return `${SLOT_PREFIX}${shortHash(`${schema}.${table}`)}_${process.pid}`;
}

export function publicationName(schema: string, table: string): string {
  return `${SLOT_PREFIX}pub_${shortHash(`${schema}.${table}`)}`;
}
