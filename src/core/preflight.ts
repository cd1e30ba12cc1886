/**
 * The preflight verdict: the engine's registry of read-only checks runs, a
 * failed error-level check refuses the run (exit 2) before anything is
 * written, warnings go into the plan.
 */
import type { CheckResult, OnlineAlter, TableInfo } from '../engine/engine.js';
import { preflightCode } from '../error-codes.js';
import { RefusedError } from '../errors.js';

export /** Refuses on any failed error-level check; returns the warnings for the plan. */
async function preflight(online: OnlineAlter, original: TableInfo, recheckLeftovers?: () => Promise<CheckResult>, ignore: readonly string[] = []): Promise<CheckResult[]> {
  if (!original.copyKey) {
    throw new RefusedError('E_NO_KEY', `table ${original.ref.schema}.${original.ref.name} has no PRIMARY KEY or NOT NULL UNIQUE key`, {
      hint: 'add a primary key (or a unique key over NOT NULL columns) first; the copy and the apply need one',
    });
  }
  const checks = await online.preflight(original);
  const at = checks.findIndex((c) => c.id === 'leftovers' && !c.ok);
  if (at >= 0 && recheckLeftovers) checks[at] = await recheckLeftovers();
  const failed = checks.filter((c) => !c.ok && c.severity === 'error' && !ignore.includes(c.id));
  if (failed.length > 0) {
    const first = failed[0]!;
    const lines = failed.map((c) => `${c.title}: ${c.detail}`).join('; ');
    throw new RefusedError(preflightCode(first.id), `preflight refused: ${lines}`, {
      hint: failed.map((c) => c.fix).filter(Boolean).join(' | ') || undefined,
      details: { checks: failed.map((c) => c.id) },
    });
  }
  return checks.filter((c) => !c.ok && c.severity === 'warn');
}
