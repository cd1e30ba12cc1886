/** The ALTER renames no table: a RENAME TO needs no online migration, and would break the swap. */
import { parseMysqlAlter } from '../alter-parse.js';
import { singleResultCheck } from '../../preflight-registry.js';
import type { PreflightInput } from './context.js';

export const renameTable = singleResultCheck<PreflightInput>({ id: 'alter-rename-table', scope: 'alter', title: 'ALTER does not rename the table', severity: 'error' }, ({ alter }) => {
  const renamesTable = parseMysqlAlter(alter).parts.some((p) => p.kind === 'rename-table');
  return { ok: !renamesTable, detail: renamesTable ? 'the ALTER contains RENAME TO' : 'no table rename', fix: 'rename the table with RENAME TABLE separately; it needs no online migration' };
});
