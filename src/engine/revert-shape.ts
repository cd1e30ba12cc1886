/**
 * Whether the old shape kept by a cut-over can hold the new shape's rows
 * (alter --revert, revert-contract.ts), for both engines.
 *
 * The old shape must hold every row the new one can: a type narrower in the
 * old shape (the revert of a widening ALTER) or an old NOT NULL column
 * without a default that the new shape lacks would make the apply fail or
 * change values half-way through, so both are refused before anything moves.
 */
import type { TableInfo } from './table-info.js';

export interface ShapeProblem {
  column: string;
  reason: string;
}

/**
 * Why the old shape can't hold the new shape's rows, per column (empty: it can).
 * Conservative: two different types that are not a known widening count as a
 * narrowing, since no value check over a live table is complete.
 */
export function revertShapeProblems(newShape: TableInfo, oldShape: TableInfo, fold: (n: string) => string): ShapeProblem[] {
  const problems: ShapeProblem[] = [];
  const byName = new Map(newShape.columns.map((c) => [fold(c.name), c]));
  for (const old of oldShape.columns) {
    if (old.generated) continue;
    const now = byName.get(fold(old.name));
    if (!now || now.generated) {
      if (!old.nullable && old.default === null && !old.identity) {
        problems.push({ column: old.name, reason: 'NOT NULL without a default in the old shape, and the new shape has no such column to fill it' });
      }
      continue;
    }
    const why = narrowing(now.type, old.type);
    if (why) problems.push({ column: old.name, reason: why });
    else if (now.nullable && !old.nullable) problems.push({ column: old.name, reason: 'NOT NULL in the old shape, nullable in the new one' });
  }
  return problems;
}

const INT_RANK: Record<string, number> = { tinyint: 1, int2: 2, smallint: 2, mediumint: 3, int: 4, integer: 4, int4: 4, bigint: 5, int8: 5 };
const INT_BITS = [0, 8, 16, 24, 32, 64];
const TEXT_BYTES: Record<string, number> = { tinytext: 255, text: 65_535, mediumtext: 16_777_215, longtext: 4_294_967_295, tinyblob: 255, blob: 65_535, mediumblob: 16_777_215, longblob: 4_294_967_295 };

interface Shape {
  family: 'int' | 'string' | 'bytes' | 'decimal' | 'other';
  /** int: bits of the magnitude; string/bytes: length; decimal: digits before the point. */
  size: number;
  scale: number;
  unsigned: boolean;
  text: string;
}

function shapeOf(type: string): Shape {
  const t = type.toLowerCase().replace(/\s+/g, ' ').trim();
  const base = { scale: 0, unsigned: /\bunsigned\b/.test(t), text: t.replace(/\bzerofill\b/, '').trim() };
  const word = /^([a-z0-9 ]+?)(?:\((\d+)(?:,\s*(\d+))?\))?(?: unsigned)?(?: zerofill)?$/.exec(t);
  const name = word?.[1]?.trim() ?? t;
  const n = word?.[2] !== undefined ? Number(word[2]) : null;
  if (INT_RANK[name] !== undefined) return { ...base, family: 'int', size: INT_BITS[INT_RANK[name]!]!, text: name + (base.unsigned ? ' unsigned' : '') };
  if (/^(var)?char$|^character( varying)?$|^varchar2?$/.test(name)) return { ...base, family: 'string', size: n ?? (name.includes('var') ? Infinity : 1) };
  if (name in TEXT_BYTES) return { ...base, family: /blob/.test(name) ? 'bytes' : 'string', size: TEXT_BYTES[name]! };
  if (/^(var)?binary$/.test(name)) return { ...base, family: 'bytes', size: n ?? 1 };
  if (name === 'bytea') return { ...base, family: 'bytes', size: Infinity };
  if (/^(decimal|numeric)$/.test(name)) {
    if (n === null && name === 'numeric') return { ...base, family: 'decimal', size: Infinity, scale: Infinity };
    const p = n ?? 10;
    const s = word?.[3] !== undefined ? Number(word[3]) : 0;
    return { ...base, family: 'decimal', size: p - s, scale: s };
  }
  return { ...base, family: 'other', size: 0 };
}

/** Why `to` (the old shape's type) can't hold every value of `from` (the new shape's), or null. */
export function narrowing(from: string, to: string): string | null {
  const a = shapeOf(from);
  const b = shapeOf(to);
  if (a.text === b.text) return null;
  const narrowed = `narrowed type: the old shape's ${to} can't hold every ${from} value`;
  if (a.family !== b.family || a.family === 'other') return narrowed;
  if (a.family === 'int') {
    // Signed to unsigned loses negatives; unsigned to signed needs one bit more.
    if (!a.unsigned && b.unsigned) return narrowed;
    const need = a.unsigned && !b.unsigned ? a.size + 1 : a.size;
    return b.size >= need ? null : narrowed;
  }
  if (a.family === 'decimal') return b.size >= a.size && b.scale >= a.scale ? null : narrowed;
  return b.size >= a.size ? null : narrowed;
}
