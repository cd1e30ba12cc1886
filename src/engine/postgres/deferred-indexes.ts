/**
 * The ghost's indexes are built after the copy, not during it.
 *
 * Inserting 1M rows into a table that has its primary key measured 1.3-1.7x
 * slower than inserting them into a bare heap and then building the key by
 * one sort (CREATE INDEX), the way the blocking ALTER builds it. So the
 * ghost, once made and read (the copy plan needs its key), loses the
 * indexes it can rebuild to the same effect, with their exact definitions
 * kept (server-made statements: pg_get_indexdef, format %I/%L), and gets
 * them back in one transaction when the copy is done, before the catch-up,
 * the verification and the cut-over.
 *
 * Deferred: every plain index; a primary key or unique index only when the
 * original has a unique index of the same shape (its rows satisfy it, so the
 * build can fail only on a transient duplicate: a row whose change is still
 * queued, retried as the stream catches up). Kept: exclusion and deferrable
 * constraints, an index in a tablespace of its own, a replica identity or
 * clustered one, and a unique index the ALTER adds (duplicates then fail the
 * first chunk, as before, not the end of the copy).
 *
 * Without its key index the ghost can't take the applier's by-key writes
 * (each would scan it): the applier holds the keys, deduplicated, until
 * the build (PgMigration). So that the held keys cannot grow without bound,
 * nor the WAL the slot keeps for them, the build also runs early, mid-copy,
 * when the backlog or the retained WAL reach half their limits; the rest of
 * the copy then maintains the indexes as before.
 *
 * The statements live in the run record. A resumed run builds the missing
 * key and plain indexes at once (the copy plan reads the ghost's key; the
 * rest of that copy maintains them), the other unique ones after its copy.
 */
