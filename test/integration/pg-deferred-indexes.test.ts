/**
 * The ghost's indexes are built after the copy (engine/postgres/deferred-indexes.ts):
 * - mid-copy the ghost has none of the deferrable ones (the primary key, a
 *   unique constraint the original has, plain, expression, partial, INCLUDE
 *   and commented indexes) but keeps a unique constraint the ALTER adds;
 * - afterwards the table's indexes, constraints and comments equal what the
 *   blocking ALTER gives, and its rows equal the mirror's written by a
 *   concurrent load (the applier held their keys until the key index came);
 * - with a tiny backlog limit the indexes are built early, mid-copy, and the
 *   run still ends equal;
 * - killed mid-copy, a --resume builds them before it copies on;
 * - a duplicate on a deferred unique index that a queued change removes
 *   (rows swapped values) fails the build once; it is built again after
 *   catching up.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlterRequest } from '../../src/engine/engine.js';
import { buildIndexes, markKeyIndex } from '../../src/engine/postgres/deferred-indexes.js';
import { createLogger, silentLogger } from '../../src/log.js';
import { openPgFixture, type PgFixture } from '../helpers/pg-fixture.js';
import { diffDigests, driveAlter, MirroredLoad, rowDigests } from '../helpers/pg-load.js';
import { background, copying, readCheckpoint, runToEnd, waitUntil } from '../helpers/pg-resume.js';

const N = 20_000;
const ALTER = 'ADD COLUMN extra int NOT NULL DEFAULT 7, ALTER COLUMN qty TYPE bigint, ADD UNIQUE (price, id)';
const COLS = ['id', 'qty', 'note', 'price', 'created'];

let fixture: PgFixture | undefined;
let db: pg.Client;
let url: string;

beforeAll(async () => {
  fixture = await openPgFixture('pg_defer');
  ({ url, db } = fixture);
});
afterAll(async () => {
  await fixture?.close();
});

/** The table and its mirror; the table (and a reference for the blocking ALTER) with every kind of index. */
async function createTables(table: string): Promise<void> {
  for (const t of [table, `${table}_mirror`, `${table}_ref`]) {
    await db.query(`CREATE TABLE ${t} (id bigint PRIMARY KEY, qty int NOT NULL, note text, price numeric(14,4), created timestamptz NOT NULL DEFAULT now())`);
    await db.query(`INSERT INTO ${t} SELECT g, g % 1000, 'note ' || g, g * 1.5, '2024-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, $1) g`, [N]);
  }
  for (const t of [table, `${table}_ref`]) {
    await db.query(`ALTER TABLE ${t} ADD CONSTRAINT ${t}_note_key UNIQUE (note)`);
    await db.query(`COMMENT ON CONSTRAINT ${t}_note_key ON ${t} IS 'one note per row'`);
    await db.query(`CREATE INDEX ${t}_qty ON ${t} (qty)`);
    await db.query(`CREATE INDEX ${t}_lower_note ON ${t} (lower(note))`);
    await db.query(`CREATE INDEX ${t}_big_price ON ${t} (price) WHERE qty > 500`);
    await db.query(`CREATE INDEX ${t}_qty_created ON ${t} (qty, created DESC)`);
    await db.query(`COMMENT ON INDEX ${t}_qty_created IS 'for the report'`);
    await db.query(`CREATE INDEX ${t}_created_incl ON ${t} (created) INCLUDE (price)`);
  }
  await db.query(`ALTER TABLE ${table}_ref ${ALTER}`);
  await db.query(`ANALYZE ${table}`);
}

/** Every index of the table as shape, constraint kind and comments, without names. */
async function indexSet(table: string): Promise<string[]> {
  const r = await db.query<{ s: string }>(
    `SELECT CASE WHEN x.indisunique THEN 'U ' ELSE '' END || regexp_replace(pg_get_indexdef(x.indexrelid), '^.*? USING ', '')
            || coalesce(' constraint:' || con.contype::text, '') || coalesce(' comment:' || obj_description(x.indexrelid, 'pg_class'), '')
            || coalesce(' constraint comment:' || obj_description(con.oid, 'pg_constraint'), '') AS s
       FROM pg_index x LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid
      WHERE x.indrelid = $1::regclass ORDER BY 1`,
    [table],
  );
  return r.rows.map((row) => row.s);
}

const ghostIndexes = async (table: string): Promise<string[]> =>
  (await db.query<{ n: string }>(`SELECT i.relname AS n FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = $1::regclass ORDER BY 1`, [`_${table}_gho`])).rows.map((r) => r.n);

async function expectEqualToMirror(table: string): Promise<void> {
  const a = await rowDigests(db, table, 'id', COLS);
  const b = await rowDigests(db, `${table}_mirror`, 'id', COLS);
  expect(diffDigests(a, b)).toEqual([]);
  expect(a.size).toBe(b.size);
}

const request = (table: string, extra: Partial<AlterRequest> = {}): AlterRequest => ({
  table: { schema: 'public', name: table },
  alter: ALTER,
  cutOverLockTimeoutMs: 2000,
  dropOldTable: false,
  maxBacklogEvents: 50_000,
  ...extra,
});

