/**
 * gh-ost's --initially-drop-ghost-table / --initially-drop-old-table: the
 * ghost (with its changelog, as gh-ost drops its changelog at start) or the
 * old table left by an earlier run on THIS table, found by our naming
 * (Engine.leftovers, core/names.ts), is dropped before the preflight instead
 * of refusing. Never the original (leftovers never list it), never an old
 * table kept by --timestamp-old-table, never a PostgreSQL slot, publication
 * or origin: those still refuse and point to `ghostwright cleanup`.
 * A dry run drops nothing: it says what --execute would drop.
 */
import type { Engine, Leftover, TableRef } from '../engine/engine.js';
import { leftoverCheck } from './leftovers.js';
import type { AlterOptions } from './options.js';

export function initiallyDroppable(found: readonly Leftover[], options: Pick<AlterOptions, 'initiallyDropGhostTable' | 'initiallyDropOldTable'>): Leftover[] {
  return found.filter(
    (l) => (options.initiallyDropGhostTable && (l.kind === 'ghost' || l.kind === 'changelog')) || (options.initiallyDropOldTable && l.kind === 'old-table' && !l.timestamped),
  );
}

/**
 * Lists (and with --execute drops) what the flags allow. When other
 * leftovers would refuse the run anyway, nothing is dropped: a refusal
 * changes nothing.
 */
export async function initialDrops(engine: Engine, ref: TableRef, options: AlterOptions, oldTableStamped: boolean): Promise<Leftover[]> {
  if (!options.initiallyDropGhostTable && !options.initiallyDropOldTable) return [];
  const found = await engine.leftovers(ref);
  const drop = initiallyDroppable(found, options);
  if (!leftoverCheck(ref, found.filter((l) => !drop.includes(l)), { oldTableStamped }).ok) return [];
  if (options.execute && drop.length > 0) return engine.dropLeftovers(ref, drop);
  return drop;
}
