/**
 * Preflight of one online ALTER on MySQL/MariaDB: every check the run needs
 * before anything is written, each with its fix. Failures of severity
 * 'error' make core refuse (exit 2).
 */
import { leftoverCheck } from '../../core/leftovers.js';
import { mysqlLeftovers } from './leftovers.js';
import type { Pool } from 'mysql2/promise';
import { RefusedError } from '../../errors.js';
import type { CheckResult, ServerInfo, TableInfo, TableRef } from '../engine.js';
import { parseMysqlAlter } from './alter-parse.js';
import { queryRows } from './connect.js';
import { binlogChecks, privilegeCheck, readBinlogSettings } from './doctor.js';
import { qualified, quoteIdent } from './sql.js';

export interface PreflightInput {
  pool: Pool;
  info: ServerInfo;
  alter: string;
  original: TableInfo;
  /** Ghost, old-table and changelog names: none may exist yet. */
  helpers: TableRef[];
  /** --timestamp-old-table: a kept `_t_del` is not in the way. */
  oldTableStamped?: boolean;
}

export async function alterPreflight(input: PreflightInput): Promise<CheckResult[]> {
  const { pool, info, original } = input;
  const t = original.ref;
  const checks = binlogChecks(info, await readBinlogSettings(pool));
  checks.push(await privilegeCheck(pool, t.schema, info.flavor as 'mariadb' | 'mysql'));
  // Read-only: leftovers of an earlier run refuse, with the cleanup command.
  checks.push(leftoverCheck(t, await mysqlLeftovers(pool, t), { oldTableStamped: input.oldTableStamped === true }));
  const renamesTable = parseMysqlAlter(input.alter).parts.some((p) => p.kind === 'rename-table');
  checks.push({ id: 'alter-rename-table', title: 'ALTER does not rename the table', ok: !renamesTable, severity: 'error', detail: renamesTable ? 'the ALTER contains RENAME TO' : 'no table rename', fix: 'rename the table with RENAME TABLE separately; it needs no online migration' });
  checks.push({
    id: 'triggers',
    title: 'no triggers on the table',
    ok: original.triggers.length === 0,
    severity: 'error',
    detail: original.triggers.length ? `triggers: ${original.triggers.map((x) => x.name).join(', ')}` : 'none',
    // CREATE TABLE ... LIKE copies no triggers: after the swap they would be gone.
    fix: 'drop the triggers, migrate, and re-create them on the new table (the ghost is created LIKE the table, which copies no triggers)',
  });
  checks.push({
    id: 'referenced-by-foreign-keys',
    title: 'no foreign keys reference the table',
    ok: original.referencedBy.length === 0,
    severity: 'error',
    detail: original.referencedBy.length ? `referenced by ${original.referencedBy.map((f) => `${f.table.schema}.${f.table.name}.${f.name}`).join(', ')}` : 'none',
    // RENAME TABLE moves child constraints along with the renamed table: they would end on _t_del.
    fix: 'drop the referencing foreign keys during the migration and re-add them afterwards',
  });
  // InnoDB runs ON DELETE/UPDATE CASCADE and SET NULL inside the engine and
  // writes no row events for them: the stream would never see those changes.
  const cascading = original.foreignKeys.filter((f) => [f.onDelete, f.onUpdate].some((a) => /CASCADE|SET NULL|SET DEFAULT/i.test(a)));
  checks.push({
    id: 'cascading-foreign-keys',
    title: 'no cascading foreign keys on the table',
    ok: cascading.length === 0,
    severity: 'error',
    detail: cascading.length ? `${cascading.map((f) => `${f.name} (ON DELETE ${f.onDelete} ON UPDATE ${f.onUpdate})`).join(', ')}: cascaded changes are not in the binary log` : 'none',
    fix: 'drop these foreign keys (or make them RESTRICT) for the migration and re-add them afterwards',
  });
  // RESTRICT/NO ACTION ones too are refused, as gh-ost does. CREATE TABLE ...
  // LIKE copies no foreign keys, so the new table would lack them. Carrying
  // them is not safe either: an FK on the ghost during the copy makes the
  // application's DELETE of a parent fail while the ghost still holds a child
  // row the stream has yet to delete, and FK names are unique per schema, so
  // the new table's would have to be renamed.
  checks.push({
    id: 'foreign-keys',
    title: 'no foreign keys on the table',
    ok: original.foreignKeys.length === 0,
    severity: 'error',
    detail: original.foreignKeys.length ? `the new table would lack ${original.foreignKeys.map((f) => f.name).join(', ')} (CREATE TABLE ... LIKE copies no foreign keys)` : 'none',
    fix: original.foreignKeys.length ? `drop them for the migration and re-add them afterwards: ${foreignKeyFix(original)}` : undefined,
  });
  // Views resolve the table by name, so they read the new table after the swap.
  checks.push({
    id: 'dependent-views',
    title: 'views keep working on the new shape',
    ok: original.dependentViews.length === 0,
    severity: 'warn',
    detail: original.dependentViews.length ? `views mentioning the table: ${original.dependentViews.join(', ')}; after the swap they read the new table` : 'none',
    fix: 'check that these views do not use columns the ALTER drops or renames',
  });
  const badKey = original.copyKey ? unsupportedKeyColumns(original, original.copyKey.columns) : null;
  checks.push({ id: 'copy-key-types', title: 'copy key columns bind exactly', ok: badKey === null, severity: 'error', detail: badKey ? badKey.message : 'ok', fix: badKey?.hint });
  checks.push({
    id: 'copy-key',
    title: 'a usable unique key drives the copy',
    ok: original.copyKey !== null,
    severity: 'error',
    detail: original.copyKey ? `${original.copyKey.name} (${original.copyKey.columns.join(', ')})` : 'no PRIMARY KEY and no UNIQUE key over NOT NULL whole columns',
    fix: 'add a PRIMARY KEY (or a UNIQUE key on NOT NULL columns) first',
  });
  return checks;
}

/**
 * Key values travel from the binlog back into SQL. FLOAT/DOUBLE keys arrive
 * widened and compare inexactly: such keys could make the apply miss rows,
 * refuse. (TIMESTAMP keys arrive as UTC text with every fractional digit;
 * the sessions that bind them run in UTC, see online-alter.ts rowSession.)
 */
export function unsupportedKeyColumns(table: TableInfo | null, key: readonly string[]): RefusedError | null {
  if (!table) return null;
  const bad = key.filter((k) => /^(float|double|real)\b/i.test(table.columns.find((c) => c.name.toLowerCase() === k.toLowerCase())?.type ?? ''));
  if (!bad.length) return null;
  return new RefusedError('E_KEY_TYPE', `the copy key has columns of a type whose values the binlog can't give back exactly: ${bad.join(', ')}`, {
    hint: 'add a PRIMARY KEY or UNIQUE NOT NULL key over integer, string, binary, DATETIME, TIMESTAMP or DECIMAL columns first',
  });
}

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
