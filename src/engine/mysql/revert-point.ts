/**
 * The revert point of a MySQL/MariaDB cut-over: where, in the binlog, a
 * revert must start reading the writes made to the new table.
 *
 * It is kept as a JSON COMMENT on the kept old table `_t_del` itself, not in
 * the changelog `_t_ghc` or a table of its own: it lives exactly as long as
 * the table it is useful for (dropping `_t_del` ends the revert window, with
 * nothing left to sweep), `cleanup`/`doctor` already treat a kept `_t_del` as
 * what it is, and a COMMENT change is metadata-only (no rebuild) on both
 * MySQL 8 and MariaDB. The table's own comment is kept inside the JSON and
 * restored by the revert.
 *
 * Two positions: `from`, read before the swap's lock, and `until`, read
 * after the RENAME. Between them the binlog holds the cut-over's own RENAME
 * (which the revert's stream must let pass) and perhaps writes to the old
 * table just before the lock: replaying those is harmless, the apply is
 * key-based and re-reads each key's current row from the table.
 */
import type { Pool } from 'mysql2/promise';
import type { TableRef } from '../engine.js';
import type { Logger } from '../../log.js';
import { currentBinlogPosition, queryExec, queryRows, type Queryable, type BinlogPosition } from './connect.js';
import { qualified } from './ident.js';

export interface RevertPoint {
  from: BinlogPosition;
  until: BinlogPosition;
  /** ISO time of the swap. */
  at: string;
  /** The table's own comment before we wrote ours. */
  comment: string;
}

const TAG = 'ghostwright-revert';
/** MySQL's limit for a table COMMENT, in characters. */
const COMMENT_MAX = 2048;

export function encodeRevertPoint(p: RevertPoint): string {
  return JSON.stringify({ [TAG]: 1, from: p.from, until: p.until, at: p.at, comment: p.comment });
}

/** The point in a table comment, or null when the comment is not ours. */
export function decodeRevertPoint(comment: string): RevertPoint | null {
  if (!comment.startsWith(`{"${TAG}"`)) return null;
  try {
    const j = JSON.parse(comment) as Record<string, unknown>;
    const pos = (v: unknown): BinlogPosition | null => {
      const o = v as { file?: unknown; position?: unknown } | null;
      return o && typeof o.file === 'string' && typeof o.position === 'number' ? { file: o.file, position: o.position } : null;
    };
    const from = pos(j.from);
    const until = pos(j.until);
    if (!from || !until || typeof j.at !== 'string') return null;
    return { from, until, at: j.at, comment: typeof j.comment === 'string' ? j.comment : '' };
  } catch {
    return null;
  }
}

export async function tableComment(conn: Queryable, ref: TableRef): Promise<string | null> {
  const rows = await queryRows(conn, 'SELECT TABLE_COMMENT AS c FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [ref.schema, ref.name]);
  return rows.length ? String(rows[0]!.c ?? '') : null;
}

/** Sets a table's COMMENT (metadata only); the text travels as a bound value. */
export async function setTableComment(conn: Queryable, ref: TableRef, comment: string): Promise<void> {
  await queryExec(conn, `ALTER TABLE ${qualified(ref)} COMMENT = ?`, [comment]);
}

/**
 * Writes the point on the kept old table. False when it does not fit beside
 * the table's own comment (the revert is then not available, and said so).
 */
export async function recordRevertPoint(pool: Pool, oldTable: TableRef, point: Omit<RevertPoint, 'comment'>): Promise<boolean> {
  const own = (await tableComment(pool, oldTable)) ?? '';
  const text = encodeRevertPoint({ ...point, comment: decodeRevertPoint(own)?.comment ?? own });
  if ([...text].length > COMMENT_MAX) return false;
  await setTableComment(pool, oldTable, text);
  return true;
}

/** After a swap that kept the old table: record where a revert starts. Never fails the (done) swap. */
export async function keepRevertPoint(pool: Pool, oldTable: TableRef, from: BinlogPosition, log: Logger): Promise<void> {
  try {
    const until = await currentBinlogPosition(pool);
    if (!(await recordRevertPoint(pool, oldTable, { from, until, at: new Date().toISOString() }))) {
      log.warn({ table: oldTable.name }, 'the old table is kept, but its comment leaves no room for the revert point: --revert is not available for this cut-over');
    }
  } catch (err) {
    log.warn({ err, table: oldTable.name }, 'the old table is kept, but recording the revert point failed: --revert is not available for this cut-over');
  }
}
