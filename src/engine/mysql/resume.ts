/**
 * Resuming an interrupted MySQL/MariaDB run (core/checkpoint.ts): read its
 * checkpoint from the changelog, prove the binlog still holds the restart
 * position, and drop the ghost rows the checkpoint does not vouch for.
 *
 * The restart position is the backlog's low-water mark (ChangeBacklog
 * `applied`: the last commit before the oldest change still queued or in
 * flight), never the last batch's position: a key waiting on an in-flight
 * chunk holds it back. Replaying from there re-reads keys whose changes are
 * already in the ghost, which is harmless (the applier deletes a key's ghost
 * rows and inserts the original's current row).
 */
import type { Pool, PoolConnection } from 'mysql2/promise';
import { parseCheckpoint, type Checkpoint, type RangeProgress } from '../../core/checkpoint.js';
import { cleanupCommand } from '../../core/leftovers.js';
import { RefusedError } from '../../errors.js';
import type { KeyTuple, TableRef } from '../engine.js';
import { queryExec, queryRows, requireBinlogFile, type BinlogPosition } from './connect.js';
import { qualified } from './ident.js';
import { keyCompare, type Sql } from './sql.js';

export function parsePosition(text: string): BinlogPosition {
  const m = /^(.+):(\d+)$/.exec(text);
  if (!m) throw new RefusedError('E_CHECKPOINT_UNREADABLE', `the checkpoint's binlog position is not file:offset: ${text}`, { hint: 'remove the run with ghostwright cleanup --execute and start over' });
  return { file: m[1]!, position: Number(m[2]) };
}

/** The checkpoint in `_t_ghc`, or null when there is no changelog or no checkpoint in it. */
export async function readMysqlCheckpoint(pool: Pool, changelog: TableRef, table: TableRef): Promise<Checkpoint | null> {
  let rows;
  try {
    rows = await queryRows(pool, `SELECT \`value\` AS v FROM ${qualified(changelog)} WHERE \`hint\` = ?`, ['checkpoint']);
  } catch (err) {
    if ((err as { code?: string }).code === 'ER_NO_SUCH_TABLE') return null;
    throw err;
  }
  const text = rows[0]?.v;
  return text == null ? null : parseCheckpoint(String(text), `${table.schema}.${table.name}`);
}

/** Refuses unless the server still has the binlog file the stream restarts in (SHOW BINARY LOGS). */
export async function checkBinlogAvailable(pool: Pool, from: BinlogPosition, table: TableRef): Promise<void> {
  await requireBinlogFile(
    pool,
    from.file,
    (oldest) =>
      new RefusedError('E_RESUME_STREAM_GONE', `--resume: the binlog file ${from.file} the interrupted run must restart from is no longer on the server (oldest: ${oldest ?? 'none'}); changes made since cannot be read`, {
        hint: `the run cannot be resumed: ${cleanupCommand(table, false)}, then run again (raise binlog_expire_logs_seconds / expire_logs_days so a long run's binlogs outlive it)`,
        details: { file: from.file, oldest },
      }),
  );
}

/** DELETE of the ghost's rows with after < key <= upTo (either bound open). */
export function buildTrimRange(ghost: TableRef, key: readonly string[], after: KeyTuple | null, upTo: KeyTuple | null): Sql {
  const conds: Sql[] = [];
  if (after) conds.push(keyCompare(key, '>', after));
  if (upTo) conds.push(keyCompare(key, '<=', upTo));
  const where = conds.length ? ` WHERE ${conds.map((c) => `(${c.sql})`).join(' AND ')}` : '';
  return { sql: `DELETE FROM ${qualified(ghost)}${where}`, params: conds.flatMap((c) => c.params) };
}

/**
 * Removes the ghost's rows of each unfinished range beyond its progress:
 * chunks that committed after the last checkpoint (and changes applied to
 * them). The copy reads those keys again, as they are by then.
 */
export async function trimGhost(pool: Pool | PoolConnection, ghost: TableRef, key: readonly string[], ranges: readonly RangeProgress[]): Promise<number> {
  let removed = 0;
  for (const r of ranges) {
    if (r.done) continue;
    const q = buildTrimRange(ghost, key, r.through ?? r.after, r.upTo);
    removed += (await queryExec(pool, q.sql, q.params)).affectedRows;
  }
  return removed;
}
