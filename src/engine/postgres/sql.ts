/**
 * Pure SQL builders of the copy and the apply: `(spec) => { sql, params }`.
 * Identifiers go through quoteIdent; key values travel as text parameters
 * cast to the key columns' exact types (format_type), so a timestamptz or
 * numeric key compares exactly as the server stores it.
 */
import type { TableRef } from '../engine.js';
import type { CopiedSpans } from '../../core/copy-window.js';
import { qualified, quoteIdent } from './ident.js';

export interface Sql {
  sql: string;
  params: unknown[];
}

export interface CopySpec {
  original: TableRef;
  ghost: TableRef;
  /** source column -> ghost column, in ghost order; generated ghost columns excluded. `expression` (from ALTER ... USING) replaces the source column's value. */
  pairs: { source: string; target: string; expression?: string }[];
  sourceKey: string[];
  targetKey: string[];
  /** format_type() of each source key column. */
  keyTypes: string[];
  /**
   * Every unique index of the ghost exists on the original (see
   * uniqueIndexesKept): a unique violation while copying can then only be a
   * stale ghost row whose change is still queued, never a real duplicate.
   */
  onlyTransientConflicts?: boolean;
}

const list = (names: string[], prefix = ''): string => names.map((n) => prefix + quoteIdent(n)).join(', ');
/** The values read from the original: a column, or its USING expression. */
const sourceValues = (spec: CopySpec, prefix = ''): string =>
  spec.pairs.map((p) => (p.expression ? `(${p.expression}) AS ${quoteIdent(p.source)}` : prefix + quoteIdent(p.source))).join(', ');
const row = (names: string[], prefix = ''): string => `(${list(names, prefix)})`;

/** `($1::integer, $2::text)` starting at parameter n. */
function castTuple(types: string[], first: number): string {
  return `(${types.map((t, i) => `$${first + i}::${t}`).join(', ')})`;
}

function keyOrder(spec: CopySpec, dir: 'ASC' | 'DESC', prefix = ''): string {
  return spec.sourceKey.map((k) => `${prefix}${quoteIdent(k)} ${dir}`).join(', ');
}

const keyText = (spec: CopySpec, prefix = ''): string => spec.sourceKey.map((k, i) => `${prefix}${quoteIdent(k)}::text AS k${i}`).join(', ');

export function keyBoundSql(spec: CopySpec, dir: 'ASC' | 'DESC'): Sql {
  return { sql: `SELECT ${keyText(spec)} FROM ${qualified(spec.original)} ORDER BY ${keyOrder(spec, dir)} LIMIT 1`, params: [] };
}

/** Keys of a random sample of pages (TABLESAMPLE SYSTEM), in key order: split points are picked from it. */
export function sampleKeysSql(spec: CopySpec, percent: number): Sql {
  const sample = percent >= 100 ? '' : ` TABLESAMPLE SYSTEM ($1)`;
  return { sql: `SELECT ${keyText(spec)} FROM ${qualified(spec.original)}${sample} ORDER BY ${keyOrder(spec, 'ASC')}`, params: percent >= 100 ? [] : [percent] };
}

/** The batch's keys as a typed relation: unnest of one text[] per key column. */
function keysRelation(spec: CopySpec): string {
  const cols = spec.sourceKey.map((_, i) => `c${i}`);
  const casts = spec.keyTypes.map((t, i) => `k.c${i}::${t} AS c${i}`).join(', ');
  return `(SELECT ${casts} FROM unnest(${spec.keyTypes.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS k(${cols.join(', ')}))`;
}

/** Transposes keys [[a1,b1],[a2,b2]] into one array per key column [[a1,a2],[b1,b2]]. */
export function keyColumns(spec: CopySpec, keys: readonly (readonly unknown[])[]): unknown[] {
  return spec.sourceKey.map((_, i) => keys.map((k) => k[i]));
}

/**
 * The part of the key space the copy has passed (core/copy-window.ts
 * CopiedSpans), for keys JavaScript can't order: every range's copied prefix
 * (after, through], and every key above the last range's closed end (the copy
 * never reaches those; only the stream brings them). A change of a key
 * outside it is left to the copy, which reads the row when it gets there:
 * the ghost never holds a key the copy has yet to insert, so the copy needs
 * no conflict handling on its key. Null: the whole key space (copy done).
 */
