/** A usable unique key (primary key, or unique index over NOT NULL columns) drives the copy and the apply. */
import { singleResultCheck } from '../../preflight-registry.js';
import { qualified } from '../ident.js';
import type { PgPreflightContext } from './context.js';

export const copyKey = singleResultCheck<PgPreflightContext>({ id: 'copy-key', scope: 'table', title: 'Usable unique key', severity: 'error' }, ({ table: t }) => {
  const key = t.copyKey;
  if (key) return { ok: true, detail: `${key.name} (${key.columns.join(', ')})` };
  return {
    ok: false,
    detail: [t.primaryKey, ...t.uniqueKeys].filter(Boolean).map((k) => `${k!.name}: ${k!.reason ?? 'unusable'}`).join('; ') || 'no primary key or unique index',
    fix: `ALTER TABLE ${qualified(t.ref)} ADD PRIMARY KEY (...); or create a unique index on NOT NULL columns`,
  };
});
