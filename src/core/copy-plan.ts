/**
 * The copy plan (which columns travel, under which shared key) from the
 * original's and the ghost's shapes, and the plan a dry run reports.
 */
import type { ParsedAlter } from '../engine/alter.js';
import type { CheckResult, HelperTables, TableInfo } from '../engine/engine.js';
import { RefusedError } from '../errors.js';
import { reAddedOf, renamesOf } from './alter-text.js';
import { chooseSharedKey, mapColumns, type CopyPlan } from './columns.js';
import type { AlterOptions } from './options.js';
import type { AlterPlan } from './report.js';

export function planCopy(original: TableInfo, ghost: TableInfo, parsed: ParsedAlter, fold: (n: string) => string): CopyPlan {
  const mapping = mapColumns(original, ghost, renamesOf(parsed, fold), fold, reAddedOf(parsed, fold));
  const plan = chooseSharedKey(original, ghost, mapping, fold);
  if (!plan) {
    throw new RefusedError('E_NO_SHARED_KEY', 'no PRIMARY KEY or NOT NULL UNIQUE key is shared by the old and the new shape of the table', {
      hint: 'keep the key columns (or one unique NOT NULL key) unchanged by the ALTER, or only widen it (the new key must contain the old one, and an index of the new table must start with the old key columns); else change the key in a separate migration',
    });
  }
  return plan;
}

/** `tables`: the helper tables as the engine named them (OnlineAlter.tables). */
export function describePlan(original: TableInfo, plan: CopyPlan, options: AlterOptions, tables: HelperTables, checks: CheckResult[]): AlterPlan {
  const table = original.ref.name;
  const { old: { name: del }, ghost: { name: gho } } = tables;
  const warnings: string[] = [];
  const reAdded = plan.mapping.added.filter((c) => plan.mapping.dropped.some((d) => d.toLowerCase() === c.toLowerCase()));
  if (reAdded.length) warnings.push(`columns dropped and added again, they take their defaults: ${reAdded.join(', ')}`);
  if (plan.mapping.dropped.length) warnings.push(`columns dropped, their data is not copied: ${plan.mapping.dropped.join(', ')}`);
  for (const c of checks) warnings.push(`${c.title}: ${c.detail}${c.fix ? ` (${c.fix})` : ''}`);
  return {
    key: { name: plan.keyName, columns: plan.sourceKey },
    ...(plan.targetKeyUnique ? {} : { ghostKey: { name: plan.ghostKey.name, columns: plan.ghostKey.columns } }),
    estimatedRows: original.estimatedRows,
    estimatedBytes: original.estimatedBytes,
    chunkSize: options.chunkSize,
    threads: options.threads,
    columnsCopied: plan.mapping.pairs.map((p) => (p.source === p.target ? p.source : `${p.source} -> ${p.target}`)),
    columnsDropped: plan.mapping.dropped,
    columnsAdded: plan.mapping.added,
    cutOver: `atomic swap: ${table} -> ${del}, ${gho} -> ${table} (writers blocked at most ${options.cutOverLockTimeoutMs} ms per attempt, ${options.cutOverRetries} attempts); ${options.dropOldTable ? `${del} dropped afterwards` : `${del} kept`}`,
    warnings,
  };
}
