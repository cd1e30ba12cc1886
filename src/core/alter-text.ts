/**
 * The --alter text, after the dialect's parser read it (engine/alter.ts):
 * either the clauses after `ALTER TABLE t`, or a whole `ALTER TABLE t ...`
 * for the same table. What the online path can't do is refused here, before
 * anything connects or is written.
 */
import { RefusedError } from '../errors.js';
import type { ParsedAlter } from '../engine/alter.js';

/** The table --table names; schema null when --table gave none and the default is not known yet (before connecting). */
export interface NamedTable {
  schema: string | null;
  name: string;
}

/**
 * Refuses a whole ALTER TABLE that names another table, and clauses that
 * rename or move the table. Called before connecting (schema may be unknown)
 * and again with the resolved schema. Returns the clauses to run.
 */
export function checkAlter(parsed: ParsedAlter, table: NamedTable, sameName: (a: string, b: string) => boolean): string {
  const t = parsed.target;
  if (t && (!sameName(t.name, table.name) || (t.schema !== null && table.schema !== null && !sameName(t.schema, table.schema)))) {
    const named = t.schema === null ? t.name : `${t.schema}.${t.name}`;
    const given = table.schema === null ? table.name : `${table.schema}.${table.name}`;
    throw new RefusedError('E_BAD_ALTER', `--alter names table "${named}" but --table is "${given}"`, {
      hint: 'give only the clauses after ALTER TABLE, or name the same table in both',
    });
  }
  if (parsed.parts.some((p) => p.kind === 'rename-table')) {
    throw new RefusedError('E_BAD_ALTER', 'an online ALTER cannot rename the table or move it to another schema', {
      hint: 'rename separately with RENAME TABLE / ALTER TABLE ... RENAME TO (it is instant)',
    });
  }
  return parsed.clauses;
}

/** Renames stated in the ALTER (CHANGE a b ..., RENAME COLUMN a TO b): old name -> new name, folded. */
export function renamesOf(parsed: ParsedAlter, caseFold: (name: string) => string = (n) => n): Map<string, string> {
  const renames = new Map<string, string>();
  for (const p of parsed.parts) {
    if (p.kind !== 'rename-column' || p.column === undefined || p.to === undefined) continue;
    const from = caseFold(p.column);
    const to = caseFold(p.to);
    if (from !== to) renames.set(from, to);
  }
  return renames;
}

/**
 * Columns the ALTER both drops and adds (in either order): the added one is
 * a new column, not the old one's continuation (it takes its default).
 */
export function reAddedOf(parsed: ParsedAlter, caseFold: (name: string) => string = (n) => n): Set<string> {
  const names = (kind: 'add-column' | 'drop-column'): Set<string> => new Set(parsed.parts.filter((p) => p.kind === kind && p.column !== undefined).map((p) => caseFold(p.column!)));
  const added = names('add-column');
  return new Set([...names('drop-column')].filter((c) => added.has(c)));
}
