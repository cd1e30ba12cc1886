/** A unique key over NOT NULL whole columns drives the copy and the apply. */
import type { MysqlCheck } from './context.js';

export const copyKey: MysqlCheck = {
  id: 'copy-key',
  scope: 'table',
  run: ({ original }) => [
    {
      id: 'copy-key',
      title: 'a usable unique key drives the copy',
      ok: original.copyKey !== null,
      severity: 'error',
      detail: original.copyKey ? `${original.copyKey.name} (${original.copyKey.columns.join(', ')})` : 'no PRIMARY KEY and no UNIQUE key over NOT NULL whole columns',
      fix: 'add a PRIMARY KEY (or a UNIQUE key on NOT NULL columns) first',
    },
  ],
};
