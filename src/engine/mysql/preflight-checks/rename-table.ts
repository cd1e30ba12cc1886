/** The ALTER renames no table: a RENAME TO needs no online migration, and would break the swap. */
import { parseMysqlAlter } from '../alter-parse.js';
import type { MysqlCheck } from './context.js';

export const renameTable: MysqlCheck = {
  id: 'alter-rename-table',
  scope: 'alter',
  run: ({ alter }) => {
    const renamesTable = parseMysqlAlter(alter).parts.some((p) => p.kind === 'rename-table');
    return [{ id: 'alter-rename-table', title: 'ALTER does not rename the table', ok: !renamesTable, severity: 'error', detail: renamesTable ? 'the ALTER contains RENAME TO' : 'no table rename', fix: 'rename the table with RENAME TABLE separately; it needs no online migration' }];
  },
};
