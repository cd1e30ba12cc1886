/**
 * The revert window of a PostgreSQL cut-over (`alter --revert-window 1h`):
 * the run's logical slot kept after the swap, and the revert point that says
 * where it is.
 *
 * The slot's WAL is the only record of the writes made to the new table
 * after the swap. Publication membership is by OID: after the renames the
 * publication still lists the original, now `_t_del`, and not the new `t`.
 * So the swap's own transaction (cutover.ts afterSwap) adds the new table to
 * the publication and takes `_t_del` out of it: every commit after the swap
 * is decoded for the new table, and the revert's own writes into `_t_del`
 * are not decoded at all. The slot's confirmed position stays at or before
 * the swap: the forward stream stops with its applier held (cutover.ts), so
 * no commit after the swap is ever acknowledged by it.
 *
 * The revert point is a JSON COMMENT on `_t_del` (as on MySQL,
 * engine/mysql/revert-point.ts), written in the same transaction: it lives
 * exactly as long as the table it is useful for, and the table's own
 * comment is kept inside it (the revert puts it back). It names the slot
 * and publication, the swap's LSN and time, when the window ends, and the
 * columns the two shapes share.
 */
import type pg from 'pg';
import type { TableRef } from '../engine.js';
import { GhostwrightError } from '../../errors.js';
import { boundLockWait, catalog, inTransaction, whileInUse } from './connect.js';
import { PG_MAX_IDENTIFIER_BYTES, qualified, quoteIdent } from './ident.js';
import { isStampedOldTable } from '../../core/names.js';
import { comment } from './swap.js';

export interface PgRevertPoint {
  /** The table's name (the new shape's, live). */
  table: string;
  slot: string;
  publication: string;
  /** The WAL insert position inside the swap's transaction. */
  lsn: string;
  /** ISO time of the swap. */
  at: string;
  /** ISO time the window ends: after it the slot is dropped, not read. */
  expires: string;
  /** Columns both shapes share (new-shape names). */
  columns: string[];
  /** The table's own comment before ours (null: none). */
  comment: string | null;
  /**
   * The replica identity ('d' | 'n') the table gets back when the window
   * ends: the run had set it to the key's index, which the new table keeps
   * while it is published (else its updates and deletes would fail, and
   * carry no key). Null: unchanged.
   */
  identity: string | null;
}

/** A revert point found on a kept old table. */
export interface FoundRevertPoint {
  table: TableRef;
  point: PgRevertPoint;
}

const TAG = 'ghostwright-revert';

export function encodeRevertPoint(p: PgRevertPoint): string {
  return JSON.stringify({ [TAG]: 1, ...p });
}

/** The point in a table comment, or null when the comment is not ours. */
export function decodeRevertPoint(text: string | null): PgRevertPoint | null {
  if (!text?.startsWith(`{"${TAG}"`)) return null;
  try {
    const j = JSON.parse(text) as Record<string, unknown>;
    const str = (k: string): string | null => (typeof j[k] === 'string' ? (j[k] as string) : null);
    const [table, slot, publication, lsn, at, expires] = ['table', 'slot', 'publication', 'lsn', 'at', 'expires'].map(str);
    if (!table || !slot || !publication || !lsn || !at || !expires) return null;
    const columns = Array.isArray(j.columns) ? j.columns.filter((c): c is string => typeof c === 'string') : [];
    return { table, slot, publication, lsn, at, expires, columns, comment: str('comment'), identity: str('identity') };
  } catch {
    return null;
  }
}

export const expired = (p: PgRevertPoint, now = Date.now()): boolean => Date.parse(p.expires) <= now;

/**
 * Inside the cut-over's transaction, after the renames: `t` is the new table,
 * `old` the original. Publishes the new table instead of the old one and
 * writes the revert point on the old table.
 */
export async function keepRevertWindow(
  db: pg.ClientBase,
  input: { original: TableRef; old: TableRef; slot: string; publication: string; windowMs: number; columns: string[]; key: string[]; identityChanged: string | null },
): Promise<void> {
  const pub = quoteIdent(input.publication);
  const t = qualified(input.original);
  if (input.identityChanged !== null) {
    // The swap gave the new table the identity the original had before the run; published, it needs the key's.
    const [idx] = await catalog<{ n: string }>(
      db,
      `SELECT i.relname AS n FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = $1::regclass AND x.indisunique AND x.indimmediate AND x.indpred IS NULL AND x.indexprs IS NULL
          AND ARRAY(SELECT a.attname::text FROM unnest(x.indkey::int2[]) k(n) JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n ORDER BY 1) = (SELECT array_agg(c ORDER BY c) FROM unnest($2::text[]) c)
        ORDER BY 1 LIMIT 1`,
      [t, input.key],
    );
    if (!idx) throw new Error(`--revert-window: the new table has no unique index on its key (${input.key.join(', ')}) to publish it by`);
    await db.query(`ALTER TABLE ${t} REPLICA IDENTITY USING INDEX ${quoteIdent(idx.n)}`);
  }
  await db.query(`ALTER PUBLICATION ${pub} ADD TABLE ${t}`);
  await db.query(`ALTER PUBLICATION ${pub} DROP TABLE ${qualified(input.old)}`);
  const [row] = await catalog<{ lsn: string; c: string | null }>(db, `SELECT pg_current_wal_insert_lsn()::text AS lsn, obj_description($1::regclass, 'pg_class') AS c`, [qualified(input.old)]);
  const now = new Date();
  const point: PgRevertPoint = {
    table: input.original.name,
    slot: input.slot,
    publication: input.publication,
    lsn: row!.lsn,
    at: now.toISOString(),
    expires: new Date(now.getTime() + input.windowMs).toISOString(),
    columns: input.columns,
    comment: decodeRevertPoint(row!.c)?.comment ?? row!.c,
    identity: input.identityChanged,
  };
  await comment(db, 'TABLE', qualified(input.old), encodeRevertPoint(point));
}

