/**
 * No foreign keys at all, RESTRICT/NO ACTION ones included, as gh-ost does.
 * CREATE TABLE ... LIKE copies no foreign keys, so the new table would lack
 * them. Carrying them is not safe either: an FK on the ghost during the copy
 * makes the application's DELETE of a parent fail while the ghost still
 * holds a child row the stream has yet to delete, and FK names are unique
 * per schema, so the new table's would have to be renamed.
 */
import type { TableInfo } from '../../engine.js';
import { qualified, quoteIdent } from '../ident.js';
import { singleResultCheck } from '../../preflight-registry.js';
import type { PreflightInput } from './context.js';

export const foreignKeys = singleResultCheck<PreflightInput>({ id: 'foreign-keys', scope: 'table', title: 'no foreign keys on the table', severity: 'error' }, ({ original }) => ({
  ok: original.foreignKeys.length === 0,
  detail: original.foreignKeys.length ? `the new table would lack ${original.foreignKeys.map((f) => f.name).join(', ')} (CREATE TABLE ... LIKE copies no foreign keys)` : 'none',
  fix: original.foreignKeys.length ? `drop them for the migration and re-add them afterwards: ${foreignKeyFix(original)}` : undefined,
}));

/** The statements that take the table's foreign keys off before the migration and put them back after it. */
function foreignKeyFix(original: TableInfo): string {
  const t = qualified(original.ref);
  const cols = (c: string[]) => c.map(quoteIdent).join(', ');
  const drop = `ALTER TABLE ${t} ${original.foreignKeys.map((f) => `DROP FOREIGN KEY ${quoteIdent(f.name)}`).join(', ')};`;
  const add = `ALTER TABLE ${t} ${original.foreignKeys
    .map((f) => `ADD CONSTRAINT ${quoteIdent(f.name)} FOREIGN KEY (${cols(f.columns)}) REFERENCES ${qualified(f.referencedTable)} (${cols(f.referencedColumns)}) ON DELETE ${f.onDelete} ON UPDATE ${f.onUpdate}`)
    .join(', ')};`;
  return `${drop} then, after the migration: ${add}`;
}
