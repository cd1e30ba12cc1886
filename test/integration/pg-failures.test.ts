/**
 * Failure paths of the PostgreSQL online ALTER: the cut-over's lock timeout
 * (original untouched, retry works), abort (nothing of ours remains), an
 * invalid ALTER, preflight refusals and the slot sweep, a table keyed only by
 * a unique NOT NULL index, the backlog bound, and replica lag from the
 * heartbeat.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import pg from 'pg';
import { parseConnectionUrl } from '../../src/connection.js';
import { chooseSharedKey, mapColumns } from '../../src/core/columns.js';
import { renamesOf } from '../../src/core/alter-text.js';
import { loadAlterParser } from '../../src/engine/index.js';
import { publicationName, slotName } from '../../src/core/names.js';
import type { AlterRequest, Engine, KeyTuple, Migration, OnlineAlter } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/log.js';
import type { GhostwrightError } from '../../src/errors.js';
import { databaseOf, hasPgStandby, pgStandbyUrl, withDatabase } from '../helpers/servers.js';
import { openPgFixture, type PgFixture } from '../helpers/pg-fixture.js';
import { diffDigests, driveAlter, rowDigests } from '../helpers/pg-load.js';

let url: string;
let engine: Engine;
let db: pg.Client;
let fixture: PgFixture | undefined;

beforeAll(async () => {
  fixture = await openPgFixture('pg_fail');
  ({ url, engine, db } = fixture);
});

afterAll(async () => {
  await fixture?.close();
});

const req = (name: string, alter: string, extra: Partial<AlterRequest> = {}): AlterRequest => ({ table: { schema: 'public', name }, alter, cutOverLockTimeoutMs: 300, dropOldTable: false, maxBacklogEvents: 1000, ...extra });
const one = async (sql: string, params: unknown[] = []) => (await db.query(sql, params)).rows[0];
const leftovers = async () =>
  one(`SELECT (SELECT count(*)::int FROM pg_replication_slots WHERE slot_name LIKE 'ghostwright%' AND database = current_database()) AS slots,
              (SELECT count(*)::int FROM pg_publication WHERE pubname LIKE 'ghostwright%') AS pubs,
              (SELECT count(*)::int FROM pg_class WHERE relname ~ '^_.*_(gho|ghc)$') AS tables`);

/** A case that fails before its own abort() must not leave its slot, publication and ghost to the cases after it. */
function abortOnFailure(alter: OnlineAlter): void {
  onTestFailed(async () => {
    await alter.abort();
  });
}

/** preflight -> createGhost -> ghost.startStream(plan) -> copy everything -> waitCaughtUp */
async function prepare(request: AlterRequest): Promise<Prepared> {
  const original = await engine.inspect(request.table);
  const alter = engine.onlineAlter(request, { replicas: hasPgStandby() ? [parseConnectionUrl(withDatabase(pgStandbyUrl(), databaseOf(url)))] : [], log: silentLogger });
  abortOnFailure(alter);
  const checks = await alter.preflight(original);
  expect(checks.filter((c) => !c.ok && c.severity === 'error')).toEqual([]);
  const ghost = await alter.createGhost();
  const mapping = mapColumns(original, ghost.shape, renamesOf((await loadAlterParser('postgres')).parseAlter(request.alter)));
  const m = await ghost.startStream(chooseSharedKey(original, ghost.shape, mapping)!);
  const copy = m.beginCopy([{ after: null, upTo: null }]);
  let after: KeyTuple | null = null;
  for (;;) {
    const r = await copy.copyChunk({ after, upTo: null }, 100);
    if (!r.last) break;
    after = r.last;
  }
  await m.waitCaughtUp(10_000);
  return Object.assign(alter, { m });
}

/** The migration's root (abort, cleanup, probe) and its running Migration. */
type Prepared = OnlineAlter & { m: Migration };