/** Every revert point on a table of this database: `_..._del` tables whose comment is ours. */
export async function findRevertPoints(db: pg.Pool | pg.ClientBase, schema?: string): Promise<FoundRevertPoint[]> {
  const rows = await catalog<{ schema: string; name: string; c: string }>(
    db,
    `SELECT n.nspname AS schema, c.relname AS name, obj_description(c.oid, 'pg_class') AS c
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND c.relname LIKE '\\_%\\_del' AND ($1::text IS NULL OR n.nspname = $1)
        AND starts_with(obj_description(c.oid, 'pg_class'), $2) ORDER BY 1, 2`,
    [schema ?? null, `{"${TAG}"`],
  );
  const out: FoundRevertPoint[] = [];
  for (const r of rows) {
    const point = decodeRevertPoint(r.c);
    if (point) out.push({ table: { schema: r.schema, name: r.name }, point });
  }
  return out;
}

/** The table's own comment back in place of the revert point. */
export async function restoreComment(db: pg.Pool | pg.ClientBase, found: FoundRevertPoint): Promise<void> {
  const target = qualified(found.table);
  if (found.point.comment === null) await db.query(`COMMENT ON TABLE ${target} IS NULL`);
  else await comment(db, 'TABLE', target, found.point.comment);
}

/**
 * What the window changed besides its slot and publication, put back: the
 * kept table's comment (unless a revert swapped it away) and the live
 * table's replica identity. The identity change waits at most lockTimeoutMs
 * for its lock; failing, it says the command.
 */
export async function closeWindow(db: pg.Pool, found: FoundRevertPoint, options: { restoreComment: boolean; lockTimeoutMs?: number }): Promise<void> {
  if (options.restoreComment) await restoreComment(db, found);
  const previous = found.point.identity;
  if (previous === null) return;
  const sql = `ALTER TABLE ${qualified({ schema: found.table.schema, name: found.point.table })} REPLICA IDENTITY ${previous === 'n' ? 'NOTHING' : 'DEFAULT'}`;
  try {
    await inTransaction(db, async (c) => {
      await boundLockWait(c, options.lockTimeoutMs ?? 3000);
      await c.query(sql);
    });
  } catch (err) {
    throw new GhostwrightError('E_REPLICA_IDENTITY', `the revert window is closed, but the replica identity of ${found.point.table} could not be put back: ${(err as Error).message}`, { cause: err, hint: `run ${sql}; yourself` });
  }
}

/** Ends a revert window: drops its slot and publication, then closeWindow. Returns what it dropped. */
export async function endRevertWindow(db: pg.Pool, found: FoundRevertPoint, options: { restoreComment: boolean; lockTimeoutMs?: number } = { restoreComment: true }): Promise<string[]> {
  const dropped: string[] = [];
  const slot = await whileInUse(() => db.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, [found.point.slot]));
  if (slot.rowCount) dropped.push(`slot ${found.point.slot}`);
  const pub = await catalog(db, `SELECT 1 FROM pg_publication WHERE pubname = $1`, [found.point.publication]);
  if (pub.length) {
    await db.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(found.point.publication)}`);
    dropped.push(`publication ${found.point.publication}`);
  }
  await closeWindow(db, found, options);
  return dropped;
}

/** Whether the swap kept a revert window on `old` for this slot (cleanup then keeps slot and publication). */
export async function windowKeptOn(db: pg.Pool | pg.ClientBase, old: TableRef, slot: string): Promise<PgRevertPoint | null> {
  const [row] = await catalog<{ c: string | null }>(db, `SELECT obj_description(to_regclass($1), 'pg_class') AS c`, [qualified(old)]);
  const point = decodeRevertPoint(row?.c ?? null);
  return point?.slot === slot ? point : null;
}

/** `{ oldTableStamp }` of a kept `_t_<stamp>_del`, else nothing. */
export function stampOf(kept: string, table: string): { oldTableStamp?: string } {
  const stamp = /_(\d{14})_del$/.exec(kept)?.[1];
  return stamp && isStampedOldTable('postgres', table, kept, PG_MAX_IDENTIFIER_BYTES) ? { oldTableStamp: stamp } : {};
}
