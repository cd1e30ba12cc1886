/**
 * Column mapping between the original shape and the ghost's: which source
 * column feeds which ghost column. Dropped columns are skipped, added ones
 * take their defaults, generated columns are never written, and renames
 * (`CHANGE [COLUMN] a b ...` on MySQL, `RENAME [COLUMN] a TO b` on both) are
 * followed so data is not lost to a "drop + add".
 */
import type { TableInfo } from '../engine/engine.js';

export interface ColumnPair {
  source: string;
  target: string;
}

export interface ColumnMapping {
  /** Written by copy and apply, in ghost column order. */
  pairs: ColumnPair[];
  /** Source columns with no ghost counterpart. */
  dropped: string[];
  /** Ghost columns with no source: they take their default. */
  added: string[];
}

/** Splits ALTER clauses on top-level commas, respecting quotes and parentheses. */
export function splitClauses(alter: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < alter.length; i++) {
    const ch = alter[i]!;
    if (quote) {
      if (ch === quote) {
        if (alter[i + 1] === quote) i++;
        else quote = null;
      } else if (ch === '\\' && quote !== '"' && quote !== '`') i++;
      continue;
    }
    if (ch === "'" || ch === '"' || ch === '`') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      out.push(alter.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = alter.slice(start).trim();
  if (last) out.push(last);
  return out;
}

const IDENT = String.raw`(?:\x60(?:[^\x60]|\x60\x60)+\x60|"(?:[^"]|"")+"|[^\s,()\x60"]+)`;

function unquote(id: string): string {
  if (id.startsWith('`')) return id.slice(1, -1).replace(/``/g, '`');
  if (id.startsWith('"')) return id.slice(1, -1).replace(/""/g, '"');
  return id;
}

/** Renames stated in the ALTER: old name -> new name. */
export function parseRenames(alter: string, caseFold: (name: string) => string = (n) => n): Map<string, string> {
  const renames = new Map<string, string>();
  const change = new RegExp(String.raw`^CHANGE\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?(${IDENT})\s+(${IDENT})\s`, 'i');
  const rename = new RegExp(String.raw`^RENAME\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?(${IDENT})\s+TO\s+(${IDENT})\s*$`, 'i');
  for (const clause of splitClauses(alter)) {
    const m = change.exec(`${clause} `) ?? rename.exec(clause);
    if (!m || /^RENAME\s+(TO|AS)\s/i.test(clause)) continue;
    const from = caseFold(unquote(m[1]!));
    const to = caseFold(unquote(m[2]!));
    if (from !== to) renames.set(from, to);
  }
  return renames;
}

export function mapColumns(original: TableInfo, ghost: TableInfo, renames: Map<string, string>, caseFold: (n: string) => string = (n) => n): ColumnMapping {
  const ghostByName = new Map(ghost.columns.map((c) => [caseFold(c.name), c]));
  const renamedTargets = new Set([...renames.values()]);
  const pairs: ColumnPair[] = [];
  const dropped: string[] = [];
  const fed = new Set<string>();
  for (const col of original.columns) {
    const key = caseFold(col.name);
    const targetKey = renames.get(key) ?? (renamedTargets.has(key) ? undefined : key);
    const target = targetKey === undefined ? undefined : ghostByName.get(targetKey);
    if (!target) {
      dropped.push(col.name);
      continue;
    }
    // A generated ghost column computes itself; a generated source column
    // that became a plain column is copied as a value.
    if (target.generated) continue;
    pairs.push({ source: col.name, target: target.name });
    fed.add(caseFold(target.name));
  }
  const order = new Map(ghost.columns.map((c, i) => [c.name, i]));
  pairs.sort((a, b) => order.get(a.target)! - order.get(b.target)!);
  const added = ghost.columns.filter((c) => !c.generated && !fed.has(caseFold(c.name)) && !original.columns.some((o) => caseFold(o.name) === caseFold(c.name))).map((c) => c.name);
  return { pairs, dropped, added };
}

export interface CopyPlan {
  mapping: ColumnMapping;
  /** Key columns in the original, in key order; they drive copy and apply. */
  sourceKey: string[];
  /** The same key's columns in the ghost (renames followed). */
  targetKey: string[];
  keyName: string;
}

/**
 * The key that drives the copy must be unique and NOT NULL in BOTH shapes,
 * over the same columns, or a row could be copied twice or an event applied
 * to the wrong row. Returns null when there is none (the caller refuses).
 */
export function chooseSharedKey(original: TableInfo, ghost: TableInfo, mapping: ColumnMapping, caseFold: (n: string) => string = (n) => n): CopyPlan | null {
  const toTarget = new Map(mapping.pairs.map((p) => [caseFold(p.source), p.target]));
  const candidates = [original.primaryKey, ...original.uniqueKeys].filter((k): k is NonNullable<typeof k> => !!k && k.usableForCopy && !k.hasNullableColumn);
  const ghostKeys = [ghost.primaryKey, ...ghost.uniqueKeys].filter((k): k is NonNullable<typeof k> => !!k && k.usableForCopy && !k.hasNullableColumn);
  for (const key of candidates) {
    const target = key.columns.map((c) => toTarget.get(caseFold(c)));
    if (target.some((t) => t === undefined)) continue;
    const targetSet = target.map((t) => caseFold(t!)).sort().join('\u0000');
    const ghostHas = ghostKeys.some((g) => g.columns.map(caseFold).sort().join('\u0000') === targetSet);
    if (ghostHas) return { mapping, sourceKey: key.columns, targetKey: target as string[], keyName: key.name };
  }
  return null;
}