describe('cut-over failure', () => {
  it('times out on the lock, leaves the original untouched, then succeeds on retry', async () => {
    await db.query(`CREATE TABLE locked (id int PRIMARY KEY, v text); INSERT INTO locked SELECT g, 'v' || g FROM generate_series(1, 500) g`);
    const oid = (await one(`SELECT 'locked'::regclass::oid::int AS o`)).o;
    const alter = await prepare(req('locked', 'ADD COLUMN w int'));
    const blocker = new pg.Client({ connectionString: url });
    await blocker.connect();
    await blocker.query(`BEGIN; SELECT count(*) FROM locked`); // holds ACCESS SHARE
    const t0 = Date.now();
    await expect(alter.m.cutOver()).rejects.toMatchObject({ code: 'E_CUTOVER_LOCK_TIMEOUT' });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(await one(`SELECT 'locked'::regclass::oid::int AS o`)).toEqual({ o: oid });
    expect(await one(`SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'locked'::regclass AND attname = 'w'`)).toEqual({ n: 0 });
    // writes keep flowing to the original (and the stream) while we retry
    await db.query(`UPDATE locked SET v = 'changed' WHERE id <= 10`);
    await blocker.query('ROLLBACK');
    await blocker.end();
    const res = await alter.m.cutOver();
    await alter.cleanup();
    expect(res.stallMs).toBeLessThan(1000);
    expect(await one(`SELECT count(*)::int AS n FROM locked WHERE v = 'changed'`)).toEqual({ n: 10 });
    expect(await one(`SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'locked'::regclass AND attname = 'w'`)).toEqual({ n: 1 });
    expect(await leftovers()).toEqual({ slots: 0, pubs: 0, tables: 0 });
  });

  it('abort after the stream started leaves no slot, publication, ghost or changelog', async () => {
    await db.query(`CREATE TABLE aborted (id int PRIMARY KEY, v text); INSERT INTO aborted SELECT g, 'v' FROM generate_series(1, 100) g`);
    const alter = await prepare(req('aborted', 'ADD COLUMN w int'));
    expect((await leftovers()).slots).toBe(1);
    await alter.abort();
    await alter.abort(); // twice: still never throws
    expect(await leftovers()).toEqual({ slots: 0, pubs: 0, tables: 0 });
    expect(await one(`SELECT count(*)::int AS n FROM aborted`)).toEqual({ n: 100 });
  });

  it('gives up creating the slot behind a transaction left open, names it, and leaves nothing', async () => {
    await db.query(`CREATE TABLE waited (id int PRIMARY KEY, v text); INSERT INTO waited SELECT g, 'v' FROM generate_series(1, 10) g; CREATE TABLE elsewhere (i int)`);
    const idle = new pg.Client({ connectionString: url });
    await idle.connect();
    try {
      // An xid held by an idle session: slot creation must wait for it to end.
      await idle.query('BEGIN; INSERT INTO elsewhere VALUES (1)');
      const pid = (await idle.query('SELECT pg_backend_pid() AS p')).rows[0].p as number;
      const original = await engine.inspect({ schema: 'public', name: 'waited' });
      const alter = engine.onlineAlter(req('waited', 'ADD COLUMN w int', { streamStartTimeoutMs: 1000 }), { replicas: [], log: silentLogger });
      abortOnFailure(alter);
      await alter.preflight(original);
      const ghost = await alter.createGhost();
      const plan = chooseSharedKey(original, ghost.shape, mapColumns(original, ghost.shape, new Map()))!;
      const t0 = Date.now();
      const err = (await ghost.startStream(plan).catch((e: unknown) => e)) as GhostwrightError;
      expect(err.code).toBe('E_STREAM_START');
      expect(err.message).toContain(`pid ${pid}`);
      expect(Date.now() - t0).toBeLessThan(5000);
      await alter.abort();
      expect(await leftovers()).toEqual({ slots: 0, pubs: 0, tables: 0 });
      expect(await one(`SELECT count(*)::int AS n FROM waited`)).toEqual({ n: 10 });
    } finally {
      await idle.query('ROLLBACK').catch(() => undefined);
      await idle.end();
    }
  });

  it('fails safely when the replication connection dies and its slot is gone (nothing to resume from)', async () => {
    await db.query(`CREATE TABLE streamdies (id int PRIMARY KEY); INSERT INTO streamdies SELECT generate_series(1, 500)`);
    const attempt = driveAlter(url, req('streamdies', 'ADD COLUMN w int'), {
      chunkSize: 50,
      betweenChunks: async (n) => {
        if (n !== 2) return;
        const [slot] = (await db.query(`SELECT slot_name, active_pid FROM pg_replication_slots WHERE slot_name LIKE 'ghostwright%' AND database = current_database()`)).rows;
        await db.query(`SELECT pg_terminate_backend($1)`, [slot.active_pid]);
        // Dropped before the stream reconnects (it waits 100 ms first); 55006 while the walsender exits.
        for (let i = 0; ; i++) {
          try {
            await db.query(`SELECT pg_drop_replication_slot($1)`, [slot.slot_name]);
            break;
          } catch (err) {
            if ((err as { code?: string }).code !== '55006' || i > 50) throw err;
            await new Promise((r) => setTimeout(r, 5));
          }
        }
        await new Promise((r) => setTimeout(r, 500));
      },
    });
    await expect(attempt).rejects.toMatchObject({ code: 'E_STREAM' });
    expect(await leftovers()).toEqual({ slots: 0, pubs: 0, tables: 0 });
    expect(await one(`SELECT count(*)::int AS n, count(*) FILTER (WHERE attname = 'w')::int AS w FROM streamdies, pg_attribute WHERE attrelid = 'streamdies'::regclass`)).toMatchObject({ w: 0 });
  });

  it("a second run on the same table that slipped past preflight fails without touching the first run's objects", async () => {
    await db.query(`CREATE TABLE twice (id int PRIMARY KEY, v int); INSERT INTO twice SELECT g, g FROM generate_series(1, 300) g`);
    const first = await prepare(req('twice', 'ADD COLUMN w int'));
    const second = engine.onlineAlter(req('twice', 'ADD COLUMN z int'), { replicas: [], log: silentLogger });
    await expect(second.createGhost()).rejects.toMatchObject({ code: 'E_LEFTOVER', exitCode: 2, message: expect.stringContaining('already exists') });
    await second.abort();
    expect(await leftovers()).toEqual({ slots: 1, pubs: 1, tables: 2 }); // the first run's slot, publication, ghost and changelog
    await db.query(`UPDATE twice SET v = -v WHERE id <= 3`);
    await first.m.waitCaughtUp(10_000);
    await first.m.cutOver();
    await first.cleanup();
    expect(await one(`SELECT count(*) FILTER (WHERE v < 0)::int AS neg, count(*)::int AS n FROM twice`)).toEqual({ neg: 3, n: 300 });
    expect(await leftovers()).toEqual({ slots: 0, pubs: 0, tables: 0 });
  });

  it('refuses an invalid ALTER with the server message and leaves nothing', async () => {
    await db.query(`CREATE TABLE badalter (id int PRIMARY KEY, v text)`);
    const original = await engine.inspect({ schema: 'public', name: 'badalter' });
    const alter = engine.onlineAlter(req('badalter', 'ALTER COLUMN nope TYPE int'), { replicas: [], log: silentLogger });
    await alter.preflight(original);
    await expect(alter.createGhost()).rejects.toMatchObject({ code: 'E_BAD_ALTER', exitCode: 2, message: expect.stringContaining('column "nope"') });
    expect(await leftovers()).toEqual({ slots: 0, pubs: 0, tables: 0 });
    await alter.abort();
  });
});

