/**
 * Core's copy plan (core/columns.ts chooseSharedKey), checked against what
 * MySQL/MariaDB can run, and the copy's window and session time zone it
 * implies.
 */
import type { CopyPlan } from '../../core/columns.js';
import { CopyWindow, keyOrder } from '../../core/copy-window.js';
import type { TableInfo } from '../engine.js';
import { mysqlKeyKind, refuseZoneDependentConversions } from './key-types.js';
import { unsupportedKeyColumns } from './preflight.js';

export interface MysqlCopyPlan {
  plan: CopyPlan;
  /** Where the copy is: exact when every key type orders in JavaScript as in the index. */
  window: CopyWindow;
  /** The copy key has a TIMESTAMP column: row sessions compare in UTC (see migration.ts rowSession). */
  utcKey: boolean;
  /** The copy key is one integer column: split points by value (split.ts). */
  integerKey: boolean;
}

/** Refuses a key whose values the binlog can't give back exactly, and a TIMESTAMP conversion that would depend on the session's zone. */
export function mysqlCopyPlan(plan: CopyPlan, original: TableInfo, ghost: TableInfo): MysqlCopyPlan {
  const bad = unsupportedKeyColumns(original, plan.sourceKey);
  if (bad) throw bad;
  const types = plan.sourceKey.map((k) => original.columns.find((c) => c.name.toLowerCase() === k.toLowerCase())?.type ?? '');
  const utcKey = types.some((t) => /^timestamp\b/i.test(t));
  if (utcKey) refuseZoneDependentConversions(plan, original, ghost);
  const integerKey = types.length === 1 && mysqlKeyKind(types[0]!) === 'integer';
  return { plan, window: new CopyWindow(keyOrder(types.map(mysqlKeyKind))), utcKey, integerKey };
}