/** `AND (...)` restricting `prefix`-qualified source keys to the copied spans; parameters from `first` on. */
function copiedWhere(spec: CopySpec, copied: CopiedSpans | null, prefix: string, first: number): { sql: string; params: unknown[] } {
  if (!copied) return { sql: '', params: [] };
  const sk = row(spec.sourceKey, prefix);
  const params: unknown[] = [];
  const bound = (op: string, key: readonly unknown[]) => {
    const t = `${sk} ${op} ${castTuple(spec.keyTypes, first + params.length)}`;
    params.push(...key);
    return t;
  };
  const terms: string[] = [];
  for (const s of copied.spans) {
    const parts = [s.after ? bound('>', s.after) : '', s.through ? bound('<=', s.through) : ''].filter(Boolean);
    terms.push(parts.length ? `(${parts.join(' AND ')})` : 'true');
  }
  if (copied.above) terms.push(`(${bound('>', copied.above)})`);
  return { sql: ` AND (${terms.length ? terms.join(' OR ') : 'false'})`, params };
}

/*
 * The apply, in two modes (apply.ts):
 * - in place (the default): delete the keys gone from the original, UPDATE
 *   the ghost rows of the others from the original's current rows, insert
 *   those the ghost lacks. An UPDATE that changes no indexed column is a HOT
 *   update (no new index entry): measured faster than delete + insert of
 *   every key, and than an upsert (speculative insertion).
 * - replace (after a unique violation: rows of the batch swapped values of
 *   another unique key): delete every key of the batch, insert the current
 *   rows; the deletes first, so swapped values can't collide.
 * Every read of the original is limited to the copied spans when the window
 * can't place keys (see CopiedSpans).
 */

/** The batch's keys' current rows from the original (their source values), within the copied spans; parameters from $1. */
function currentRows(spec: CopySpec, keys: readonly (readonly unknown[])[], copied: CopiedSpans | null): { sql: string; params: unknown[] } {
  const params = keyColumns(spec, keys);
  const within = copiedWhere(spec, copied, 'o.', params.length + 1);
  const sql =
    `SELECT ${sourceValues(spec, 'o.')} FROM ${qualified(spec.original)} AS o ` +
    `WHERE ${row(spec.sourceKey, 'o.')} IN (SELECT ${spec.sourceKey.map((_, i) => `c${i}`).join(', ')} FROM ${keysRelation(spec)} AS d)${within.sql}`;
  return { sql, params: [...params, ...within.params] };
}

/** Deletes from the ghost the batch's keys that no longer exist in the original. */
export function applyDeleteSql(spec: CopySpec, keys: readonly (readonly unknown[])[]): Sql {
  const d = spec.sourceKey.map((_, i) => `d.c${i}`).join(', ');
  const sql =
    `DELETE FROM ${qualified(spec.ghost)} AS g USING ${keysRelation(spec)} AS d ` +
    `WHERE ${row(spec.targetKey, 'g.')} = (${d}) ` +
    `AND NOT EXISTS (SELECT 1 FROM ${qualified(spec.original)} AS o WHERE ${row(spec.sourceKey, 'o.')} = (${d}))`;
  return { sql, params: keyColumns(spec, keys) };
}

/** Overwrites the ghost rows of the batch's keys with the original's current values; null when every column is a key column. */
export function applyUpdateSql(spec: CopySpec, keys: readonly (readonly unknown[])[], copied: CopiedSpans | null = null): Sql | null {
  const keySet = new Set(spec.targetKey);
  const sets = spec.pairs.filter((p) => !keySet.has(p.target)).map((p) => `${quoteIdent(p.target)} = s.${quoteIdent(p.source)}`);
  if (!sets.length) return null;
  const cur = currentRows(spec, keys, copied);
  return { sql: `UPDATE ${qualified(spec.ghost)} AS g SET ${sets.join(', ')} FROM (${cur.sql}) AS s WHERE ${row(spec.targetKey, 'g.')} = ${row(spec.sourceKey, 's.')}`, params: cur.params };
}

/** Inserts the current rows of the batch's keys from the original; `missing`: only keys the ghost lacks (else after applyRemoveSql). */
export function applyInsertSql(spec: CopySpec, keys: readonly (readonly unknown[])[], copied: CopiedSpans | null = null, missing = false): Sql {
  const cur = currentRows(spec, keys, copied);
  const match = spec.sourceKey.map((k, i) => `g.${quoteIdent(spec.targetKey[i]!)} = o.${quoteIdent(k)}`).join(' AND ');
  const absent = missing ? ` AND NOT EXISTS (SELECT 1 FROM ${qualified(spec.ghost)} AS g WHERE ${match})` : '';
  return { sql: `INSERT INTO ${qualified(spec.ghost)} (${list(spec.pairs.map((p) => p.target))}) OVERRIDING SYSTEM VALUE ${cur.sql}${absent}`, params: cur.params };
}

