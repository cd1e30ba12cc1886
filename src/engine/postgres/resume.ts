/**
 * `alter --resume` on PostgreSQL: what a run writes so that a later process
 * can go on with it, and the checks before it does.
 *
 * The changelog `_t_ghc` holds, besides the heartbeat (row 1):
 * - row 2, the checkpoint (core/checkpoint.ts): copy progress per range,
 *   the phase, and as restart position the stream's applied LSN;
 * - row 3, the run record, written once the slot exists: the slot's name
 *   (it carries the pid of the run that made it), the publication, whether
 *   the copy ran under replication origins, the replica identity to restore,
 *   the foreign keys the ghost gets at cut-over, and the indexes it gets
 *   when the copy is done (deferred-indexes.ts).
 *
 * Why a resumed copy plus a replay from the slot is correct, although the
 * first run's copy read snapshots taken after the slot's consistent point
 * and a resumed one can't tie its snapshots to anything:
 * - The slot's confirmed_flush_lsn L only moves when every key of a commit
 *   was applied (or left to the copy, see CopiedSpans): each commit at or
 *   before L is in the ghost or still ahead of the copy. Every commit after
 *   L comes again, whatever the first run had done with it; applying it
 *   again re-reads the key's CURRENT row from the original (applier.ts), so
 *   a replay is harmless. L may be older than the checkpoint's position
 *   (after a server crash the slot comes back as of the last checkpoint):
 *   more replay, same result.
 * - Chunks that committed after the checkpoint was written are not vouched
 *   for: trimToCheckpoint deletes the ghost's rows beyond each unfinished
 *   range's `through`, restoring "the ghost holds no key the copy has yet to
 *   reach", and the copy reads those rows again.
 * - The resumed copy's chunks are READ COMMITTED statements, each its own
 *   snapshot taken after the resume started. A transaction invisible to such
 *   a snapshot committed after it, so its commit record lies after L (any
 *   commit at or before L was seen, and waited for until visible, by the
 *   applier before the kill): the stream brings it, and the copy gate sorts
 *   it against the chunk exactly as in the first run. Changes of keys the
 *   copy has not reached are left to the copy, which reads them as they are.
 * - The dead run's sessions may still be finishing a statement (a chunk's
 *   INSERT runs to its end after the client died, and commits). The trim
 *   first takes a lock on the ghost that waits for every write on it to end:
 *   nothing of the old run lands after the trim.
 */
import type pg from 'pg';
import { parseCheckpoint, type Checkpoint, type RangeProgress } from '../../core/checkpoint.js';
import { cleanupCommand } from '../../core/leftovers.js';
import { RefusedError } from '../../errors.js';
import type { TableRef } from '../engine.js';
import { boundLockWait, catalog, inTransaction } from './connect.js';
import type { GhostFk } from './ghost.js';
import type { DeferredIndex } from './deferred-indexes.js';
import { qualified } from './ident.js';
import { trimGhostSql, type CopySpec } from './sql.js';
import { waitSlotReleased } from './slot.js';

const CHECKPOINT_ROW = 2;
const RUN_ROW = 3;

/** What a resumed run needs to know of the run it continues (changelog row 3). */
export interface PgRunRecord {
  slot: string;
  publication: string;
  /** The copy ran under replication origins `<slot>`, `<slot>_2`, ... and the slot is read with origin 'none' (16+, origin.ts). */
  originFilter: boolean;
  /** The original's replica identity before the run changed it ('d' | 'n'), or null. */
  identityChanged: string | null;
  /** Foreign keys the ghost gets at cut-over (ghost.ts). */
  ghostFks: GhostFk[];
  /** The ghost's indexes built after the copy (deferred-indexes.ts): a resumed run builds the missing ones first. */
  deferredIndexes: DeferredIndex[];
}

async function writeRow(db: pg.Pool, changelog: TableRef, id: number, json: string): Promise<void> {
  await db.query(`INSERT INTO ${qualified(changelog)} (id, state) VALUES ($1, $2::jsonb) ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, updated_at = clock_timestamp()`, [id, json]);
}

async function readRow(db: pg.Pool, changelog: TableRef, id: number): Promise<string | null> {
  const [exists] = await catalog<{ ok: boolean }>(db, `SELECT to_regclass($1) IS NOT NULL AS ok`, [qualified(changelog)]);
  if (!exists?.ok) return null;
  const res = await db.query<{ s: string | null }>(`SELECT state::text AS s FROM ${qualified(changelog)} WHERE id = $1`, [id]);
  return res.rows[0]?.s ?? null;
}

export const writeRunRecord = (db: pg.Pool, changelog: TableRef, rec: PgRunRecord): Promise<void> => writeRow(db, changelog, RUN_ROW, JSON.stringify(rec));

export const writeCheckpointRow = (db: pg.Pool, changelog: TableRef, text: string): Promise<void> => writeRow(db, changelog, CHECKPOINT_ROW, text);

