/**
 * What the copy key's column types allow: an exact JavaScript order for the
 * copy window (core/copy-window.ts), and the TIMESTAMP key rules.
 */
import { RefusedError } from '../../errors.js';
import type { CopyPlan } from '../../core/columns.js';
import type { KeyKind } from '../../core/copy-window.js';
import type { TableInfo } from '../engine.js';

/** How JavaScript orders a key column of this MySQL type exactly (null: it can't; the copy window then runs inexact). */
export function mysqlKeyKind(columnType: string): KeyKind | null {
  const t = columnType.toLowerCase();
  if (/^(tinyint|smallint|mediumint|int|integer|bigint|year)\b/.test(t)) return 'integer';
  if (/^(binary|varbinary)\b/.test(t)) return 'bytes';
  if (/^(datetime|timestamp|date)\b/.test(t)) return 'temporal';
  return null;
}

/**
 * With a TIMESTAMP key the row sessions run in UTC: a conversion between
 * TIMESTAMP and another type in the same ALTER would then follow UTC rather
 * than the server's zone, unlike a blocking ALTER. Refused instead.
 */
export function refuseZoneDependentConversions(plan: CopyPlan, original: TableInfo | null, ghost: TableInfo | null): void {
  const typeOf = (t: TableInfo | null, name: string) => t?.columns.find((c) => c.name.toLowerCase() === name.toLowerCase())?.type ?? '';
  const isTs = (type: string) => /^timestamp\b/i.test(type);
  const bad = plan.mapping.pairs.filter((p) => isTs(typeOf(original, p.source)) !== isTs(typeOf(ghost, p.target))).map((p) => p.source);
  if (bad.length) {
    throw new RefusedError('E_KEY_TYPE', `the copy key has a TIMESTAMP column and the ALTER converts ${bad.join(', ')} to or from TIMESTAMP, which depends on the session time zone`, {
      hint: 'convert those columns in a separate migration, or pick a copy key without TIMESTAMP columns',
    });
  }
}
