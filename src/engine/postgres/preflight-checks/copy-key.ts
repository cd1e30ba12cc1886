/** A usable unique key (primary key, or unique index over NOT NULL columns) drives the copy and the apply. */
import { qualified } from '../ident.js';
import type { PgCheck } from './context.js';

export const copyKey: PgCheck = {
  id: 'copy-key',
  scope: 'table',
  run: ({ table: t }) => {
    const key = t.copyKey;
    return [
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
    ];
  },
};