describe('names', () => {
  it('migrates tables with hostile and 63-byte multibyte names', async () => {
    const long = 'é'.repeat(31) + 'x'; // 63 bytes: the helper names must be hashed to fit
    await db.query(`CREATE SCHEMA "My ""Schema"""`);
    await db.query(`CREATE TABLE "My ""Schema"""."we""ird Tab" ("Sel""ect" int PRIMARY KEY, "va l" text)`);
    await db.query(`INSERT INTO "My ""Schema"""."we""ird Tab" SELECT g, 'v' || g FROM generate_series(1, 300) g`);
    await db.query(`CREATE TABLE "${long}" (id int PRIMARY KEY, v text); INSERT INTO "${long}" SELECT g, 'v' FROM generate_series(1, 300) g`);
    for (const [schema, name] of [['My "Schema"', 'we"ird Tab'], ['public', long]] as const) {
      await driveAlter(url, { table: { schema, name }, alter: 'ADD COLUMN "n""ew" int DEFAULT 1', cutOverLockTimeoutMs: 1000, dropOldTable: true, maxBacklogEvents: 100 }, {
        chunkSize: 70,
        betweenChunks: async (n) => {
          if (n === 1) await db.query(`UPDATE ${engine.quoteIdent(schema)}.${engine.quoteIdent(name)} SET ${name === long ? 'v' : '"va l"'} = 'changed' WHERE ${name === long ? 'id' : '"Sel""ect"'} <= 5`);
        },
      });
      const t = `${engine.quoteIdent(schema)}.${engine.quoteIdent(name)}`;
      expect(await one(`SELECT count(*)::int AS n, count(*) FILTER (WHERE "n""ew" = 1)::int AS d FROM ${t}`)).toEqual({ n: 300, d: 300 });
      expect(await one(`SELECT count(*)::int AS n FROM ${t} WHERE ${name === long ? 'v' : '"va l"'} = 'changed'`)).toEqual({ n: 5 });
    }
    expect(await leftovers()).toEqual({ slots: 0, pubs: 0, tables: 0 });
  });
});

