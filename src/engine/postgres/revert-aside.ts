/**
 * The revert's step inside the swap-back transaction, right before the
 * forward swap (swap.ts) runs with `t` (the new shape) as the original and
 * the kept old table as the ghost.
 *
 * The swap renames the live table's indexes to `_<index>_del` and its
 * identity sequences to `_<sequence>_del`: the names the forward cut-over
 * gave the OLD table's ones, which still hold them. So they move aside
 * first, to names that start with the ghost's name: the swap gives each
 * index matched by definition the live one's name, and an index only the
 * old shape has `t` + the rest of its ghost name, i.e. its name from before
 * the forward cut-over. Then the old table takes the ghost's name, with its
 * own comment back instead of the revert point.
 *
 * Triggers: the old table kept the original's, and the apply writes into it.
 * They must not fire for those writes (an audit trigger would log every
 * replayed row, an updated_at one would change values): they are disabled
 * while the revert applies, enabled again as they were if it stops before
 * the swap, and dropped inside the swap, which recreates the live table's.
 */
import type pg from 'pg';
import { helperTableName, truncateBytes } from '../../core/names.js';
import type { TableRef } from '../engine.js';
import { boundLockWait, catalog, inTransaction } from './connect.js';
import { PG_MAX_IDENTIFIER_BYTES, qualified, quoteIdent } from './ident.js';
import { restoreComment, type FoundRevertPoint } from './revert-point.js';

/** `_x_del` -> `x` when the forward swap made that name from `x`; else null. */
export function beforeForwardSwap(name: string): string | null {
  const m = /^_(.+)_del$/.exec(name);
  return m && helperTableName(m[1]!, 'del', PG_MAX_IDENTIFIER_BYTES) === name ? m[1]! : null;
}

/** A name under the ghost's for an object of the old table: its pre-cut-over name's tail when it began with the table's name. */
export function asideName(name: string, table: string, ghost: string, n: number): string {
  const before = beforeForwardSwap(name);
  const tail = before?.startsWith(table) ? before.slice(table.length) : `_rv${n}`;
  const full = `${ghost}${tail}`;
  return Buffer.byteLength(full) <= PG_MAX_IDENTIFIER_BYTES ? full : truncateBytes(`${ghost}_rv${n}`, PG_MAX_IDENTIFIER_BYTES);
}

export interface TriggerState {
  name: string;
  /** pg_trigger.tgenabled: O (origin/local), R (replica), A (always), D (disabled). */
  enabled: string;
}

const userTriggers = (db: pg.Pool | pg.ClientBase, table: TableRef) =>
  catalog<TriggerState>(db, `SELECT tgname AS name, tgenabled AS enabled FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal ORDER BY 1`, [qualified(table)]);

async function setTriggers(pool: pg.Pool, table: TableRef, list: readonly TriggerState[], lockTimeoutMs: number): Promise<void> {
  if (!list.length) return;
  const mode: Record<string, string> = { O: 'ENABLE', R: 'ENABLE REPLICA', A: 'ENABLE ALWAYS', D: 'DISABLE' };
  await inTransaction(pool, async (c) => {
    await boundLockWait(c, lockTimeoutMs);
    for (const t of list) await c.query(`ALTER TABLE ${qualified(table)} ${mode[t.enabled] ?? 'ENABLE'} TRIGGER ${quoteIdent(t.name)}`);
  });
}

/** Disables the old table's enabled user triggers; returns them as they were (for restoreTriggers). */
export async function disableTriggers(pool: pg.Pool, table: TableRef, lockTimeoutMs: number): Promise<TriggerState[]> {
  const enabled = (await userTriggers(pool, table)).filter((t) => t.enabled !== 'D');
  await setTriggers(pool, table, enabled.map((t) => ({ ...t, enabled: 'D' })), lockTimeoutMs);
  return enabled;
}

export const restoreTriggers = setTriggers;

export async function moveAside(db: pg.ClientBase, found: FoundRevertPoint, ghost: TableRef, table: TableRef): Promise<void> {
  const old = qualified(found.table);
  await restoreComment(db, found);
  for (const t of await userTriggers(db, found.table)) await db.query(`DROP TRIGGER ${quoteIdent(t.name)} ON ${old}`);
  const schema = quoteIdent(found.table.schema);
  const indexes = await catalog<{ name: string }>(db, `SELECT i.relname AS name FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = $1::regclass ORDER BY 1`, [old]);
  let n = 0;
  for (const { name } of indexes) await db.query(`ALTER INDEX ${schema}.${quoteIdent(name)} RENAME TO ${quoteIdent(asideName(name, table.name, ghost.name, ++n))}`);
  const sequences = await catalog<{ schema: string; name: string }>(
    db,
    `SELECT sn.nspname AS schema, s.relname AS name FROM pg_depend d
       JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
      WHERE d.classid = 'pg_class'::regclass AND d.refobjid = $1::regclass AND d.deptype = 'i' ORDER BY 2`,
    [old],
  );
  for (const s of sequences) await db.query(`ALTER SEQUENCE ${quoteIdent(s.schema)}.${quoteIdent(s.name)} RENAME TO ${quoteIdent(asideName(s.name, table.name, ghost.name, ++n))}`);
  await db.query(`ALTER TABLE ${old} RENAME TO ${quoteIdent(ghost.name)}`);
}
