/**
 * Names of the helper objects of one migration, shared by both engines:
 * ghost `_t_gho`, old table `_t_del`, changelog `_t_ghc`, PG slot/publication.
 * MySQL limits identifiers to 64 characters, PostgreSQL to 63 bytes (and
 * silently truncates longer ones, which could make two names collide), so a
 * long table name is cut on a character boundary and suffixed with a hash.
 */
import { createHash } from 'node:crypto';

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

export const SLOT_PREFIX = 'ghostwright_';

/** Replication slot / publication name: [a-z0-9_], fixed prefix so leftovers can be swept. */
export function slotName(schema: string, table: string): string {
  return `${SLOT_PREFIX}${shortHash(`${schema}.${table}`)}_${process.pid}`;
}

export function publicationName(schema: string, table: string): string {
  return `${SLOT_PREFIX}pub_${shortHash(`${schema}.${table}`)}`;
}
