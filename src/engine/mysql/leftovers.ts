/**
 * Leftovers of runs on one MySQL/MariaDB table: its ghost (`t_gho`),
 * changelog (`_t_ghc`) and kept old table (`_t_del`), found by name in the
 * table's schema (core/names.ts). MySQL runs leave nothing on the server
 * besides tables. Listing is read-only; only `cleanup --execute` drops.
 */
import type { Pool } from 'mysql2/promise';
import { isStampedOldTable } from '../../core/names.js';
import type { Leftover, TableRef } from '../engine.js';
import { queryExec, queryRows } from './connect.js';
import { decodeRevertPoint } from './revert-point.js';
import { qualified } from './ident.js';
import { helperTables } from '../helper-tables.js';

export async function mysqlLeftovers(pool: Pool, ref: TableRef): Promise<Leftover[]> {
  const helpers = helperTables('mysql', ref);
  const h = { ghost: helpers.ghost.name, old: helpers.old.name, changelog: helpers.changelog.name };
  const kinds = new Map<string, Leftover['kind']>([
    [h.ghost, 'ghost'],
    [h.changelog, 'changelog'],
    [h.old, 'old-table'],
  ]);
  const rows = await queryRows(pool, 'SELECT TABLE_NAME AS n, TABLE_COMMENT AS c FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (?, ?, ?) ORDER BY 1', [ref.schema, ...kinds.keys()]);
  // information_schema compares names case-insensitively on some systems: keep exact matches only.
  // A "ghost" carrying a revert point is the old table of a revert killed before its swap
  // (engine/mysql/revert.ts): the data of the old shape, never dropped as a ghost.
  const kindOf = (r: Record<string, unknown>): Leftover['kind'] => (String(r.n) === h.ghost && decodeRevertPoint(String(r.c ?? '')) ? 'old-table' : kinds.get(String(r.n))!);
  const found: Leftover[] = rows.filter((r) => kinds.has(String(r.n))).map((r) => ({ kind: kindOf(r), name: String(r.n) }));
  // Old tables of --timestamp-old-table runs: `_t_<14 digits>_del`, recognised by the same naming.
  const stamped = await queryRows(pool, "SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE '%\\_del' ORDER BY 1", [ref.schema]);
  for (const r of stamped) if (isStampedOldTable('mysql', ref.name, String(r.n))) found.push({ kind: 'old-table', name: String(r.n), timestamped: true });
  return found;
}

export async function dropMysqlLeftovers(pool: Pool, ref: TableRef, items: readonly Leftover[]): Promise<Leftover[]> {
  const dropped: Leftover[] = [];
  for (const item of items) {
    await queryExec(pool, `DROP TABLE IF EXISTS ${qualified({ schema: ref.schema, name: item.name })}`);
    dropped.push(item);
  }
  return dropped;
}
