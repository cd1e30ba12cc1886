/**
 * The origin filter (engine/postgres/origin.ts), on the version the suite
 * runs against (GHOSTWRIGHT_TEST_PG_VERSION): on 16+ the copy's writes carry
 * a replication origin and the walsender skips them before decoding, while
 * every application write still reaches the applier; a table a subscription
 * writes to keeps the unfiltered path (its writes carry an origin too).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { AlterRequest, Engine } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/log.js';
import { slotPrefix } from '../../src/engine/postgres/leftovers.js';
import { runOnlineAlter } from '../../src/alter.js';
import { alterOptions } from '../../src/core/options.js';
import { openPgFixture, type PgFixture } from '../helpers/pg-fixture.js';
import { MirroredLoad, diffDigests, driveAlter, rowDigests } from '../helpers/pg-load.js';
import { dropDatabase, freshDatabase, databaseOf, sql, uniqueName } from '../helpers/servers.js';

let url: string;
let engine: Engine;
let db: pg.Client;
let fixture: PgFixture | undefined;
let versionNum = 0;

const request = (table: string, alter: string): AlterRequest => ({
  table: { schema: 'public', name: table },
  alter,
  cutOverLockTimeoutMs: 2000,
  dropOldTable: false,
  maxBacklogEvents: 50_000,
});

const N = 20_000;
const COLS = ['id', 'qty', 'note', 'price', 'created'];

async function makeTables(table: string): Promise<void> {
  for (const t of [table, `${table}_mirror`]) {
    await db.query(`CREATE TABLE ${t} (id bigint PRIMARY KEY, qty int NOT NULL, note text, price numeric(14,4), created timestamptz NOT NULL DEFAULT now())`);
    await db.query(`INSERT INTO ${t} (id, qty, note, price, created) SELECT g, g % 1000, repeat('n', 80) || g, g * 1.5, '2024-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, $1) g`, [N]);
  }
  await db.query(`ANALYZE ${table}`);
}

/** What the walsender decoded for our slot so far, once it has read past everything written until now. */
async function decodedBytes(): Promise<{ bytes: number; origins: string[] }> {
  const [{ lsn }] = (await db.query(`SELECT pg_current_wal_insert_lsn()::text AS lsn`)).rows;
  const deadline = Date.now() + 60_000;
  for (;;) {
    // A transaction the stream receives (a logical message, flushed) makes it acknowledge a position past `lsn`.
    await db.query(`BEGIN`);
    await db.query(`SET LOCAL synchronous_commit = on`);
    await db.query(`SELECT pg_logical_emit_message(true, 'gw_test_probe', 'x')`);
    await db.query(`COMMIT`);
    const rows = (
      await db.query(
        `SELECT s.total_bytes::float8 AS bytes, r.confirmed_flush_lsn >= $1::pg_lsn AS past FROM pg_replication_slots r JOIN pg_stat_replication_slots s USING (slot_name)
          WHERE r.slot_name LIKE 'ghostwright%' AND r.database = current_database()`,
        [lsn],
      )
    ).rows;
    if (rows[0]?.past) {
      const origins = (await db.query(`SELECT roname FROM pg_replication_origin WHERE starts_with(roname, $1) ORDER BY 1`, [slotPrefix({ schema: 'public', name: 'items' })])).rows.map((r) => r.roname as string);
      return { bytes: rows[0].bytes as number, origins };
    }
    if (Date.now() > deadline) throw new Error('the stream did not read past the copy within 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  fixture = await openPgFixture('pg_origin');
  ({ url, engine, db } = fixture);
  versionNum = Number((await db.query(`SELECT current_setting('server_version_num') AS n`)).rows[0].n);
});

afterAll(async () => {
  await fixture?.close();
});

describe('origin filter', () => {
  it("16+: the copy's writes are never decoded, and every concurrent application write is applied, none lost", async ({ skip }) => {
    if (versionNum < 160000) skip('PostgreSQL 15 has no origin option in pgoutput: the copy is decoded there by design');
    await makeTables('items');
    const load = new MirroredLoad({ url, table: 'items', mirror: 'items_mirror', workers: 2, firstNewId: N + 1, maxExistingId: N, pauseMs: 3 });
    load.start();
    let seen: { bytes: number; origins: string[] } | null = null;
    let ghostBytes = 0;
    const { result } = await driveAlter(url, request('items', 'ALTER COLUMN qty TYPE bigint'), {
      chunkSize: 2000,
      threads: 2,
      afterCopy: async () => {
        ghostBytes = Number((await db.query(`SELECT pg_relation_size('_items_gho')::float8 AS b`)).rows[0].b);
        seen = await decodedBytes();
      },
    });
    await load.stop();
    console.log(JSON.stringify({ versionNum, rowsCopied: result.rowsCopied, eventsApplied: result.eventsApplied, decodedBytes: seen!.bytes, ghostBytes, origins: seen!.origins, load: load.stats }));
    // One origin per copy session (two threads), named after the run's slot.
    expect(seen!.origins.length).toBeGreaterThanOrEqual(1);
    expect(seen!.origins[0]).toMatch(/^ghostwright_[0-9a-f]{8}_\d+$/);
    // The walsender decoded the load's transactions only: far less than the copied table.
    expect(seen!.bytes).toBeLessThan(ghostBytes / 10);
    // What reached the applier is the application's writes, not the copy's rows.
    expect(result.eventsApplied).toBeGreaterThan(50);
    expect(result.eventsApplied).toBeLessThan(result.rowsCopied / 4);
    expect(load.stats.commits).toBeGreaterThan(50);
    const a = await rowDigests(db, 'items', 'id', COLS);
    const b = await rowDigests(db, 'items_mirror', 'id', COLS);
    expect(a.size).toBe(b.size);
    expect(diffDigests(a, b)).toEqual([]);
    // Dropped with the slot.
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_replication_origin WHERE starts_with(roname, $1)`, [slotPrefix({ schema: 'public', name: 'items' })])).rows[0].n).toBe(0);
  });

  it('a table that a subscription writes to is refused (the swap would lose its changes); driven anyway, the stream stays unfiltered and loses none before the swap', async () => {
    // The publisher: another database of the same server. A subscription to the same cluster
    // must not create its slot itself (it would wait for its own transaction): made first.
    const pubUrl = await freshDatabase('postgres', 'pg_origin_pub');
    const pub = await sql(pubUrl);
    const slot = uniqueName('gw_test_sub');
    const sub = uniqueName('gw_test_sub');
    try {
      await pub.query(`CREATE TABLE feed (id bigint PRIMARY KEY, v text NOT NULL, n int NOT NULL)`);
      await pub.query(`INSERT INTO feed SELECT g, repeat('v', 60) || g, 0 FROM generate_series(1, 10000) g`);
      await pub.query(`CREATE PUBLICATION feed_pub FOR TABLE feed`);
      await pub.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
      await db.query(`CREATE TABLE feed (id bigint PRIMARY KEY, v text NOT NULL, n int NOT NULL)`);
      const u = new URL(pubUrl);
      const conninfo = `host=${u.hostname} port=${u.port} dbname=${databaseOf(pubUrl)} user=${decodeURIComponent(u.username)} password=${decodeURIComponent(u.password)}`;
      await db.query(`CREATE SUBSCRIPTION ${sub} CONNECTION '${conninfo}' PUBLICATION feed_pub WITH (create_slot = false, slot_name = '${slot}')`);
      await until(async () => Number((await db.query(`SELECT count(*) AS n FROM feed`)).rows[0].n) === 10000, 'initial sync');
      await until(async () => (await db.query(`SELECT srsubstate FROM pg_subscription_rel WHERE srrelid = 'feed'::regclass`)).rows[0]?.srsubstate === 'r', 'sync state ready');

      const check = (await (async () => {
        const alter = engine.onlineAlter(request('feed', 'ALTER COLUMN n TYPE bigint'), { replicas: [], log: silentLogger });
        try {
          return (await alter.preflight(await engine.inspect({ schema: 'public', name: 'feed' }))).find((c) => c.id === 'origin-filter');
        } finally {
          await alter.abort();
        }
      })())!;
      expect(check.detail).toMatch(versionNum >= 160000 ? new RegExp(`subscription ${sub}`) : /PostgreSQL 15 or older/);

      const refused = await runOnlineAlter(alterOptions({ url, table: 'feed', alter: 'ALTER COLUMN n TYPE bigint', execute: true }), {});
      expect(refused.status).toBe('refused');
      expect(refused.error?.code).toBe('E_PREFLIGHT_SUBSCRIPTION_TARGET');
      expect(refused.error?.hint).toMatch(new RegExp(`ALTER SUBSCRIPTION ${sub} DISABLE`));
      expect((await db.query(`SELECT relname FROM pg_class WHERE relname LIKE '%feed%' AND relkind = 'r' ORDER BY 1`)).rows.map((r) => r.relname)).toEqual(['feed']);

      // Writes on the publisher while the copy runs arrive through the subscription, under its origin.
      let stop = false;
      let writes = 0;
      const writer = (async () => {
        while (!stop) {
          const id = 1 + Math.floor(Math.random() * 12000);
          await pub.query(`INSERT INTO feed VALUES ($1::bigint, 'w' || $1::text, 1) ON CONFLICT (id) DO UPDATE SET n = feed.n + 1, v = 'u' || feed.id`, [id]);
          writes++;
        }
      })();
      await driveAlter(url, request('feed', 'ALTER COLUMN n TYPE bigint'), {
        ignoreChecks: ['subscription-target'],
        chunkSize: 500,
        betweenChunks: () => new Promise((r) => setTimeout(r, 20)),
        afterCopy: async () => {
          stop = true;
          await writer;
          // Everything the publisher committed has been applied by the subscription (to the original).
          const want = JSON.stringify([...(await rowDigestsOf(pub, 'feed'))].sort());
          await until(async () => JSON.stringify([...(await rowDigestsOf(db, 'feed'))].sort()) === want, 'subscription caught up');
        },
      });
      expect(writes).toBeGreaterThan(20);
      const a = await rowDigestsOf(db, 'feed');
      const b = await rowDigestsOf(pub, 'feed');
      expect(a.size).toBe(b.size);
      expect(diffDigests(a, b)).toEqual([]);
      // Why preflight refuses: the subscription's state still names the old table, not the new `feed`
      // (its apply worker skips a relation it has no state for: seen losing a row inserted after a swap).
      expect((await db.query(`SELECT srrelid::regclass::text AS t FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = $1`, [sub])).rows.map((r) => r.t)).toEqual(['_feed_del']);
    } finally {
      await db.query(`DROP SUBSCRIPTION IF EXISTS ${sub}`).catch(() => undefined);
      await pub.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, [slot]).catch(() => undefined);
      await pub.end();
      await dropDatabase(pubUrl);
    }
  });
});

describe('origin clean-up', () => {
  it('16+: SIGINT in the middle of the copy drops the run\'s origins with its slot (CLI)', async ({ skip }) => {
    if (versionNum < 160000) skip('no origins before PostgreSQL 16');
    await db.query(`CREATE TABLE sig (id int PRIMARY KEY, v text NOT NULL)`);
    await db.query(`INSERT INTO sig SELECT g, repeat('s', 50) FROM generate_series(1, 100000) g`);
    const dir = mkdtempSync(join(tmpdir(), 'gw-origin-sig-'));
    const flag = join(dir, 'throttle');
    const bin = fileURLToPath(new URL('../../bin/ghostwright', import.meta.url));
    // --max-share 5: the copy of 100k rows takes ~1 s, not 0.2 s, so the flag and the SIGINT land inside it.
    const child = spawn(process.execPath, [bin, 'alter', '--url', url, '--table', 'sig', '--alter', 'ADD COLUMN w int', '--execute', '--chunk-size', '500', '--max-share', '5', '--throttle-flag-file', flag, '--json', '--progress', 'none'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Origins are cluster-wide: only this run's (its table's slot prefix) count, not those an earlier file's killed runs left.
    const origins = async () => Number((await db.query(`SELECT count(*) AS n FROM pg_replication_origin WHERE starts_with(roname, $1)`, [slotPrefix({ schema: 'public', name: 'sig' })])).rows[0].n);
    try {
      await until(async () => (await origins()) > 0, 'the copy running under an origin', 30_000);
      writeFileSync(flag, '');
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(await origins()).toBe(0);
      expect(Number((await db.query(`SELECT count(*) AS n FROM pg_replication_slots WHERE slot_name LIKE 'ghostwright%' AND database = current_database()`)).rows[0].n)).toBe(0);
      expect(Number((await db.query(`SELECT count(*) AS n FROM sig`)).rows[0].n)).toBe(100000);
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

async function rowDigestsOf(client: pg.Client | { query: (t: string) => Promise<unknown[]> }, table: string): Promise<Map<string, string>> {
  const text = `SELECT id::text AS k, md5(row(id, v, n)::text) AS h FROM ${table}`;
  const res = await (client as pg.Client).query(text);
  const rows = (Array.isArray(res) ? res : res.rows) as { k: string; h: string }[];
  return new Map(rows.map((r) => [r.k, r.h]));
}

async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
