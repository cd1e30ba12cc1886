/**
 * The helper tables of a migration of one table: the one place an engine
 * takes their names from (core/names.ts helperNames, at the dialect's
 * identifier limit), for the online ALTER, its revert and the leftovers.
 */
import type { Dialect } from '../connection.js';
import { helperNames } from '../core/names.js';
import type { HelperTables } from './online-alter-contract.js';
import type { TableRef } from './table-info.js';

/** `stamp` (--timestamp-old-table): the old table is `_t_<stamp>_del`. */
export function helperTables(dialect: Dialect, table: TableRef, stamp?: string): HelperTables {
  const names = helperNames(dialect, table.name, undefined, stamp);
  return { ghost: { schema: table.schema, name: names.ghost }, old: { schema: table.schema, name: names.old }, changelog: { schema: table.schema, name: names.changelog } };
}
