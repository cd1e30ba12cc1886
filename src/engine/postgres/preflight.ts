/**
 * Preflight of one online ALTER on PostgreSQL: the registry of read-only
 * checks (one per file in preflight-checks/), in the order they are
 * reported: server checks, what the table allows, and leftovers of earlier
 * runs. Dry runs included, nothing is written: leftovers of a crashed run
 * on THIS table refuse with the `ghostwright cleanup` command; inactive
 * slots of other tables are reported with the command to drop them.
 */
import type pg from 'pg';
import type { CheckResult, TableInfo } from '../engine.js';
import { runPreflight } from '../preflight-registry.js';
import type { PgCheck, PreflightNames } from './preflight-checks/context.js';
import { copyKey } from './preflight-checks/copy-key.js';
import { leftoverOrigins } from './preflight-checks/leftover-origins.js';
import { leftovers } from './preflight-checks/leftovers.js';
import { materializedViews } from './preflight-checks/materialized-views.js';
import { otherSlots } from './preflight-checks/other-slots.js';
import { ownership } from './preflight-checks/ownership.js';
import { partitioned } from './preflight-checks/partitioned.js';
import { rules } from './preflight-checks/rules.js';
import { server } from './preflight-checks/server.js';
import { triggers } from './preflight-checks/triggers.js';

export type { PreflightNames };

export const PG_PREFLIGHT: readonly PgCheck[] = [server, ownership, copyKey, partitioned, rules, materializedViews, leftovers, otherSlots, leftoverOrigins, triggers];

export function preflightChecks(pool: pg.Pool, table: TableInfo, names: PreflightNames): Promise<CheckResult[]> {
  return runPreflight(PG_PREFLIGHT, { pool, table, names });
}
