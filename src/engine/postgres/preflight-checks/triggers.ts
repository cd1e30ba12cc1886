/** Triggers are recreated on the new table at cut-over: a note, never a refusal. */
import type { PgCheck } from './context.js';

export const triggers: PgCheck = {
  id: 'triggers',
  scope: 'table',
  run: ({ table: t }) => (t.triggers.length ? [{ id: 'triggers', title: 'Triggers', ok: true, severity: 'warn', detail: `${t.triggers.length} trigger(s) will be recreated on the new table at cut-over` }] : []),
};
