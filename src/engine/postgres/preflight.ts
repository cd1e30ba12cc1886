/**
 * Preflight of one online ALTER: server checks, what the table allows, and
 * leftovers of earlier runs. Read-only, dry runs included: leftovers of a
 * crashed run on THIS table refuse with the `ghostwright cleanup` command;
 * inactive slots of other tables are reported with the command to drop them.
 */
import type pg from 'pg';
import { SLOT_PREFIX } from '../../core/names.js';
import type { Logger } from '../../log.js';
import type { CheckResult, TableInfo, TableRef } from '../engine.js';
import { dropSlotFix, ourSlots, serverChecks } from './checks.js';
import { leftoverCheck } from '../../core/leftovers.js';
import { pgLeftovers, slotPrefix } from './leftovers.js';
import { ownershipChecks } from './privileges.js';
import { qualified, quoteIdent } from './ident.js';

export interface PreflightNames {
  /** --timestamp-old-table: a kept `_t_del` is not in the way. */
  oldTableStamped?: boolean;
  ghost: TableRef;
  old: TableRef;
  changelog: TableRef;
  slot: string;
  publication: string;
  maxRetainedWalBytes: number;
  log: Logger;
}

export async function preflightChecks(pool: pg.Pool, t: TableInfo, n: PreflightNames): Promise<CheckResult[]> {
  const out = await serverChecks(pool, t.ref.schema);
  out.push(...(await ownershipChecks(pool, t.ref)));
  const key = t.copyKey;
  out.push(
    key
      ? { id: 'copy-key', title: 'Usable unique key', ok: true, severity: 'error', detail: `${key.name} (${key.columns.join(', ')})` }
      : {
          id: 'copy-key',
          title: 'Usable unique key',
          ok: false,
          severity: 'error',
          detail: [t.primaryKey, ...t.uniqueKeys].filter(Boolean).map((k) => `${k!.name}: ${k!.reason ?? 'unusable'}`).join('; ') || 'no primary key or unique index',
          fix: `ALTER TABLE ${qualified(t.ref)} ADD PRIMARY KEY (...); or create a unique index on NOT NULL columns`,
        },
  );
  const partitioned = t.partitioned || t.extra.isPartition === true;
  out.push({
    id: 'partitioned',
    title: 'Not partitioned',
    ok: !partitioned,
    severity: 'error',
    detail: t.partitioned ? `partitioned table with ${t.partitions.length} partitions` : t.extra.isPartition ? 'table is a partition' : 'plain table',
    ...(partitioned ? { fix: 'run the ALTER on the partitioned parent directly (metadata-only cases) or on each partition as its own table' } : {}),
  });
  const rules = (t.extra.rules as string[] | undefined) ?? [];
  out.push({ id: 'rules', title: 'No rewrite rules', ok: rules.length === 0, severity: 'error', detail: rules.length ? `rules: ${rules.join(', ')}` : 'none', ...(rules.length ? { fix: `DROP RULE ${quoteIdent(rules[0]!)} ON ${qualified(t.ref)}; (rules can't be carried to the new table)` } : {}) });

  // Read-only: leftovers of an earlier run on this table refuse, with the cleanup command.
  const mine = await pgLeftovers(pool, t.ref);
  out.push(leftoverCheck(t.ref, mine, { oldTableStamped: n.oldTableStamped === true }));
  const heavy: string[] = [];
  const foreign: string[] = [];
  const prefix = slotPrefix(t.ref);
  for (const s of await ourSlots(pool)) {
    if (s.name.startsWith(prefix)) continue;
    if (!s.active) foreign.push(s.name);
    else if ((s.retained ?? 0) > n.maxRetainedWalBytes) heavy.push(`${s.name} (${s.retained} bytes)`);
  }
  out.push({
    id: 'leftover-slots',
    title: `Inactive ${SLOT_PREFIX}* slots of other tables`,
    ok: foreign.length === 0,
    severity: 'warn',
    detail: foreign.length ? foreign.join(', ') : 'none',
    ...(foreign.length ? { fix: foreign.map(dropSlotFix).join(' ') } : {}),
  });
  out.push({
    id: 'retained-wal',
    title: 'WAL retained by running ghostwright slots',
    ok: heavy.length === 0,
    severity: 'error',
    detail: heavy.length ? heavy.join(', ') : 'below the limit',
    ...(heavy.length ? { fix: 'wait for the other migration to finish, or abort it (its slot retains WAL)' } : {}),
  });
  if (t.triggers.length) out.push({ id: 'triggers', title: 'Triggers', ok: true, severity: 'warn', detail: `${t.triggers.length} trigger(s) will be recreated on the new table at cut-over` });
  return out;
}