describe('PostgreSQL: the ghost indexes are built after the copy', { timeout: 240_000 }, () => {
  it.each([
    { table: 'dx_end', maxBacklogEvents: 50_000, early: false },
    // 400: the build starts at 200 keys held; far lower, the stream would pause reading under this load and the verification wait for a quiet moment.
    { table: 'dx_early', maxBacklogEvents: 400, early: true },
  ])('under concurrent writes: none mid-copy (early build: $early), all at the end, equal to the blocking ALTER, rows equal', async ({ table, maxBacklogEvents, early }) => {
    await createTables(table);
    const load = new MirroredLoad({ url, table, mirror: `${table}_mirror`, workers: 3, firstNewId: N + 1, maxExistingId: N, pauseMs: 2 });
    load.start();
    const seen: string[][] = [];
    let verified: { recopiedChunks: number } | undefined;
    try {
      const { report } = await driveAlter(url, request(table, { maxBacklogEvents }), {
        chunkSize: 500,
        log: createLogger({ level: process.env.GW_LOG === '1' ? 'info' : 'silent' }),
        betweenChunks: async () => {
          seen.push(await ghostIndexes(table));
          // Time for the load to write keys the applier must hold.
          await new Promise((r) => setTimeout(r, early ? 40 : 10));
        },
      });
      verified = report.verify;
    } finally {
      await new Promise((r) => setTimeout(r, 300));
      await load.stop();
    }
    expect(load.stats.commits).toBeGreaterThan(50);
    expect(load.stats.keyUpdates).toBeGreaterThan(5);
    // The held keys (and those settled as left to the copy) were right by themselves: the verification re-copied nothing.
    expect(verified?.recopiedChunks).toBe(0);
    // Mid-copy, only the unique constraint the ALTER adds is there (its data could break it: not deferred).
    expect(seen.length).toBeGreaterThan(5);
    expect(seen[0]).toHaveLength(1);
    expect(seen[0]![0]).toMatch(/price_id_key$/);
    if (early) expect(seen.some((names) => names.length > 1)).toBe(true);
    else expect(seen.every((names) => names.length === 1)).toBe(true);
    expect(await indexSet(table)).toEqual(await indexSet(`${table}_ref`));
    expect((await db.query(`SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'`, [table])).rows[0]?.conname).toBe(`${table}_pkey`);
    await expectEqualToMirror(table);
  });

  it('killed mid-copy: --resume builds the deferred indexes first and finishes equal', async () => {
    const table = 'dx_resume';
    await createTables(table);
    const load = new MirroredLoad({ url, table, mirror: `${table}_mirror`, workers: 3, firstNewId: N + 1, maxExistingId: N, pauseMs: 3 });
    load.start();
    const args = (extra: string[] = []) => [
      'alter', '--url', url, '--table', table, '--alter', ALTER, '--execute', '--json', '--progress', 'none',
      '--chunk-size', '200', '--chunk-time', '20', '--max-share', '10', '--threads', '1',
      '--checkpoint-interval-millis', '300', '--cut-over-lock-timeout', '5', '--replica', 'none', ...extra,
    ];
    try {
      const run = background(args());
      await waitUntil('a checkpoint mid-copy', async () => copying(await readCheckpoint(db, table)), run);
      await run.kill9();
      // The dead run's ghost: still without its deferred indexes.
      expect(await ghostIndexes(table)).toHaveLength(1);
      const resumed = await runToEnd(args(['--resume']));
      expect(resumed.code, resumed.out).toBe(0);
    } finally {
      await new Promise((r) => setTimeout(r, 200));
      await load.stop();
    }
    expect(await indexSet(table)).toEqual(await indexSet(`${table}_ref`));
    await expectEqualToMirror(table);
  });
});

describe('PostgreSQL: a transient duplicate on a deferred unique index', () => {
  it('fails the build once; after catching up (the queued change applied) it is built again', async () => {
    // The ghost as the copy can leave it: row 2 copied before it took 'a' from row 1 (swapped values),
    // row 1 copied after; the change that gives row 2 its new value is still queued.
    await db.query(`CREATE TABLE dup_gho (id bigint NOT NULL, u text)`);
    await db.query(`INSERT INTO dup_gho VALUES (1, 'a'), (2, 'a'), (3, 'c')`);
    const indexes = markKeyIndex(
      [
        { name: 'dup_gho_pkey', unique: true, columns: ['id'], create: ['CREATE UNIQUE INDEX dup_gho_pkey ON public.dup_gho (id)', 'ALTER TABLE public.dup_gho ADD CONSTRAINT dup_gho_pkey PRIMARY KEY USING INDEX dup_gho_pkey'] },
        { name: 'dup_gho_u_key', unique: true, columns: ['u'], create: ['CREATE UNIQUE INDEX dup_gho_u_key ON public.dup_gho (u)', 'ALTER TABLE public.dup_gho ADD CONSTRAINT dup_gho_u_key UNIQUE USING INDEX dup_gho_u_key'] },
      ],
      ['id'],
    );
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    const events: string[] = [];
    try {
      await buildIndexes(pool, { schema: 'public', name: 'dup_gho' }, indexes, {
        keyReady: () => events.push('key ready'),
        catchUp: async () => {
          events.push('catch up');
          // The applier writes the queued change: row 2 gets its new value.
          await db.query(`UPDATE dup_gho SET u = 'b' WHERE id = 2`);
        },
        log: silentLogger,
      });
    } finally {
      await pool.end();
    }
    // The key's index first (the applier may write from then on), then one failed try, one catch-up, one build.
    expect(events).toEqual(['key ready', 'catch up']);
    const built = await db.query<{ conname: string }>(`SELECT conname FROM pg_constraint WHERE conrelid = 'dup_gho'::regclass ORDER BY 1`);
    expect(built.rows.map((r) => r.conname)).toEqual(['dup_gho_pkey', 'dup_gho_u_key']);
  });
});