export async function readRunRecord(db: pg.Pool, changelog: TableRef): Promise<PgRunRecord | null> {
  const text = await readRow(db, changelog, RUN_ROW);
  if (!text) return null;
  const r = JSON.parse(text) as Partial<PgRunRecord>;
  if (typeof r.slot !== 'string' || typeof r.publication !== 'string') return null;
  return { slot: r.slot, publication: r.publication, originFilter: r.originFilter === true, identityChanged: r.identityChanged ?? null, ghostFks: r.ghostFks ?? [], deferredIndexes: r.deferredIndexes ?? [] };
}

/** The checkpoint in the changelog, or null (no changelog, or killed before the first checkpoint). */
export async function readPgCheckpoint(db: pg.Pool, changelog: TableRef, table: TableRef): Promise<Checkpoint | null> {
  const text = await readRow(db, changelog, CHECKPOINT_ROW);
  return text ? parseCheckpoint(text, `${table.schema}.${table.name}`) : null;
}

const gone = (table: TableRef, what: string): RefusedError =>
  new RefusedError('E_RESUME_STREAM_GONE', `--resume: the interrupted run on ${table.schema}.${table.name} cannot be continued: ${what}`, {
    hint: `changes made since it stopped can no longer be streamed; remove what it left and run again without --resume: ${cleanupCommand(table, false)}`,
  });

export interface ResumableRun {
  table: TableRef;
  ghost: TableRef;
  record: PgRunRecord | null;
  checkpoint: Checkpoint;
  /** How long to wait for the dead run's walsender to let go of the slot. */
  releaseTimeoutMs?: number;
}

/**
 * Refuses (exit 2) unless the stream can go on where the run stopped: the
 * run record, the ghost, the slot (not in use by a live run), the
 * publication with the table in it, and on 16+ the replication origin the
 * copy ran under. Reads only.
 */
export async function checkResumable(db: pg.Pool, run: ResumableRun): Promise<PgRunRecord> {
  const { table, record } = run;
  if (!record) throw gone(table, 'its changelog has a checkpoint but no record of its replication slot');
  const [ghost] = await catalog<{ ok: boolean }>(db, `SELECT to_regclass($1) IS NOT NULL AS ok`, [qualified(run.ghost)]);
  if (!ghost?.ok) {
    throw new RefusedError('E_NO_CHECKPOINT', `--resume: the ghost table ${run.ghost.schema}.${run.ghost.name} of the interrupted run is gone`, { hint: `remove what the run left, then run again without --resume: ${cleanupCommand(table, false)}` });
  }
  const slot = await waitSlotReleased(db, record.slot, run.releaseTimeoutMs ?? 15_000);
  if (!slot) throw gone(table, `its replication slot ${record.slot} was dropped`);
  if (slot.active) {
    throw new RefusedError('E_RUN_ACTIVE', `--resume: the replication slot ${record.slot} is in use by process ${slot.activePid}: the run on ${table.schema}.${table.name} is still going`, {
      hint: 'wait for it, or stop it (ghostwright control ... panic, or end that process); then resume',
    });
  }
  if (slot.confirmedFlushLsn === null || slot.plugin !== 'pgoutput') throw gone(table, `its replication slot ${record.slot} is not a pgoutput logical slot`);
  const [pub] = await catalog<{ member: boolean }>(
    db,
    `SELECT EXISTS (SELECT 1 FROM pg_publication_rel r WHERE r.prpubid = p.oid AND r.prrelid = $2::regclass) AS member FROM pg_publication p WHERE p.pubname = $1`,
    [record.publication, qualified(table)],
  );
  if (!pub) throw gone(table, `its publication ${record.publication} was dropped`);
  if (!pub.member) throw gone(table, `the table is no longer in its publication ${record.publication}`);
  // The copy's first session made the origin named like the slot; a run with copy progress under the filter has it.
  const copied = run.checkpoint.ranges.some((r) => r.done || r.through !== null);
  if (record.originFilter && copied) {
    const [o] = await catalog<{ n: number }>(db, `SELECT count(*)::int AS n FROM pg_replication_origin WHERE roname = $1`, [record.slot]);
    if (!o?.n) throw gone(table, `the replication origin ${record.slot} its copy ran under was dropped (someone ran cleanup?)`);
  }
  return record;
}

/**
 * Waits out every write of the dead run on the ghost (a lock that conflicts
 * with them), then deletes the ghost's rows beyond each unfinished range's
 * committed progress. Nothing of the old run can land after it.
 */
export async function trimGhost(db: pg.Pool, spec: CopySpec, ranges: readonly RangeProgress[], lockTimeoutMs: number): Promise<number> {
  return inTransaction(db, async (client) => {
    await boundLockWait(client, lockTimeoutMs);
    await client.query(`LOCK TABLE ${qualified(spec.ghost)} IN SHARE ROW EXCLUSIVE MODE`);
    let removed = 0;
    for (const r of ranges) {
      if (r.done) continue;
      const q = trimGhostSql(spec, r.through ?? r.after, r.upTo);
      removed += (await client.query(q.sql, q.params)).rowCount ?? 0;
    }
    return removed;
  });
}
