/**
 * Key values travel from the binlog back into SQL. FLOAT/DOUBLE keys arrive
 * widened and compare inexactly: such keys could make the apply miss rows,
 * refuse. (TIMESTAMP keys arrive as UTC text with every fractional digit;
 * the sessions that bind them run in UTC, see online-alter.ts rowSession.)
 */
import { RefusedError } from '../../../errors.js';
import type { TableInfo } from '../../engine.js';
import { singleResultCheck } from '../../preflight-registry.js';
import type { PreflightInput } from './context.js';

export const copyKeyTypes = singleResultCheck<PreflightInput>({ id: 'copy-key-types', scope: 'table', title: 'copy key columns bind exactly', severity: 'error' }, ({ original }) => {
  const badKey = original.copyKey ? unsupportedKeyColumns(original, original.copyKey.columns) : null;
  return { ok: badKey === null, detail: badKey ? badKey.message : 'ok', fix: badKey?.hint };
});

export function unsupportedKeyColumns(table: TableInfo | null, key: readonly string[]): RefusedError | null {
  if (!table) return null;
  const bad = key.filter((k) => /^(float|double|real)\b/i.test(table.columns.find((c) => c.name.toLowerCase() === k.toLowerCase())?.type ?? ''));
  if (!bad.length) return null;
  return new RefusedError('E_KEY_TYPE', `the copy key has columns of a type whose values the binlog can't give back exactly: ${bad.join(', ')}`, {
    hint: 'add a PRIMARY KEY or UNIQUE NOT NULL key over integer, string, binary, DATETIME, TIMESTAMP or DECIMAL columns first',
  });
}
