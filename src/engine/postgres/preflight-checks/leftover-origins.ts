/**
 * Replication origins of ours (origin.ts) whose run is gone: no slot of the
 * same name (a run's origins are `<slot>` and `<slot>_<n>`). They retain no
 * WAL, but they hold an entry of max_replication_slots' origin table.
 * Reported with the fix, never dropped here. `doctor` runs it too.
 */
import type pg from 'pg';
import { SLOT_PREFIX } from '../../../core/names.js';
import type { CheckResult } from '../../check.js';
import { singleResult, singleResultCheck, type Finding, type SingleResultSpec } from '../../preflight-registry.js';
import { catalog } from '../connect.js';
import type { PgPreflightContext } from './context.js';

const SPEC: SingleResultSpec<PgPreflightContext> = { id: 'leftover-origins', scope: 'leftovers', title: 'Leftover ghostwright replication origins', severity: 'warn' };

async function find(db: pg.Pool | pg.ClientBase): Promise<Finding> {
  const rows = await catalog<{ name: string }>(
    db,
    `SELECT o.roname AS name FROM pg_replication_origin o
      WHERE starts_with(o.roname, $1)
        AND NOT EXISTS (SELECT 1 FROM pg_replication_slots s WHERE s.slot_name = o.roname OR starts_with(o.roname, s.slot_name || '_'))
      ORDER BY 1`,
    [SLOT_PREFIX],
  ).catch(() => []);
  if (rows.length === 0) return { ok: true, detail: 'none' };
  return { ok: false, detail: rows.map((r) => r.name).join(', '), fix: rows.map((r) => `SELECT pg_replication_origin_drop('${r.name.replace(/'/g, "''")}');`).join(' ') };
}

export const leftoverOrigins = singleResultCheck<PgPreflightContext>(SPEC, ({ pool }) => find(pool));

/** The same check for `doctor`, which has no table. */
export async function leftoverOriginCheck(db: pg.Pool | pg.ClientBase): Promise<CheckResult> {
  return singleResult(SPEC, await find(db));
}
