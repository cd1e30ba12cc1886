/**
 * Names of the helper objects of one migration, shared by both engines:
 * ghost `_t_gho` (`t_gho` on MySQL, see ghostNameAfter), old table `_t_del`,
 * changelog `_t_ghc`, PG slot/publication.
 * MySQL limits identifiers to 64 characters, PostgreSQL to 63 bytes (and
 * silently truncates longer ones, which could make two names collide), so a
 * long table name is cut on a character boundary and suffixed with a hash.
 */
import { createHash } from 'node:crypto';
import { RefusedError } from '../errors.js';
import type { Dialect } from '../connection.js';

export type HelperKind = 'gho' | 'del' | 'ghc';

function shortHash(text: string): string {
  return createHash('sha1').update(text).digest('hex').slice(0, 8);
}

/** Cuts text to at most maxBytes UTF-8 bytes without splitting a character. */
export function truncateBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let out = '';
  for (const ch of text) {
    if (Buffer.byteLength(out + ch) > maxBytes) break;
    out += ch;
  }
  return out;
}

export function helperTableName(table: string, kind: HelperKind, maxBytes: number): string {
  const full = `_${table}_${kind}`;
  if (Buffer.byteLength(full) <= maxBytes) return full;
  const suffix = `_${shortHash(table)}_${kind}`;
  return `_${truncateBytes(table, maxBytes - 1 - suffix.length)}${suffix}`;
}

/**
 * The MySQL ghost's name must sort AFTER the table's, byte for byte (and
 * lowercased, for lower_case_table_names): RENAME TABLE takes its metadata
 * locks in that order, and the cut-over is only safe when the rename's first
 * wait is on the table itself (see engine/mysql/cutover.ts). `t_gho` has `t`
 * as a prefix, so it always does; a name too long for that is cut and
 * continued with `~` (0x7E, above every ASCII letter and digit) and a hash.
 * Null when no such name exists (a cut landing on `~` or a non-ASCII byte).
 */
export function ghostNameAfter(table: string, maxBytes: number): string | null {
  const full = `${table}_gho`;
  if (Buffer.byteLength(full) <= maxBytes) return full;
  const suffix = `~${shortHash(table)}_gho`;
  const name = `${truncateBytes(table, maxBytes - suffix.length)}${suffix}`;
  const after = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b)) > 0;
  return after(name, table) && after(name.toLowerCase(), table.toLowerCase()) ? name : null;
}

export interface HelperNames {
  ghost: string;
  old: string;
  changelog: string;
}

/** The helper tables of one migration of `table` on `dialect`. */
export function helperNames(dialect: Dialect, table: string, maxBytes: number): HelperNames {
  let ghost = helperTableName(table, 'gho', maxBytes);
  if (dialect === 'mysql') {
    const after = ghostNameAfter(table, maxBytes);
    if (!after) {
      throw new RefusedError('E_TABLE_NAME', `no ghost table name both fits ${maxBytes} bytes and sorts after ${table}, which a safe cut-over needs`, {
        hint: 'rename the table to something shorter first',
      });
    }
    ghost = after;
  }
  return { ghost, old: helperTableName(table, 'del', maxBytes), changelog: helperTableName(table, 'ghc', maxBytes) };
}

export const SLOT_PREFIX = 'ghostwright_';

/** Replication slot / publication name: [a-z0-9_], fixed prefix so leftovers can be swept. */
export function slotName(schema: string, table: string): string {
  return `${SLOT_PREFIX}${shortHash(`${schema}.${table}`)}_${process.pid}`;
}

export function publicationName(schema: string, table: string): string {
  return `${SLOT_PREFIX}pub_${shortHash(`${schema}.${table}`)}`;
}