describe('preflight', () => {
  it('refuses leftover helper tables, partitioned tables and tables without a usable key', async () => {
    await db.query(`CREATE TABLE crashed (id int PRIMARY KEY); CREATE TABLE _crashed_gho (id int)`);
    const c = await engine.onlineAlter(req('crashed', 'ADD COLUMN x int'), { replicas: [], log: silentLogger }).preflight(await engine.inspect({ schema: 'public', name: 'crashed' }));
    expect(c.find((x) => x.id === 'leftovers')).toMatchObject({ ok: false, severity: 'error', detail: 'ghost _crashed_gho', fix: expect.stringContaining('ghostwright cleanup --url <URL> --table public.crashed --execute') });
    await db.query(`DROP TABLE _crashed_gho`);

    await db.query(`CREATE TABLE parted (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)`);
    const p = await engine.onlineAlter(req('parted', 'ADD COLUMN x int'), { replicas: [], log: silentLogger }).preflight(await engine.inspect({ schema: 'public', name: 'parted' }));
    expect(p.find((x) => x.id === 'partitioned')).toMatchObject({ ok: false, severity: 'error' });

    await db.query(`CREATE TABLE nokey (id int, v text); CREATE UNIQUE INDEX nokey_v ON nokey (v)`);
    const k = await engine.onlineAlter(req('nokey', 'ADD COLUMN x int'), { replicas: [], log: silentLogger }).preflight(await engine.inspect({ schema: 'public', name: 'nokey' }));
    expect(k.find((x) => x.id === 'copy-key')).toMatchObject({ ok: false, detail: 'nokey_v: nullable column' });
  });

  it("reports an inactive slot and the publication left by a crashed run on the same table without dropping them (read-only), and reports others'", async () => {
    await db.query(`CREATE TABLE swept (id int PRIMARY KEY)`);
    const stale = slotName('public', 'swept').replace(/_\d+$/, '_999999');
    const pub = publicationName('public', 'swept');
    await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [stale]);
    await db.query(`CREATE PUBLICATION ${pub} FOR TABLE swept`);
    await db.query(`SELECT pg_create_logical_replication_slot('ghostwright_other_1', 'pgoutput')`);
    try {
      const c = await engine.onlineAlter(req('swept', 'ADD COLUMN x int'), { replicas: [], log: silentLogger }).preflight(await engine.inspect({ schema: 'public', name: 'swept' }));
      expect(c.find((x) => x.id === 'leftovers')).toMatchObject({ ok: false, severity: 'error', detail: `slot ${stale}, publication ${pub}`, fix: expect.stringContaining('ghostwright cleanup') });
      expect(c.find((x) => x.id === 'leftover-slots')).toMatchObject({ ok: false, severity: 'warn', fix: `SELECT pg_drop_replication_slot('ghostwright_other_1');` });
      // Preflight (and so every dry run) changed nothing.
      expect(await one(`SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name = $1`, [stale])).toEqual({ n: 1 });
      expect(await one(`SELECT count(*)::int AS n FROM pg_publication WHERE pubname = $1`, [pub])).toEqual({ n: 1 });
    } finally {
      await db.query(`SELECT pg_drop_replication_slot('ghostwright_other_1')`);
      await db.query(`SELECT pg_drop_replication_slot($1)`, [stale]);
      await db.query(`DROP PUBLICATION ${pub}`);
    }
  });
});

