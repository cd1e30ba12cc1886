/** No triggers: CREATE TABLE ... LIKE copies no triggers, so after the swap they would be gone. */
import type { MysqlCheck } from './context.js';

export const triggers: MysqlCheck = {
  id: 'triggers',
  scope: 'table',
  run: ({ original }) => [
    {
      id: 'triggers',
      title: 'no triggers on the table',
      ok: original.triggers.length === 0,
      severity: 'error',
      detail: original.triggers.length ? `triggers: ${original.triggers.map((x) => x.name).join(', ')}` : 'none',
      fix: 'drop the triggers, migrate, and re-create them on the new table (the ghost is created LIKE the table, which copies no triggers)',
    },
  ],
};
