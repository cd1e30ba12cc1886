/**
 * Leftovers of earlier runs, as preflight, doctor and `ghostwright cleanup`
 * see them. The engines find them (Engine.leftovers, by the names a run
 * gives them); this says what they mean and names the one way to remove
 * them on purpose. Nothing here drops anything: preflight and dry runs are
 * read-only, sweeping is `cleanup --execute`.
 */
import type { CheckResult, Leftover, TableRef } from '../engine/engine.js';

export function cleanupCommand(table: TableRef, dropOldTable: boolean): string {
  return `ghostwright cleanup --url <URL> --table ${table.schema}.${table.name}${dropOldTable ? ' --drop-old-table' : ''} --execute`;
}

export function describeLeftover(l: Leftover): string {
  return `${l.kind} ${l.name}${l.active ? ' (in use: a run is going on)' : ''}${l.note ? ` (${l.note})` : ''}`;
}

/** A failed error-level check when anything is left; the fix is the cleanup command (or waiting for the run in progress). */
export function leftoverCheck(table: TableRef, all: readonly Leftover[], opts: { oldTableStamped?: boolean } = {}): CheckResult {
  // Timestamped old tables never collide with a new run; `_t_del` does not when this run's old table is timestamped.
  const items = all.filter((i) => i.kind !== 'old-table' || (!i.timestamped && !opts.oldTableStamped));
  const active = items.filter((i) => i.active);
  const base = { id: 'leftovers', title: `No leftovers of an earlier run on ${table.schema}.${table.name}`, severity: 'error' as const };
  if (items.length === 0) return { ...base, ok: true, detail: 'none' };
  const fix = active.length
    ? `a run on this table is still going (${active.map((a) => a.name).join(', ')}): wait for it, or stop it (control ... panic); then ${cleanupCommand(table, false)}`
    : `${cleanupCommand(table, items.some((i) => i.kind === 'old-table'))} (a dry run without --execute lists what it removes; --resume, when available, continues the run instead)`;
  return { ...base, ok: false, detail: items.map(describeLeftover).join(', '), fix };
}