describe('keys and memory', () => {
  it('migrates a table whose only key is a unique index on NOT NULL columns (updates keep working meanwhile)', async () => {
    for (const t of ['uq', 'uq_mirror']) {
      await db.query(`CREATE TABLE ${t} (code uuid NOT NULL, v int); CREATE UNIQUE INDEX ${t}_code ON ${t} (code)`);
      await db.query(`INSERT INTO ${t} SELECT md5(g::text)::uuid, g FROM generate_series(1, 300) g`);
    }
    const both = async (sql: (t: string) => string) => {
      await db.query('BEGIN');
      for (const t of ['uq', 'uq_mirror']) await db.query(sql(t));
      await db.query('COMMIT');
    };
    await driveAlter(url, req('uq', 'ALTER COLUMN v TYPE bigint', { dropOldTable: true }), {
      chunkSize: 50,
      betweenChunks: async (n) => {
        if (n === 1) {
          // without a replica identity these would fail once the table is in a publication
          await both((t) => `UPDATE ${t} SET v = -v WHERE v % 3 = 0`);
          await both((t) => `UPDATE ${t} SET code = md5('x' || v)::uuid WHERE v % 7 = 0`);
          await both((t) => `DELETE FROM ${t} WHERE v % 11 = 0`);
        }
      },
    });
    expect(diffDigests(await rowDigests(db, 'uq', 'code', ['code', 'v']), await rowDigests(db, 'uq_mirror', 'code', ['code', 'v']))).toEqual([]);
    expect(await one(`SELECT relreplident FROM pg_class WHERE oid = 'uq'::regclass`)).toEqual({ relreplident: 'd' });
  });

  it('applies rows that swapped values of another unique column', async () => {
    await db.query(`CREATE TABLE swaps (id int PRIMARY KEY, email text NOT NULL UNIQUE); INSERT INTO swaps SELECT g, 'e' || g FROM generate_series(1, 200) g`);
    await driveAlter(url, req('swaps', 'ADD COLUMN w int', { dropOldTable: true }), {
      chunkSize: 50,
      betweenChunks: async (n) => {
        if (n !== 1) return;
        for (const [a, b] of [[1, 2], [150, 151], [10, 190]]) {
          await db.query(`BEGIN; UPDATE swaps SET email = 'tmp' WHERE id = ${a}; UPDATE swaps SET email = 'e${a}' WHERE id = ${b}; UPDATE swaps SET email = 'e${b}' WHERE id = ${a}; COMMIT`);
        }
      },
    });
    const rows = (await db.query(`SELECT id, email FROM swaps WHERE id IN (1, 2, 150, 151, 10, 190) ORDER BY id`)).rows;
    expect(rows).toEqual([
      { id: 1, email: 'e2' },
      { id: 2, email: 'e1' },
      { id: 10, email: 'e190' },
      { id: 150, email: 'e151' },
      { id: 151, email: 'e150' },
      { id: 190, email: 'e10' },
    ]);
    expect(await one(`SELECT count(*)::int AS n FROM swaps`)).toEqual({ n: 200 });
  });

  it('fails (never skips rows) when the ALTER adds a unique constraint the data breaks', async () => {
    await db.query(`CREATE TABLE dupes (id int PRIMARY KEY, v int); INSERT INTO dupes SELECT g, g % 10 FROM generate_series(1, 100) g`);
    await expect(driveAlter(url, req('dupes', 'ADD CONSTRAINT dupes_v_uq UNIQUE (v)'), { chunkSize: 30 })).rejects.toMatchObject({ code: 'E_COPY_UNIQUE', message: expect.stringContaining('duplicate key value violates unique constraint') });
    expect(await one(`SELECT count(*)::int AS n FROM dupes`)).toEqual({ n: 100 });
    expect(await leftovers()).toEqual({ slots: 0, pubs: 0, tables: 0 });
  });

  it('keeps the queue of changed keys bounded by maxBacklogEvents', async () => {
    await db.query(`CREATE TABLE burst (id int PRIMARY KEY, v int); INSERT INTO burst SELECT g, 0 FROM generate_series(1, 100) g`);
    const max = 200;
    // Copied first: a key the copy has not reached is left to it (nothing is written to the ghost),
    // so only keys the copy passed make the applier write to the ghost, and wait on its lock.
    const alter = await prepare(req('burst', 'ADD COLUMN w int', { maxBacklogEvents: max }));
    let peak = 0;
    const sample = setInterval(() => (peak = Math.max(peak, alter.m.streamStats().backlog)), 1);
    // A session holding a lock on the ghost stalls the applier while 5000 keys arrive.
    const blocker = new pg.Client({ connectionString: url });
    await blocker.connect();
    await blocker.query(`BEGIN; LOCK TABLE _burst_gho IN ACCESS EXCLUSIVE MODE`);
    await db.query(`INSERT INTO burst SELECT g, 1 FROM generate_series(101, 5100) g`);
    for (let i = 0; i < 20; i++) await db.query(`UPDATE burst SET v = v + 1 WHERE id % 20 = $1`, [i]);
    // The stream reaches the bound (the applier's first batch hangs on the lock), then stops reading.
    const until = Date.now() + 10_000;
    while (alter.m.streamStats().backlog < max && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 500));
    const stalled = alter.m.streamStats().backlog;
    await blocker.query('ROLLBACK');
    await blocker.end();
    await alter.m.waitCaughtUp(20_000);
    clearInterval(sample);
    // The stream stopped reading at the bound instead of queueing all 5000+ keys: at most `max`
    // distinct keys queued (core/change-backlog.ts water marks), plus the one batch the applier
    // took from that queue, stuck on the lock. Each key changed once so far: changes = keys.
    expect(stalled).toBeGreaterThanOrEqual(max);
    expect(stalled).toBeLessThanOrEqual(2 * max);
    expect(peak).toBeLessThanOrEqual(2 * max);
    const res = await alter.m.cutOver();
    await alter.cleanup();
    expect(res.oldTable).toBe('_burst_del');
    expect(await one(`SELECT count(*)::int AS n, sum(v)::int AS s FROM burst`)).toEqual({ n: 5100, s: 5000 + 5100 }); // inserted with 1, then each row +1 once
  });

  it('follows a TRUNCATE of the original during the copy', async () => {
    await db.query(`CREATE TABLE truncated (id int PRIMARY KEY, v text); INSERT INTO truncated SELECT g, 'old' FROM generate_series(1, 1000) g`);
    await driveAlter(url, req('truncated', 'ADD COLUMN w int', { dropOldTable: true }), {
      chunkSize: 100,
      betweenChunks: async (n) => {
        if (n === 3) await db.query(`TRUNCATE truncated; INSERT INTO truncated SELECT g, 'new' FROM generate_series(50, 120) g`);
      },
      afterCopy: async () => {
        await db.query(`INSERT INTO truncated VALUES (5000, 'late')`);
      },
    });
    expect(await one(`SELECT count(*)::int AS n, count(*) FILTER (WHERE v = 'old')::int AS old FROM truncated`)).toEqual({ n: 72, old: 0 });
  });

  it('measures load, retained WAL and replica lag from the heartbeat', async () => {
    await db.query(`CREATE TABLE measured (id int PRIMARY KEY); INSERT INTO measured SELECT generate_series(1, 10)`);
    const alter = await prepare(req('measured', 'ADD COLUMN x int'));
    await alter.probe.heartbeat();
    await new Promise((r) => setTimeout(r, 300));
    let m = await alter.probe.measure([]);
    // On a loaded machine the standby may replay the first heartbeat late: until then its lag is unknown (null).
    const until = Date.now() + 10_000;
    while (hasPgStandby() && m.replicas.some((r) => !r.name.startsWith('standby:') && r.lagMs === null) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      m = await alter.probe.measure([]);
    }
    expect(Object.keys(m.load).sort()).toEqual(['active_sessions', 'idle_in_transaction', 'longest_transaction_seconds', 'total_sessions', 'waiting_sessions']);
    expect(m.load.total_sessions).toBeGreaterThan(0);
    expect(m.retainedWalBytes).toBeGreaterThanOrEqual(0);
    expect(Object.keys((await alter.probe.measure(['waiting_sessions'])).load)).toEqual(['waiting_sessions']);
    if (hasPgStandby()) {
      // The --replica URL by heartbeat, plus the same standby as seen in pg_stat_replication.
      const byUrl = m.replicas.filter((r) => !r.name.startsWith('standby:'));
      expect(byUrl).toHaveLength(1);
      expect(byUrl[0]!.lagMs).not.toBeNull();
      expect(byUrl[0]!.lagMs!).toBeGreaterThan(200); // the heartbeat is 300 ms old
      expect(byUrl[0]!.lagMs!).toBeLessThan(15_000);
      expect(m.replicas.filter((r) => r.name.startsWith('standby:'))).toHaveLength(1);
    }
    // A quiet table on a busy database: the heartbeat's commits let the slot confirm past the other table's WAL.
    await db.query(`CREATE TABLE busy (id int, pad text); INSERT INTO busy SELECT g, repeat('x', 500) FROM generate_series(1, 20000) g`);
    await alter.probe.heartbeat();
    // This run's slot by name: a slot an earlier failed case left behind would never confirm this WAL.
    const lag = async () => Number((await one(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) AS d FROM pg_replication_slots WHERE slot_name = $1`, [slotName('public', 'measured')])).d);
    const deadline = Date.now() + 5000;
    while ((await lag()) > 64 * 1024 && Date.now() < deadline) {
      await alter.probe.heartbeat();
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await lag()).toBeLessThan(64 * 1024); // the busy table wrote > 10 MB
    await alter.abort();
    expect(await leftovers()).toEqual({ slots: 0, pubs: 0, tables: 0 });
  });
});
