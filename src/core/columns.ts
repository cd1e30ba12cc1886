/**
 * Column mapping between the original shape and the ghost's: which source
 * column feeds which ghost column. Dropped columns are skipped, added ones
 * take their defaults, generated columns are never written, and renames
 * (`CHANGE [COLUMN] a b ...` on MySQL, `RENAME [COLUMN] a TO b` on both, as
 * the dialect's parser read them: core/alter-text.ts renamesOf) are followed
 * so data is not lost to a "drop + add". A column the ALTER drops and adds
 * again under the same name (`DROP COLUMN c, ADD COLUMN c ...`) is a NEW
 * column: it takes its default, as on a blocking ALTER (gh-ost too).
 */
import type { ColumnMapping, ColumnPair, CopyPlan, KeyInfo, TableInfo } from '../engine/engine.js';

export type { ColumnMapping, ColumnPair, CopyPlan };

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

export function mapColumns(original: TableInfo, ghost: TableInfo, renames: Map<string, string>, caseFold: (n: string) => string = (n) => n, reAdded: ReadonlySet<string> = new Set()): ColumnMapping {
  const ghostByName = new Map(ghost.columns.filter((c) => !reAdded.has(caseFold(c.name))).map((c) => [caseFold(c.name), c]));
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
  const isNew = (name: string) => reAdded.has(caseFold(name)) || !original.columns.some((o) => caseFold(o.name) === caseFold(name));
  const added = ghost.columns.filter((c) => !c.generated && !fed.has(caseFold(c.name)) && isNew(c.name)).map((c) => c.name);
  return { pairs, dropped, added };
}

const sameSet = (a: string[], b: string[], fold: (n: string) => string) => a.map(fold).sort().join('\u0000') === b.map(fold).sort().join('\u0000');

/**
 * The key that drives the copy must be unique and NOT NULL in the original
 * and identify one row in the ghost too, or a row could be copied twice or an
 * event applied to the wrong row. First choice: a key both shapes have over
 * the same columns. Else a widened key: an original key whose columns are all
 * in a unique NOT NULL key of the ghost, and lead one of the ghost's indexes
 * (so the apply's lookups by them stay index lookups). The copy and the apply
 * work by the original's key over the original; every ghost row stays
 * identified by it (see CopyPlan.targetKeyUnique). Returns null when there is
 * none (the caller refuses).
 */
export function chooseSharedKey(original: TableInfo, ghost: TableInfo, mapping: ColumnMapping, caseFold: (n: string) => string = (n) => n): CopyPlan | null {
  const toTarget = new Map(mapping.pairs.map((p) => [caseFold(p.source), p.target]));
  const usable = (keys: (KeyInfo | null)[]) => keys.filter((k): k is KeyInfo => !!k && k.usableForCopy && !k.hasNullableColumn);
  const candidates = usable([original.primaryKey, ...original.uniqueKeys]).map((key) => ({ key, target: key.columns.map((c) => toTarget.get(caseFold(c))) }));
  const ghostKeys = usable([ghost.primaryKey, ...ghost.uniqueKeys]);
  const mapped = candidates.filter((c): c is { key: KeyInfo; target: string[] } => c.target.every((t) => t !== undefined));
  for (const { key, target } of mapped) {
    const exact = ghostKeys.find((g) => sameSet(g.columns, target, caseFold));
    if (exact) return { mapping, sourceKey: key.columns, targetKey: target, keyName: key.name, ghostKey: { name: exact.name, columns: exact.columns }, targetKeyUnique: true };
  }
  const leadsAnIndex = (target: string[]) =>
    [...ghostKeys, ...ghost.indexes].some((i) => i.columns.length >= target.length && sameSet(i.columns.slice(0, target.length), target, caseFold));
  for (const { key, target } of mapped) {
    const wider = ghostKeys.find((g) => target.every((t) => g.columns.some((c) => caseFold(c) === caseFold(t))));
    if (wider && leadsAnIndex(target)) return { mapping, sourceKey: key.columns, targetKey: target, keyName: key.name, ghostKey: { name: wider.name, columns: wider.columns }, targetKeyUnique: false };
  }
  return null;
}
