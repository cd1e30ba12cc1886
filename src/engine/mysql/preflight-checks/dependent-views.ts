/** Views resolve the table by name, so they read the new table after the swap: a warning to check them. */
import type { MysqlCheck } from './context.js';

export const dependentViews: MysqlCheck = {
  id: 'dependent-views',
  scope: 'table',
  run: ({ original }) => [
    {
      id: 'dependent-views',
      title: 'views keep working on the new shape',
      ok: original.dependentViews.length === 0,
      severity: 'warn',
      detail: original.dependentViews.length ? `views mentioning the table: ${original.dependentViews.join(', ')}; after the swap they read the new table` : 'none',
      fix: 'check that these views do not use columns the ALTER drops or renames',
    },
  ],
};
