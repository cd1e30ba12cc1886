/**
 * Core's copy plan (core/columns.ts chooseSharedKey), checked against what
 * PostgreSQL can run, and turned into the copy's SQL spec and its window.
 */
import type { CopyPlan } from '../../core/columns.js';
import { CopyWindow, keyOrder } from '../../core/copy-window.js';
import { GhostwrightError, RefusedError } from '../../errors.js';
import type { TableInfo, TableRef } from '../engine.js';
import { pgKeyKind } from './key-types.js';
import { uniqueIndexesKept, type CopySpec } from './sql.js';
import { parseUsing } from './using.js';

export interface PgCopyPlan {
  spec: CopySpec;
  /** Where the copy is: exact when every key type orders in JavaScript as in the btree. */
  window: CopyWindow;
}

/**
 * Refuses a plan whose key the ALTER converts with USING (the copy key must
 * keep its values); otherwise the copy's spec: column pairs (with their
 * USING expressions), key columns and types.
 */
export function pgCopyPlan(plan: CopyPlan, o: { original: TableInfo; ghost: TableInfo; alter: string; originalRef: TableRef; ghostRef: TableRef }): PgCopyPlan {
  const keyTypes = plan.sourceKey.map((k) => {
    const col = o.original.columns.find((c) => c.name === k);
    if (!col) throw new GhostwrightError('E_INTERNAL', `key column ${k} not in the original`);
    return col.type;
  });
  const using = parseUsing(o.alter);
  for (const k of plan.sourceKey) {
    if (using.has(k)) throw new RefusedError('E_BAD_ALTER', `the ALTER converts key column ${k} with USING: the copy key must keep its values`, { hint: 'change the key column in a separate migration, or pick a table key the ALTER leaves alone' });
  }
  const pairs = plan.mapping.pairs.map((p) => {
    const expression = using.get(p.source);
    return expression ? { ...p, expression } : { ...p };
  });
  const onlyTransientConflicts = uniqueIndexesKept(o.original, o.ghost);
  const spec: CopySpec = { original: o.originalRef, ghost: o.ghostRef, pairs, sourceKey: plan.sourceKey, targetKey: plan.targetKey, keyTypes, onlyTransientConflicts };
  return { spec, window: new CopyWindow(keyOrder(keyTypes.map(pgKeyKind))) };
}
