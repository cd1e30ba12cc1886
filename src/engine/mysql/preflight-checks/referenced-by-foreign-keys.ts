/** No child table references this one: RENAME TABLE moves child constraints along with the renamed table, they would end on _t_del. */
import { singleResultCheck } from '../../preflight-registry.js';
import type { PreflightInput } from './context.js';

export const referencedByForeignKeys = singleResultCheck<PreflightInput>({ id: 'referenced-by-foreign-keys', scope: 'table', title: 'no foreign keys reference the table', severity: 'error' }, ({ original }) => ({
  ok: original.referencedBy.length === 0,
  detail: original.referencedBy.length ? `referenced by ${original.referencedBy.map((f) => `${f.table.schema}.${f.table.name}.${f.name}`).join(', ')}` : 'none',
  fix: 'drop the referencing foreign keys during the migration and re-add them afterwards',
}));
