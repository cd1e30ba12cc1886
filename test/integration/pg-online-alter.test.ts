/**
 * The PostgreSQL OnlineAlter under a concurrent write load: inserts, updates,
 * primary-key updates, deletes, multi-row and rolled-back transactions. The
 * load writes a mirror table in the same transaction, so after the cut-over
 * every row of the new table must equal its mirror row.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { AlterRequest, Engine } from '../../src/engine/engine.js';
import { createLogger } from '../../src/log.js';
import { openPgFixture, type PgFixture } from '../helpers/pg-fixture.js';
import { MirroredLoad, diffDigests, driveAlter, rowDigests } from '../helpers/pg-load.js';

let url: string;
let engine: Engine;
let db: pg.Client;
let fixture: PgFixture | undefined;

const request = (table: string, alter: string, extra: Partial<AlterRequest> = {}): AlterRequest => ({
  table: { schema: 'public', name: table },
  alter,
  cutOverLockTimeoutMs: 2000,
  dropOldTable: false,
  maxBacklogEvents: 50_000,
  ...extra,
});

async function ourLeftovers(): Promise<{ slots: number; pubs: number }> {
  const s = await db.query(`SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name LIKE 'ghostwright%' AND database = current_database()`);
  const p = await db.query(`SELECT count(*)::int AS n FROM pg_publication WHERE pubname LIKE 'ghostwright%'`);
  return { slots: s.rows[0].n, pubs: p.rows[0].n };
}

beforeAll(async () => {
  fixture = await openPgFixture('pg_alter');
  ({ url, engine, db } = fixture);
});

afterAll(async () => {
  await fixture?.close();
});

describe('PostgreSQL online ALTER under concurrent writes', () => {
  it.each([
    { table: 'items', threads: 1 },
    { table: 'items2', threads: 2 },
  ])('copies, streams and swaps without losing or misplacing a committed write ($threads copy threads)', async ({ table, threads }) => {
    const N = Number(process.env.GW_PG_LOAD_ROWS ?? 20_000);
    for (const t of [table, `${table}_mirror`]) {
      await db.query(`CREATE TABLE ${t} (id bigint PRIMARY KEY, qty int NOT NULL, note text, price numeric(14,4), created timestamptz NOT NULL DEFAULT now())`);
      await db.query(`INSERT INTO ${t} (id, qty, note, price, created) SELECT g, g % 1000, 'note ' || g, g * 1.5, '2024-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, $1) g`, [N]);
    }
    await db.query(`ANALYZE ${table}`);
    const load = new MirroredLoad({ url, table, mirror: `${table}_mirror`, workers: 3, firstNewId: N + 1, maxExistingId: N, pauseMs: 2 });
    load.start();
    const rss0 = process.memoryUsage().rss;
    let rssMax = rss0;
    const t0 = Date.now();
    const { result } = await driveAlter(url, request(table, 'ADD COLUMN extra int NOT NULL DEFAULT 7, ALTER COLUMN qty TYPE bigint'), {
      chunkSize: 1000,
      threads,
      log: createLogger({ level: process.env.GW_LOG === '1' ? 'info' : 'silent' }),
      betweenChunks: async () => {
        rssMax = Math.max(rssMax, process.memoryUsage().rss);
      },
    });
    const total = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 300)); // writes continue on the new table
    await load.stop();
    console.log(JSON.stringify({ ...result, totalMs: total, rowsPerSec: Math.round((result.rowsCopied / result.copyMs) * 1000), rssMB: Math.round(rssMax / 1e6), load: load.stats }));
    expect(load.stats.commits).toBeGreaterThan(50);
    expect(load.stats.keyUpdates).toBeGreaterThan(5);
    expect(load.stats.rollbacks).toBeGreaterThan(0);

    const cols = ['id', 'qty', 'note', 'price', 'created'];
    const a = await rowDigests(db, table, 'id', cols);
    const b = await rowDigests(db, `${table}_mirror`, 'id', cols);
    expect(a.size).toBe(b.size);
    expect(diffDigests(a, b)).toEqual([]);
    // the new shape is in place, with the default for every row
    const shape = await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'qty'`, [table]);
    expect(shape.rows[0].t).toBe('bigint');
    expect((await db.query(`SELECT count(*)::int AS n FROM ${table} WHERE extra IS DISTINCT FROM 7`)).rows[0].n).toBe(0);
    expect((await db.query(`SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'`, [table])).rows[0].conname).toBe(`${table}_pkey`);
    expect(result.cutOver.oldTable).toBe(`_${table}_del`);
    expect(await ourLeftovers()).toEqual({ slots: 0, pubs: 0 });
  });
});
