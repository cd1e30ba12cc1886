/**
 * Slots kept after a cut-over for `alter --revert` (--revert-window,
 * revert-point.ts), as doctor and every later alter's preflight see them.
 *
 * Such a slot is inactive on purpose, but it retains all WAL since its swap:
 * its retained WAL counts against --max-retained-wal-mb, and past its
 * window it is a leak. Both fail the check with the exact command that ends
 * the window (`ghostwright cleanup`); nothing is dropped here. Within its
 * window and under the limit it is reported, not failed.
 */
import type pg from 'pg';
import { cleanupCommand } from '../../core/leftovers.js';
import type { CheckResult } from '../engine.js';
import { ourSlots } from './checks.js';
import { expired, findRevertPoints, type FoundRevertPoint } from './revert-point.js';

const MB = 1024 * 1024;

/** The revert points of this database whose slot still exists, with the WAL each retains. */
export async function keptRevertSlots(db: pg.Pool | pg.ClientBase): Promise<(FoundRevertPoint & { retained: number })[]> {
  const points = await findRevertPoints(db);
  if (!points.length) return [];
  const slots = new Map((await ourSlots(db)).map((s) => [s.name, s]));
  return points.filter((p) => slots.has(p.point.slot)).map((p) => ({ ...p, retained: slots.get(p.point.slot)!.retained ?? 0 }));
}

export async function revertWindowCheck(db: pg.Pool | pg.ClientBase, maxRetainedWalBytes: number, now = Date.now()): Promise<CheckResult> {
  const lines: string[] = [];
  const fixes: string[] = [];
  for (const k of await keptRevertSlots(db)) {
    const table = { schema: k.table.schema, name: k.point.table };
    const what = `${k.point.slot} (alter --revert of ${table.schema}.${table.name}) retains ${Math.round(k.retained / MB)} MB of WAL`;
    if (expired(k.point, now)) {
      lines.push(`${what}: its revert window ended at ${k.point.expires}`);
      fixes.push(cleanupCommand(table, false));
    } else if (k.retained > maxRetainedWalBytes) {
      lines.push(`${what}, above --max-retained-wal-mb ${Math.round(maxRetainedWalBytes / MB)} (window open until ${k.point.expires})`);
      fixes.push(`${cleanupCommand(table, false)} (ends the revert window now), or alter --revert --table ${table.schema}.${table.name} --execute`);
    } else {
      lines.push(`${what}, window open until ${k.point.expires}`);
    }
  }
  const base = { id: 'revert-windows', title: 'Replication slots kept for alter --revert (--revert-window)', severity: 'error' as const };
  if (!fixes.length) return { ...base, ok: true, detail: lines.join('; ') || 'none' };
  return { ...base, ok: false, detail: lines.join('; '), fix: fixes.join(' ; ') };
}
