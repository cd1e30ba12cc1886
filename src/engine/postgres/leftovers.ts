/**
 * Leftovers of runs on one PostgreSQL table, found by the names a run gives
 * them (core/names.ts): helper tables in the table's schema, slots whose name
 * starts with this table's slot prefix (`ghostwright_<hash>_`, then the run's
 * pid), the table's publication, and the replication origins of its copy
 * sessions (PostgreSQL 16+: named like the slot, `<slot>` and `<slot>_<n>`;
 * on 15 there are none). Listing is read-only; preflight, doctor and
 * `cleanup` share it, and only `cleanup --execute` drops.
 */
import type pg from 'pg';
import { isStampedOldTable, publicationName, slotName } from '../../core/names.js';
import type { Leftover, TableRef } from '../engine.js';
import { catalog, sqlState } from './connect.js';
import { quoteIdent } from './ident.js';
import { ourOrigins } from './origin.js';
import { closeWindow, expired, findRevertPoints } from './revert-point.js';
import { helperTables } from '../helper-tables.js';

/** `ghostwright_<hash>_`: every slot (and origin) of a run on this table starts so. */
export function slotPrefix(ref: TableRef): string {
  const slot = slotName(ref.schema, ref.name);
  return slot.slice(0, slot.lastIndexOf('_') + 1);
}

export async function pgLeftovers(db: pg.Pool, ref: TableRef): Promise<Leftover[]> {
  const helpers = helperTables('postgres', ref);
  const h = { ghost: helpers.ghost.name, old: helpers.old.name, changelog: helpers.changelog.name };
  const kinds = new Map<string, Leftover['kind']>([
    [h.ghost, 'ghost'],
    [h.changelog, 'changelog'],
    [h.old, 'old-table'],
  ]);
  const tables = await catalog<{ name: string }>(
    db,
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) AND c.relkind IN ('r', 'p') ORDER BY 1`,
    [ref.schema, [...kinds.keys()]],
  );
  const out: Leftover[] = tables.map((t) => ({ kind: kinds.get(t.name)!, name: t.name }));
  // Old tables of --timestamp-old-table runs: `_t_<14 digits>_del`, recognised by the same naming.
  const stamped = await catalog<{ name: string }>(db, `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname LIKE '%\\_del' AND c.relkind IN ('r', 'p') ORDER BY 1`, [ref.schema]);
  for (const t of stamped) if (isStampedOldTable('postgres', ref.name, t.name)) out.push({ kind: 'old-table', name: t.name, timestamped: true });
  const prefix = slotPrefix(ref);
  const slots = await catalog<{ name: string; active: boolean }>(db, `SELECT slot_name AS name, active FROM pg_replication_slots WHERE starts_with(slot_name::text, $1) ORDER BY 1`, [prefix]);
  // A slot kept for alter --revert (--revert-window): removing it ends the window.
  const windows = new Map((await findRevertPoints(db, ref.schema)).map((f) => [f.point.slot, f.point]));
  for (const s of slots) {
    const w = windows.get(s.name);
    const note = w ? (expired(w) ? `kept for alter --revert; its revert window ended at ${w.expires}` : `kept for alter --revert until ${w.expires}; removing it ends the revert window`) : undefined;
    out.push({ kind: 'slot', name: s.name, active: s.active, ...(note ? { note } : {}) });
  }
  const pub = publicationName(ref.schema, ref.name);
  if ((await catalog(db, `SELECT 1 FROM pg_publication WHERE pubname = $1`, [pub])).length) out.push({ kind: 'publication', name: pub });
  for (const o of await ourOrigins(db, prefix)) out.push({ kind: 'origin', name: o });
  return out;
}

/** Slots first (they retain WAL), then publication, origins and tables; the original is never among them. */
export async function dropPgLeftovers(db: pg.Pool, ref: TableRef, items: readonly Leftover[]): Promise<Leftover[]> {
  const order: Leftover['kind'][] = ['slot', 'publication', 'origin', 'ghost', 'changelog', 'old-table'];
  const dropped: Leftover[] = [];
  const windows = items.some((i) => i.kind === 'slot') ? await findRevertPoints(db, ref.schema) : [];
  for (const kind of order) {
    for (const item of items.filter((i) => i.kind === kind)) {
      switch (kind) {
        case 'slot':
          await db.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, [item.name]);
          // Its revert point goes with it: the old table gets its own comment back.
          for (const w of windows.filter((f) => f.point.slot === item.name)) await closeWindow(db, w, { restoreComment: true });
          break;
        case 'publication':
          await db.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(item.name)}`);
          break;
        case 'origin':
          await db.query(`SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = $1`, [item.name]).catch((err: unknown) => {
            // 42501: not superuser and no GRANT EXECUTE on pg_replication_origin_drop.
            if (sqlState(err) === '42501') throw Object.assign(err as Error, { message: `${(err as Error).message} (GRANT EXECUTE ON FUNCTION pg_replication_origin_drop(text) TO the user, or run as a superuser)` });
            throw err;
          });
          break;
        default:
          await db.query(`DROP TABLE IF EXISTS ${quoteIdent(ref.schema)}.${quoteIdent(item.name)}`);
      }
      dropped.push(item);
    }
  }
  return dropped;
}