import type pg from 'pg';
import { GhostwrightError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { TableRef } from '../engine.js';
import { catalog, inTransaction, sqlState } from './connect.js';
import { INDEX_SHAPE } from './dependents.js';
import { namedIndexes } from './ghost.js';

export interface DeferredIndex {
  /** The index's name on the ghost (a constraint's index has the constraint's name). */
  name: string;
  unique: boolean;
  /** Its columns, or null when it has an expression or a predicate. */
  columns: string[] | null;
  /** The copy key's index (markKeyIndex): it alone can't be missing while the applier writes. */
  key?: boolean;
  /** Run in order, in one transaction: CREATE INDEX, then ADD CONSTRAINT ... USING INDEX, then comments. */
  create: string[];
}

interface GhostIndexRow {
  name: string;
  unique: boolean;
  columns: string[] | null;
  shape: string;
  keep: boolean;
  drop: string;
  create: (string | null)[];
}

const GHOST_INDEXES = `
SELECT i.relname AS name, x.indisunique AS unique, ${INDEX_SHAPE} AS shape,
       CASE WHEN x.indexprs IS NULL AND x.indpred IS NULL THEN
         (SELECT json_agg(a.attname ORDER BY k.n) FROM unnest(x.indkey[0:x.indnkeyatts - 1]) WITH ORDINALITY AS k(attnum, n) JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum) END AS columns,
       (coalesce(con.contype = 'x' OR con.condeferrable, false) OR x.indisreplident OR x.indisclustered OR NOT x.indisvalid OR i.reltablespace <> 0) AS keep,
       CASE WHEN con.oid IS NULL THEN format('DROP INDEX %I.%I', n.nspname, i.relname)
            ELSE format('ALTER TABLE %I.%I DROP CONSTRAINT %I', $1::text, $2::text, con.conname) END AS drop,
       json_build_array(
         pg_get_indexdef(x.indexrelid),
         CASE con.contype WHEN 'p' THEN format('ALTER TABLE %I.%I ADD CONSTRAINT %I PRIMARY KEY USING INDEX %I', $1::text, $2::text, con.conname, i.relname)
                          WHEN 'u' THEN format('ALTER TABLE %I.%I ADD CONSTRAINT %I UNIQUE USING INDEX %I', $1::text, $2::text, con.conname, i.relname) END,
         format('COMMENT ON INDEX %I.%I IS %L', n.nspname, i.relname, obj_description(x.indexrelid, 'pg_class')),
         CASE WHEN con.oid IS NOT NULL THEN format('COMMENT ON CONSTRAINT %I ON %I.%I IS %L', con.conname, $1::text, $2::text, obj_description(con.oid, 'pg_constraint')) END
       ) AS create
  FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace n ON n.oid = i.relnamespace
  LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid AND con.contype IN ('p', 'u', 'x')
 WHERE x.indrelid = format('%I.%I', $1::text, $2::text)::regclass
 ORDER BY con.contype = 'p' DESC NULLS LAST, i.relname`;

/**
 * Drops the ghost's deferrable indexes (see the header), in one transaction;
 * returns how to build them again. `COMMENT ... IS NULL` (no comment) is left out.
 */
export async function deferGhostIndexes(pool: pg.Pool, original: TableRef, ghost: TableRef): Promise<DeferredIndex[]> {
  return inTransaction(pool, async (client) => {
    const deferred: DeferredIndex[] = [];
    for (const r of await deferrable(client, original, ghost)) {
      await client.query(r.drop);
      deferred.push({ name: r.name, unique: r.unique, columns: r.columns, create: r.create.filter((s): s is string => s !== null && !/ IS NULL$/.test(s)) });
    }
    return deferred;
  });
}

/** The ghost's indexes deferGhostIndexes would drop (a dry run's report: its ghost lives in a transaction that is rolled back). */
export async function deferrableIndexNames(client: pg.ClientBase, original: TableRef, ghost: TableRef): Promise<string[]> {
  return (await deferrable(client, original, ghost)).map((r) => r.name);
}

async function deferrable(client: pg.ClientBase, original: TableRef, ghost: TableRef): Promise<GhostIndexRow[]> {
  const uniqueShapes = new Set((await namedIndexes(client, original)).map((i) => i.shape).filter((shape) => shape.startsWith('U ')));
  const rows = await catalog<GhostIndexRow>(client, GHOST_INDEXES, [ghost.schema, ghost.name]);
  return rows.filter((r) => !(r.keep || (r.unique && !uniqueShapes.has(r.shape))));
}

/** The deferred indexes the ghost does not have (yet). */
export async function missingIndexes(pool: pg.Pool, ghost: TableRef, deferred: readonly DeferredIndex[]): Promise<DeferredIndex[]> {
  if (!deferred.length) return [];
  const present = new Set((await namedIndexes(pool, ghost)).map((i) => i.name));
  return deferred.filter((d) => !present.has(d.name));
}

/** How long a duplicate on a deferred unique index may last (a row whose change is still queued) before it is real. */
const TRANSIENT_DUPLICATE_MS = 30_000;

/** Marks the copy key's index: a plain unique index on exactly the key's columns (in any order). */
export function markKeyIndex(indexes: readonly DeferredIndex[], key: readonly string[]): DeferredIndex[] {
  return indexes.map((ix) => ({ ...ix, key: ix.unique && ix.columns !== null && ix.columns.length === key.length && key.every((k) => ix.columns!.includes(k)) }));
}

/** The ones no duplicate can stop (the copy and the applier write each key once): the key's index and the plain ones. */
export const safeToBuild = (ix: DeferredIndex): boolean => !ix.unique || ix.key === true;

async function createAll(pool: pg.Pool, indexes: readonly DeferredIndex[], onSession?: (pid: number) => void): Promise<void> {
  if (!indexes.length) return;
  await inTransaction(pool, async (client) => {
    onSession?.(Number((await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid));
    for (const ix of indexes) for (const sql of ix.create) await client.query(sql);
  });
}

/**
 * Builds the indexes. The SHARE lock a build takes waits for a chunk still
 * inserting and holds the next until the commit. First, in one
 * transaction, the copy key's index and the plain ones: no duplicate can
 * stop them (the copy and the applier write each key once); then
 * `keyReady()` (the applier may write again). Then the other unique ones,
 * where a duplicate may be transient (see the header): `catchUp()` lets the
 * applier write what is queued, and the build is tried again, for at most
 * TRANSIENT_DUPLICATE_MS.
 */
export async function buildIndexes(pool: pg.Pool, ghost: TableRef, indexes: readonly DeferredIndex[], hooks: { keyReady: () => void; catchUp: () => Promise<void>; log: Logger; onSession?: (pid: number) => void }): Promise<void> {
  const t0 = Date.now();
  const first = indexes.filter(safeToBuild);
  const rest = indexes.filter((ix) => !first.includes(ix));
  const failed = (err: unknown) =>
    new GhostwrightError('E_GHOST_INDEXES', `building the indexes of ${ghost.schema}.${ghost.name} after the copy failed: ${(err as Error).message}`, { cause: err, hint: 'the original table is untouched; see the server log, fix the cause and run again (or --resume)' });
  await createAll(pool, first, hooks.onSession).catch((err: unknown) => {
    throw failed(err);
  });
  hooks.keyReady();
  for (let attempt = 1; ; attempt++) {
    try {
      await createAll(pool, rest, hooks.onSession);
      break;
    } catch (err) {
      if (sqlState(err) !== '23505' || Date.now() - t0 > TRANSIENT_DUPLICATE_MS) throw failed(err);
      hooks.log.info({ err, attempt }, `building the ghost's unique indexes met a duplicate of a row whose change is still queued; building again after catching up`);
      await hooks.catchUp();
    }
  }
  if (indexes.length) hooks.log.info({ table: `${ghost.schema}.${ghost.name}`, indexes: indexes.map((i) => i.name), ms: Date.now() - t0 }, 'ghost indexes built');
}