/** Deletes every key of the batch from the ghost (replace mode; applyInsertSql then inserts their current rows). */
export function applyRemoveSql(spec: CopySpec, keys: readonly (readonly unknown[])[]): Sql {
  const d = spec.sourceKey.map((_, i) => `d.c${i}`).join(', ');
  return { sql: `DELETE FROM ${qualified(spec.ghost)} AS g USING ${keysRelation(spec)} AS d WHERE ${row(spec.targetKey, 'g.')} = (${d})`, params: keyColumns(spec, keys) };
}

/** An index definition without its name and table: `U btree (email)`. */
export function indexShape(unique: boolean, definition: string | undefined): string {
  return `${unique ? 'U ' : ''}${(definition ?? '').replace(/^.*? USING /, '')}`;
}

/** True when every unique index of the ghost has the same shape on the original (the original satisfies them all). */
export function uniqueIndexesKept(original: { indexes: { unique: boolean; definition?: string }[] }, ghost: { indexes: { unique: boolean; definition?: string }[] }): boolean {
  const kept = new Set(original.indexes.filter((i) => i.unique).map((i) => indexShape(true, i.definition)));
  return ghost.indexes.filter((i) => i.unique).every((i) => kept.has(indexShape(true, i.definition)));
}

/** The key `limit` rows after `after` (within upTo): the inclusive end of the next chunk, or no row when fewer remain. */
export function chunkEndSql(spec: CopySpec, after: readonly unknown[] | null, upTo: readonly unknown[] | null, limit: number): Sql {
  const { where, params } = rangeWhere(spec, after, upTo);
  params.push(Math.max(0, limit - 1));
  return { sql: `SELECT ${keyText(spec)} FROM ${qualified(spec.original)}${where} ORDER BY ${keyOrder(spec, 'ASC')} OFFSET $${params.length} LIMIT 1`, params };
}

/**
 * Copies the rows with after < key <= upTo (a range chunkEndSql sized): one
 * plain INSERT ... SELECT. No ON CONFLICT: speculative insertion made the copy
 * 2.3x slower, and an anti-join on the ghost (its stats say empty, so a hash
 * join over the whole ghost per chunk) 2-4x. Neither is needed: the applier
 * leaves keys the copy has yet to reach alone (CopiedSpans), so the ghost
 * holds none of this range. A conflict on ANOTHER unique index (a stale
 * ghost row whose change is still queued) raises 23505; the caller lets the
 * stream catch up and retries.
 */
export function copyRangeSql(spec: CopySpec, after: readonly unknown[] | null, upTo: readonly unknown[] | null, skipConflicts = false): Sql {
  const { where, params } = rangeWhere(spec, after, upTo);
  const sql =
    `INSERT INTO ${qualified(spec.ghost)} (${list(spec.pairs.map((p) => p.target))}) OVERRIDING SYSTEM VALUE SELECT ${sourceValues(spec)} FROM ${qualified(spec.original)}${where}` +
    (skipConflicts ? ' ON CONFLICT DO NOTHING' : '');
  return { sql, params };
}

/** Keys of the range that are not in the ghost (after a copy that skipped conflicting rows). */
export function missingKeysSql(spec: CopySpec, after: readonly unknown[] | null, upTo: readonly unknown[] | null): Sql {
  const { where, params } = rangeWhere(spec, after, upTo, 'o.');
  const match = spec.sourceKey.map((k, i) => `g.${quoteIdent(spec.targetKey[i]!)} = o.${quoteIdent(k)}`).join(' AND ');
  const notCopied = `NOT EXISTS (SELECT 1 FROM ${qualified(spec.ghost)} AS g WHERE ${match})`;
  return { sql: `SELECT ${keyText(spec, 'o.')} FROM ${qualified(spec.original)} AS o${where ? `${where} AND ${notCopied}` : ` WHERE ${notCopied}`}`, params };
}

function rangeWhere(spec: CopySpec, after: readonly unknown[] | null, upTo: readonly unknown[] | null, prefix = ''): { where: string; params: unknown[] } {
  const params: unknown[] = [];
  const where: string[] = [];
  const sk = row(spec.sourceKey, prefix);
  if (after) {
    where.push(`${sk} > ${castTuple(spec.keyTypes, params.length + 1)}`);
    params.push(...after);
  }
  if (upTo) {
    where.push(`${sk} <= ${castTuple(spec.keyTypes, params.length + 1)}`);
    params.push(...upTo);
  }
  return { where: where.length ? ` WHERE ${where.join(' AND ')}` : '', params };
}

/** Resume: deletes the ghost's rows with after < key <= upTo (the part of a range no checkpoint vouches for). */
export function trimGhostSql(spec: CopySpec, after: readonly unknown[] | null, upTo: readonly unknown[] | null): Sql {
  const { where, params } = rangeWhere({ ...spec, sourceKey: spec.targetKey }, after, upTo);
  return { sql: `DELETE FROM ${qualified(spec.ghost)}${where}`, params };
}
