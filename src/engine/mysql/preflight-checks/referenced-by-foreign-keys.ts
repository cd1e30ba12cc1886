/** No child table references this one: RENAME TABLE moves child constraints along with the renamed table, they would end on _t_del. */
import type { MysqlCheck } from './context.js';

export const referencedByForeignKeys: MysqlCheck = {
  id: 'referenced-by-foreign-keys',
  scope: 'table',
  run: ({ original }) => [
    {
      id: 'referenced-by-foreign-keys',
      title: 'no foreign keys reference the table',
      ok: original.referencedBy.length === 0,
      severity: 'error',
      detail: original.referencedBy.length ? `referenced by ${original.referencedBy.map((f) => `${f.table.schema}.${f.table.name}.${f.name}`).join(', ')}` : 'none',
      fix: 'drop the referencing foreign keys during the migration and re-add them afterwards',
    },
  ],
};
