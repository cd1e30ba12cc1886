/**
 * No cascading foreign keys: InnoDB runs ON DELETE/UPDATE CASCADE and SET
 * NULL inside the engine and writes no row events for them, so the stream
 * would never see those changes.
 */
import { singleResultCheck } from '../../preflight-registry.js';
import type { PreflightInput } from './context.js';

export const cascadingForeignKeys = singleResultCheck<PreflightInput>({ id: 'cascading-foreign-keys', scope: 'table', title: 'no cascading foreign keys on the table', severity: 'error' }, ({ original }) => {
  const cascading = original.foreignKeys.filter((f) => [f.onDelete, f.onUpdate].some((a) => /CASCADE|SET NULL|SET DEFAULT/i.test(a)));
  return {
    ok: cascading.length === 0,
    detail: cascading.length ? `${cascading.map((f) => `${f.name} (ON DELETE ${f.onDelete} ON UPDATE ${f.onUpdate})`).join(', ')}: cascaded changes are not in the binary log` : 'none',
    fix: 'drop these foreign keys (or make them RESTRICT) for the migration and re-add them afterwards',
  };
});
