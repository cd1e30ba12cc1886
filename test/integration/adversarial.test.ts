/**
 * Adversarial runs of runOnlineAlter on both engines: writes shaped to make
 * the copy + stream + cut-over lose, duplicate or resurrect a committed row.
 *
 * Every writer changes `t` and `t_mirror` in ONE transaction, so the mirror is
 * exactly what committed; after the ALTER the new `t` must equal the mirror row
 * for row (and, when the ALTER fails, the original must still equal it and no
 * helper may be left). Cases where mirroring is impossible (single-row
 * autocommit inserts) check the ids every successful INSERT returned instead.
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newLiveMigration } from '../../src/core/live.js';
import type { LiveMigration } from '../../src/core/live.js';
import { createLogger } from '../../src/log.js';
import { runOnlineAlter } from '../../src/alter.js';
import { alterOptions, type AlterOptions } from '../../src/core/options.js';
import type { AlterReport } from '../../src/core/report.js';
import { helpersOf, dropDatabase, freshDatabase, sql, type TestDialect, type TestSql } from '../helpers/servers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `?` placeholders for both dialects (PostgreSQL gets $1, $2, ...). */
function ph(d: TestDialect, text: string): string {
  if (d === 'mysql') return text;
  let i = 0;
  return text.replace(/\?/g, () => `$${++i}`);
}

async function q(db: TestSql, text: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  return db.query(ph(db.dialect, text), params);
}

/** The same statement on t and t_mirror (`{t}` in the text). */
async function both(db: TestSql, t: string, text: string, params: unknown[] = []): Promise<void> {
  for (const name of [t, `${t}_mirror`]) await q(db, text.replaceAll('{t}', name), params);
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '∅';
  if (v instanceof Date) return v.toISOString();
  if (Buffer.isBuffer(v)) return v.toString('hex');
  return String(v);
}

async function rows(db: TestSql, table: string, cols: string[], key = 'id'): Promise<string[]> {
  const r = await q(db, `SELECT ${cols.join(', ')} FROM ${table} ORDER BY ${key}`);
  return r.map((row) => cols.map((c) => cell(row[c.split(' AS ').pop()!.trim()])).join('|'));
}

async function count(db: TestSql, table: string): Promise<number> {
  try {
    return Number(await db.value(`SELECT COUNT(*) FROM ${table}`));
  } catch {
    return 0;
  }
}

/** No ghost, changelog, slot or publication left behind. */
async function expectNoHelpers(db: TestSql, t: string): Promise<void> {
  if (db.dialect === 'mysql') {
    const left = await q(db, 'SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?, ?)', [helpersOf(db.dialect, t).ghost, helpersOf(db.dialect, t).changelog]);
    expect(left).toEqual([]);
  } else {
    const left = await q(db, `SELECT relname AS n FROM pg_class WHERE relname IN (?, ?)`, [helpersOf(db.dialect, t).ghost, helpersOf(db.dialect, t).changelog]);
    expect(left).toEqual([]);
    expect(Number(await db.value('SELECT count(*) FROM pg_replication_slots WHERE database = current_database()'))).toBe(0);
    expect(Number(await db.value('SELECT count(*) FROM pg_publication'))).toBe(0);
  }
}

function makeLive(d: TestDialect, chunkSize: number, postpone: boolean): LiveMigration {
  return newLiveMigration({ chunkSize, maxLagMs: 60_000, postponeCutOver: postpone }, { table: 't', engine: d });
}

function isTransient(err: unknown): boolean {
  const e = err as { code?: string; errno?: number };
  // deadlock / lock wait timeout / serialization failure: the transaction rolled back, the mirror with it.
  // A duplicate key in the writers' own random moves: the whole transaction rolls back too.
  return e.code === 'ER_LOCK_DEADLOCK' || e.code === 'ER_LOCK_WAIT_TIMEOUT' || e.code === '40P01' || e.code === '40001' || e.code === '55P03' || e.code === 'ER_DUP_ENTRY' || e.code === '23505';
}

/**
 * `workers` sessions running `body` in transactions until stopped. body
 * returns a callback run only after COMMIT (to update the writer's own view of
 * which keys exist). Transient lock errors roll back and count; others fail the test.
 */
function loop(url: string, workers: number, body: (db: TestSql, worker: number, i: number) => Promise<(() => void) | void>, opts: { autocommit?: boolean; pauseMs?: number } = {}) {
  let stop = false;
  let commits = 0;
  let transient = 0;
  const failures: unknown[] = [];
  const runs = Array.from({ length: workers }, async (_, w) => {
    const db = await sql(url);
    if (db.dialect === 'mysql') await db.query('SET SESSION innodb_lock_wait_timeout = 5');
    try {
      for (let i = 0; !stop; i++) {
        try {
          if (!opts.autocommit) await db.query('BEGIN');
          const after = await body(db, w, i);
          if (!opts.autocommit) await db.query('COMMIT');
          commits++;
          after?.();
        } catch (err) {
          if (!opts.autocommit) await db.query('ROLLBACK').catch(() => undefined);
          if (isTransient(err)) transient++;
          else failures.push(err);
          if (failures.length > 0) break;
        }
        await sleep(opts.pauseMs ?? 2);
      }
    } finally {
      await db.end();
    }
  });
  return {
    get commits() {
      return commits;
    },
    async stop() {
      stop = true;
      await Promise.all(runs);
      if (failures.length) throw failures[0];
      return { commits, transient };
    },
  };
}

async function waitFor(cond: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(20);
  }
  return false;
}

async function seed(db: TestSql, t: string, n: number, row: (i: number) => unknown[], cols: string[]): Promise<void> {
  for (let from = 1; from <= n; from += 500) {
    const chunk = Array.from({ length: Math.min(500, n - from + 1) }, (_, k) => row(from + k));
    const marks = chunk.map(() => `(${cols.map(() => '?').join(', ')})`).join(', ');
    for (const name of [t, `${t}_mirror`]) await q(db, `INSERT INTO ${name} (${cols.join(', ')}) VALUES ${marks}`, chunk.flat());
  }
}

function run(url: string, table: string, alter: string, extra: Partial<AlterOptions> = {}, live?: LiveMigration): Promise<AlterReport> {
  // Own control socket: the default path is per table name, shared with any other run on this machine.
  const socketPath = join(tmpdir(), `gw-adv-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
  // GHOSTWRIGHT_TEST_LOG=debug shows what the migration did (stderr).
  const level = process.env.GHOSTWRIGHT_TEST_LOG as 'debug' | 'info' | undefined;
  const log = level ? createLogger({ level }) : undefined;
  // MySQL: the primary named as the only replica. Otherwise the sandbox replica is discovered, and its
  // lag (these cases write hard) throttles the copy for minutes: these cases are about data, not throttling.
  const replicas = url.startsWith('mysql') || url.startsWith('mariadb') ? [url] : [];
  return runOnlineAlter(alterOptions({ url, table, alter, execute: true, chunkSize: 100, threads: 2, cutOverLockTimeoutMs: 2000, socketPath, replicas, ...extra }), { live, log });
}

function expectDone(report: AlterReport): void {
  expect(report.error).toBeUndefined();
  expect(report.status).toBe('done');
}

/** Engines whose applier places keys against the copy (core/copy-window.ts). */
const WINDOWED = new Set<TestDialect>(['mysql', 'postgres']);

for (const d of ['mysql', 'postgres'] as const) {
  describe(`adversarial online ALTER on ${d}`, () => {
    let url: string;
    let db: TestSql;
    const my = d === 'mysql';
    const basic = (t: string) => `CREATE TABLE ${t} (id BIGINT NOT NULL PRIMARY KEY, v INT NOT NULL, s VARCHAR(60) NULL)`;
    const basicRow = (i: number) => [i, i % 1000, i % 7 === 0 ? null : `row ${i}`];
    const create = async (ddl: (t: string) => string, t: string) => {
      await db.query(ddl(t));
      await db.query(ddl(`${t}_mirror`));
    };

    beforeAll(async () => {
      url = await freshDatabase(d, `adv_${d}`);
      db = await sql(url);
    });
    afterAll(async () => {
      await db?.end();
      if (url) await dropDatabase(url);
    });

    it('a long transaction open before the stream starts, committed after the copy passed its keys', async () => {
      const t = 'longtx';
      await create(basic, t);
      await seed(db, t, 3000, basicRow, ['id', 'v', 's']);
      // L writes early keys before anything exists (PG: it has an xid, so the slot creation waits for it).
      const l = await sql(url);
      // L2 is open (snapshot, no xid yet) before the stream and writes only once the copy runs.
      const l2 = await sql(url);
      try {
        await l.query('BEGIN');
        await both(l, t, `UPDATE {t} SET v = v + 1000, s = 'long' WHERE id BETWEEN 10 AND 60`);
        await both(l, t, `DELETE FROM {t} WHERE id BETWEEN 61 AND 70`);
        await both(l, t, `INSERT INTO {t} (id, v, s) VALUES (5000001, 1, 'long-new'), (3000075, 75, 'long-new-2')`);
        if (my) await l2.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
        else await l2.query('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM longtx');
        const load = loop(url, 1, async (w) => {
          const id = 200 + Math.floor(Math.random() * 2700);
          await both(w, t, `UPDATE {t} SET v = v + 1 WHERE id = ?`, [id]);
        });
        const migration = run(url, t, my ? 'ADD COLUMN c INT NULL' : 'ADD COLUMN c int');
        const passed = () => count(db, helpersOf(d, t).ghost).then((n) => n >= 1500);
        await waitFor(passed, 5000);
        await l.query('COMMIT');
        await waitFor(() => count(db, helpersOf(d, t).ghost).then((n) => n >= 300), 8000);
        // Writes both far behind and far ahead of the copy, committed later still.
        await both(l2, t, `UPDATE {t} SET v = v + 7, s = 'l2' WHERE id BETWEEN 100 AND 120 OR id BETWEEN 2900 AND 2950`);
        await both(l2, t, `DELETE FROM {t} WHERE id IN (130, 2960)`);
        await waitFor(() => count(db, helpersOf(d, t).ghost).then((n) => n >= 2500), 5000);
        await l2.query('COMMIT');
        const report = await migration;
        await load.stop();
        expectDone(report);
        expect(await rows(db, t, ['id', 'v', 's'])).toEqual(await rows(db, `${t}_mirror`, ['id', 'v', 's']));
        expect(await rows(db, t, ['id', 'v', 's'])).toContain('50|1050|long');
        await expectNoHelpers(db, t);
      } finally {
        await l.end();
        await l2.end();
      }
    });

    it('delete + re-insert of the same key in one transaction, keys bounced across chunk boundaries', async () => {
      const t = 'bounce';
      await create(basic, t);
      await seed(db, t, 4000, basicRow, ['id', 'v', 's']);
      const workers = 3;
      // Each worker owns the ids = worker (mod 3): no lock conflicts between writers, exact own view.
      const moved: Array<Set<number>> = Array.from({ length: workers }, () => new Set());
      const load = loop(url, workers, async (w, worker, i) => {
        const id = 1 + worker + 3 * Math.floor(Math.random() * 1333);
        const r = i % 4;
        if (moved[worker]!.has(id) || r === 3) {
          // move a bounced key back into the copied range (or the range ahead of the copy)
          const back = [...moved[worker]!][0];
          if (back === undefined) return;
          await both(w, t, `UPDATE {t} SET id = ?, v = v + 1 WHERE id = ?`, [back, back + 1_000_000]);
          return () => moved[worker]!.delete(back);
        }
        if (r === 0 || r === 1) {
          await both(w, t, `DELETE FROM {t} WHERE id = ?`, [id]);
          await both(w, t, `INSERT INTO {t} (id, v, s) VALUES (?, ?, ?)`, [id, i, `re ${worker}.${i}`]);
          return;
        }
        // beyond the copy's upper bound (max at its start): only the stream can bring it
        await both(w, t, `UPDATE {t} SET id = ?, s = ? WHERE id = ?`, [id + 1_000_000, `moved ${i}`, id]);
        return () => moved[worker]!.add(id);
      });
      const report = await run(url, t, my ? 'MODIFY v BIGINT NOT NULL' : 'ALTER COLUMN v TYPE bigint', { chunkSize: 100, threads: 2 });
      const stats = await load.stop();
      expectDone(report);
      expect(stats.commits).toBeGreaterThan(20);
      expect(await rows(db, t, ['id', 'v', 's'])).toEqual(await rows(db, `${t}_mirror`, ['id', 'v', 's']));
      await expectNoHelpers(db, t);
    });

    /**
     * An integer key with dense stretches, a sparse one and wide gaps: the
     * copier gives a chunk's end by key arithmetic while the key is dense
     * (core/chunker.ts arithmeticEnd) and reads it again after a sparse
     * chunk. Writers insert into the gaps (ahead of the copy, inside a chunk,
     * behind it), update and delete across all of it.
     */
    it('a key with gaps and a sparse stretch: chunk ends by arithmetic and by reading, under writes', async () => {
      const t = 'gappy';
      await create(basic, t);
      // 1..3000 dense; 1,000,010..1,020,000 every 10th; 5,000,001..5,002,000 dense.
      const ids = [
        ...Array.from({ length: 3000 }, (_, i) => 1 + i),
        ...Array.from({ length: 2000 }, (_, i) => 1_000_010 + 10 * i),
        ...Array.from({ length: 2000 }, (_, i) => 5_000_001 + i),
      ];
      await seed(db, t, ids.length, (i) => basicRow(ids[i - 1]!), ['id', 'v', 's']);
      // Each worker owns the ids = worker (mod 3).
      const load = loop(url, 3, async (w, worker, i) => {
        const pick = Math.random();
        const base = pick < 0.4 ? ids[Math.floor(Math.random() * ids.length)]! : pick < 0.7 ? 3001 + Math.floor(Math.random() * 996_000) : 1_000_000 + Math.floor(Math.random() * 20_000);
        const id = base - (base % 3) + worker;
        const r = i % 4;
        if (r === 0) await both(w, t, `DELETE FROM {t} WHERE id = ?`, [id]);
        else if (r === 1) {
          await both(w, t, `DELETE FROM {t} WHERE id = ?`, [id]);
          await both(w, t, `INSERT INTO {t} (id, v, s) VALUES (?, ?, ?)`, [id, i, `gap ${worker}.${i}`]);
        } else await both(w, t, `UPDATE {t} SET v = v + 1, s = ? WHERE id = ?`, [`u ${i}`, id]);
      });
      const report = await run(url, t, my ? 'MODIFY v BIGINT NOT NULL' : 'ALTER COLUMN v TYPE bigint', { chunkSize: 200, threads: 2 });
      const stats = await load.stop();
      expectDone(report);
      expect(stats.commits).toBeGreaterThan(20);
      expect(await rows(db, t, ['id', 'v', 's'])).toEqual(await rows(db, `${t}_mirror`, ['id', 'v', 's']));
      // Both ways of ending a chunk ran.
      const copy = report.stats!.copy;
      expect(copy.spanChunks).toBeGreaterThan(0);
      expect(copy.chunks - copy.spanChunks).toBeGreaterThan(2);
      await expectNoHelpers(db, t);
    });

    /**
     * Copy and apply run side by side (core/copy-window.ts): writers aim at
     * the copy's frontier (the ghost's highest copied key, one range): just
     * below it (copied: applied at once), inside the chunk in flight (must
     * wait for that chunk), and just above it (left to the copy). Run with
     * the WRONG rule too (keys inside an in-flight chunk left to it): that
     * run must lose writes, or this test could not see the bug it guards.
     */
    for (const rule of ['wrong', 'real'] as const) {
      // The wrong rule loses writes only when writers hit a chunk while it runs: likely, not certain (MariaDB:
      // detected in 6 of 6 runs here, once re-copies count; PostgreSQL, whose held keys are placed every 100 ms:
      // rarely), so that run is opt-in: GHOSTWRIGHT_TEST_WRONG_RULE=1.
      it.skipIf(!WINDOWED.has(d) || (rule === 'wrong' && !process.env.GHOSTWRIGHT_TEST_WRONG_RULE))(`changes inside, just below and just above the chunk in flight (${rule} rule${rule === 'wrong' ? ': must lose writes' : ''})`, async () => {
        const t = `frontier_${rule}`;
        await create(basic, t);
        // The copy must last long enough for writers to land around its frontier: MariaDB copies 150k rows
        // in ~0.65 s here, PostgreSQL in ~0.3 s (with 60k rows, once its chunk ends came by key arithmetic,
        // only 9 writes landed inside a chunk once).
        const n = my ? 150_000 : 300_000;
        const chunk = 1000;
        await seed(db, t, n, basicRow, ['id', 'v', 's']);
        const ghost = helpersOf(d, t).ghost;
        let frontier = 0;
        let polling = true;
        const poller = (async () => {
          const p = await sql(url);
          try {
            while (polling) {
              frontier = Number((await q(p, `SELECT MAX(id) AS m FROM ${ghost} WHERE id <= ?`, [n]).catch(() => [{ m: 0 }]))[0]?.m ?? 0);
              await sleep(2);
            }
          } finally {
            await p.end();
          }
        })();
        const zones = { below: 0, inside: 0, above: 0 };
        // Each worker owns the ids = worker (mod 4): on PostgreSQL a concurrent UPDATE skips a row that
        // another transaction deleted and re-inserted, while the same UPDATE of the mirror, a statement
        // later, finds the new row: writers sharing keys would make t and the mirror differ by themselves.
        const load = loop(url, 4, async (w, worker, i) => {
          if (frontier === 0 || frontier >= n) return;
          const zone = (['below', 'inside', 'above'] as const)[i % 3]!;
          const r = Math.random();
          // The first 100 keys past the frontier are inside the next chunk (>= 100 rows) while it runs.
          const near = zone === 'below' ? frontier - Math.floor(r * 8) : zone === 'inside' ? frontier + 1 + Math.floor(r * 100) : frontier + 3 * chunk + 1 + Math.floor(r * 50);
          const id = near + ((worker - (near % 4) + 4) % 4) - (zone === 'below' ? 4 : 0);
          if (id < 1 || id > n) return;
          zones[zone]++;
          if (i % 5 === 0) await both(w, t, `DELETE FROM {t} WHERE id = ?`, [id]);
          else if (i % 5 === 1) {
            await both(w, t, `DELETE FROM {t} WHERE id = ?`, [id]);
            await both(w, t, `INSERT INTO {t} (id, v, s) VALUES (?, ?, ?)`, [id, i, `re ${i}`]);
          } else await both(w, t, `UPDATE {t} SET v = v + 1, s = ? WHERE id = ?`, [`${zone} ${i}`, id]);
        }, { pauseMs: 1 });
        if (rule === 'wrong') process.env.GHOSTWRIGHT_TEST_UNSAFE_WINDOW = 'trust-in-flight';
        // A batch as soon as keys come (no gathering): batches then meet the chunk in flight as often as they can.
        process.env.GHOSTWRIGHT_TEST_GATHER_MS = '0';
        let report: AlterReport;
        try {
          // Chunks grow from `chunk` rows (a long chunk time): each is in flight long enough for writers to land inside.
          report = await run(url, t, my ? 'MODIFY v BIGINT NOT NULL' : 'ALTER COLUMN v TYPE bigint', { chunkSize: chunk, chunkTimeMs: 2000, threads: 1 });
        } finally {
          delete process.env.GHOSTWRIGHT_TEST_UNSAFE_WINDOW;
          delete process.env.GHOSTWRIGHT_TEST_GATHER_MS;
          await load.stop();
          polling = false;
          await poller;
        }
        expectDone(report);
        expect(zones.inside).toBeGreaterThan(10);
        expect(zones.below).toBeGreaterThan(10);
        expect(zones.above).toBeGreaterThan(10);
        console.log(`[frontier ${d} ${rule}] zones ${JSON.stringify(zones)}, ${report.rowsCopied} rows copied in ${report.copyMs} ms`);
        const got = await rows(db, t, ['id', 'v', 's']);
        const want = await rows(db, `${t}_mirror`, ['id', 'v', 's']);
        // Verification re-copies a range that differs before the cut-over: a write the applier lost
        // shows there, even when the final table is whole again.
        const recopied = report.verify?.recopiedChunks ?? 0;
        if (rule === 'real') {
          expect(got).toEqual(want);
          expect(recopied).toBe(0);
        } else expect(recopied > 0 || JSON.stringify(got) !== JSON.stringify(want)).toBe(true);
        await expectNoHelpers(db, t);
      });
    }

    /**
     * gh-ost's PRIMARY KEY (id, ts) with TIMESTAMP(6): key values travel as
     * UTC text with every fractional digit and are bound in UTC sessions, so
     * writers in another zone, microsecond neighbours and key updates (ts
     * moved by one microsecond) all land exactly. (Refused before.)
     */
    it.skipIf(!my)('TIMESTAMP(6) in a composite key under concurrent updates from a session in another time zone', async () => {
      const t = 'tskey';
      await create((x) => `CREATE TABLE ${x} (id INT NOT NULL, ts TIMESTAMP(6) NOT NULL, v INT NOT NULL, PRIMARY KEY (id, ts))`, t);
      // Microsecond neighbours, around the 2024-10-27 fold of Europe/Berlin (01:00 UTC), and at the top of the range.
      const base = Date.UTC(2024, 9, 27, 0, 59, 59);
      const stamp = (i: number) => `${new Date(base + Math.floor(i / 3) * 1000).toISOString().slice(0, 19).replace('T', ' ')}.${String(i % 3 === 2 ? 999999 : i % 3).padStart(6, '0')}`;
      await q(db, "SET time_zone = '+00:00'");
      await seed(db, t, 3000, (i) => [i % 1000, stamp(i), i], ['id', 'ts', 'v']);
      const load = loop(url, 3, async (w, worker, i) => {
        if (i === 0) await w.query("SET time_zone = '+05:30'");
        const id = (worker * 333 + Math.floor(Math.random() * 333)) % 1000;
        if (i % 4 === 0) await both(w, t, `UPDATE {t} SET v = v + 1 WHERE id = ?`, [id]);
        else if (i % 4 === 1) await both(w, t, `UPDATE {t} SET ts = ts + INTERVAL 1 MICROSECOND WHERE id = ? ORDER BY ts DESC LIMIT 1`, [id]);
        else if (i % 4 === 2) await both(w, t, `DELETE FROM {t} WHERE id = ? ORDER BY ts LIMIT 1`, [id]);
        else await both(w, t, `INSERT INTO {t} (id, ts, v) VALUES (?, '2024-10-27 02:30:00.000001', ?) ON DUPLICATE KEY UPDATE v = v + 1`, [id, i]);
      });
      const report = await run(url, t, 'ADD COLUMN c INT NULL', { chunkSize: 200 });
      const stats = await load.stop();
      expectDone(report);
      expect(stats.commits).toBeGreaterThan(20);
      await q(db, "SET time_zone = '+00:00'");
      const cols = ['id', 'CAST(ts AS CHAR) AS ts', 'v'];
      expect(await rows(db, t, cols, 'id, ts')).toEqual(await rows(db, `${t}_mirror`, cols, 'id, ts'));
      await expectNoHelpers(db, t);
    });

    /**
     * A DECIMAL copy key: JavaScript cannot order it as the server does, so
     * the copy window runs inexact (apply batches alone between chunks, every
     * key applied, filtered by the copied spans in SQL) and a batch is matched
     * by equalities. Writers update, delete, re-insert and move keys across
     * the copy, two workers copying; the new table must equal the mirror.
     */
    it.skipIf(!my)('DECIMAL copy key under concurrent writes, two copy workers', async () => {
      const t = 'deckey';
      await create((x) => `CREATE TABLE ${x} (amount DECIMAL(20,6) NOT NULL PRIMARY KEY, v INT NOT NULL, s VARCHAR(60) NULL)`, t);
      // Neighbours a millionth apart, and values whose text differs from their order as strings.
      const amount = (i: number) => `${Math.floor(i / 3) * 10 + 1}.${String(i % 3 === 2 ? 999999 : i % 3).padStart(6, '0')}`;
      await seed(db, t, 6000, (i) => [amount(i), i, i % 7 === 0 ? null : `row ${i}`], ['amount', 'v', 's']);
      const load = loop(url, 3, async (w, worker, i) => {
        // Each worker owns the rows i = worker (mod 3): no lock conflicts between writers.
        const a = amount(worker + 3 * Math.floor(Math.random() * 2000));
        const r = i % 4;
        if (r === 0) await both(w, t, `UPDATE {t} SET v = v + 1, s = ? WHERE amount = ?`, [`up ${i}`, a]);
        else if (r === 1) {
          await both(w, t, `DELETE FROM {t} WHERE amount = ?`, [a]);
          await both(w, t, `INSERT INTO {t} (amount, v, s) VALUES (?, ?, ?)`, [a, i, `re ${i}`]);
        } else if (r === 2) await both(w, t, `DELETE FROM {t} WHERE amount = ?`, [a]);
        // beyond the copy's upper bound: only the stream brings it
        else await both(w, t, `INSERT INTO {t} (amount, v, s) VALUES (? + 100000, ?, 'new') ON DUPLICATE KEY UPDATE v = v + 1`, [a, i]);
      });
      const report = await run(url, t, 'MODIFY v BIGINT NOT NULL', { chunkSize: 200, threads: 2 });
      const stats = await load.stop();
      expectDone(report);
      expect(stats.commits).toBeGreaterThan(20);
      const cols = ['CAST(amount AS CHAR) AS amount', 'v', 's'];
      expect(await rows(db, t, cols, 'amount')).toEqual(await rows(db, `${t}_mirror`, cols, 'amount'));
      expect(Number(await db.value(`SELECT COUNT(*) FROM ${t}`))).toBeGreaterThan(5000);
      await expectNoHelpers(db, t);
    });

    it('one transaction far larger than maxBacklogEvents neither deadlocks nor drops', async () => {
      const t = 'bigtx';
      await create(basic, t);
      await seed(db, t, 20_000, basicRow, ['id', 'v', 's']);
      const live = makeLive(d, 500, false);
      const migration = run(url, t, my ? 'ADD COLUMN c INT NULL' : 'ADD COLUMN c int', { chunkSize: 500, maxBacklogEvents: 1000 }, live);
      await waitFor(() => count(db, helpersOf(d, t).ghost).then((n) => n > 0), 10_000);
      const w = await sql(url);
      try {
        await w.query('BEGIN');
        await both(w, t, `UPDATE {t} SET v = v + 1`);
        await w.query('COMMIT');
        // half the keys move: 20k key events in one transaction
        await w.query('BEGIN');
        await both(w, t, `UPDATE {t} SET id = id + 100000, s = 'big' WHERE id % 2 = 0`);
        await w.query('COMMIT');
      } finally {
        await w.end();
      }
      const report = await migration;
      expectDone(report);
      expect(await rows(db, t, ['id', 'v', 's'])).toEqual(await rows(db, `${t}_mirror`, ['id', 'v', 's']));
      await expectNoHelpers(db, t);
    });

    const generated = my
      ? [['auto_increment', 'BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY']]
      : [
          ['bigserial', 'bigserial PRIMARY KEY'],
          ['identity', 'bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY'],
        ];
    for (const [kind, idType] of generated) it(`single-row autocommit inserts straight through the cut-over (${kind}): no id lost, none reused`, async () => {
      const t = `gen_${kind}`;
      const ddl = `CREATE TABLE ${t} (id ${idType}, v INT NOT NULL, s VARCHAR(60) NULL)`;
      await db.query(ddl);
      await db.query(ddl.replace(`TABLE ${t}`, `TABLE ${t}_mirror`));
      await seed(db, t, 3000, basicRow, ['id', 'v', 's']);
      if (!my) await db.query(`SELECT setval(pg_get_serial_sequence('${t}', 'id'), 3000)`);
      // the counter stays above the top ids: the new table must not hand them out again
      await db.query(`DELETE FROM ${t} WHERE id > 2950`);
      const got: Array<{ id: string; v: number }> = [];
      let n = 0;
      const load = loop(
        url,
        2,
        async (w) => {
          const v = ++n;
          if (my) {
            await w.query(`INSERT INTO ${t} (v, s) VALUES (?, 'auto')`, [v]);
            got.push({ id: String(await w.value('SELECT LAST_INSERT_ID()')), v });
          } else {
            const r = await w.query<{ id: string }>(`INSERT INTO ${t} (v, s) VALUES ($1, 'auto') RETURNING id`, [v]);
            got.push({ id: String(r[0]!.id), v });
          }
        },
        { autocommit: true, pauseMs: 0 },
      );
      const report = await run(url, t, my ? 'ADD COLUMN c INT NULL' : 'ADD COLUMN c int', { cutOverLockTimeoutMs: 1000 });
      await sleep(300);
      const stats = await load.stop();
      expectDone(report);
      expect(stats.transient).toBe(0);
      const ids = new Set((await q(db, `SELECT id FROM ${t}`)).map((r) => String(r.id)));
      expect(got.length).toBeGreaterThan(50);
      expect(new Set(got.map((g) => g.id)).size).toBe(got.length);
      for (const g of got) expect(Number(g.id)).toBeGreaterThan(3000);
      const missing = got.filter((g) => !ids.has(g.id)).map((g) => g.id);
      expect(missing).toEqual([]);
      const wrong = (await q(db, `SELECT id, v FROM ${t} WHERE id > 3000`)).filter((r) => got.find((g) => g.id === String(r.id))?.v !== Number(r.v));
      expect(wrong).toEqual([]);
      expect(await count(db, t)).toBe(2950 + got.length);
      // the old table holds nothing the new one lacks
      const old = (await q(db, `SELECT id FROM _${t}_del`)).map((r) => String(r.id)).filter((id) => !ids.has(id));
      expect(old).toEqual([]);
      // the next generated id does not collide
      const next = my ? (await db.query(`INSERT INTO ${t} (v) VALUES (0)`), Number(await db.value('SELECT LAST_INSERT_ID()'))) : Number(await db.value(`INSERT INTO ${t} (v) VALUES (0) RETURNING id`));
      expect(next).toBeGreaterThan(Math.max(...got.map((g) => Number(g.id))));
      await expectNoHelpers(db, t);
    });

    it('cut-over times out on a held lock, is retried, writes continue: still exact', async () => {
      const t = 'retry';
      await create(basic, t);
      await seed(db, t, 2000, basicRow, ['id', 'v', 's']);
      const live = makeLive(d, 100, true);
      const load = loop(url, 2, async (w) => {
        const id = 1 + Math.floor(Math.random() * 2000);
        await both(w, t, `UPDATE {t} SET v = v + 1, s = 'retry' WHERE id = ?`, [id]);
        if (Math.random() < 0.2) await both(w, t, `INSERT INTO {t} (id, v, s) VALUES (?, 0, 'new')`, [10_000 + Math.floor(Math.random() * 1e9)]);
      });
      const migration = run(url, t, my ? 'ADD COLUMN c INT NULL' : 'ADD COLUMN c int', { cutOverLockTimeoutMs: 400, cutOverRetries: 8 }, live);
      expect(await waitFor(() => live.progress.state === 'postponed', 30_000)).toBe(true);
      const blocker = await sql(url);
      try {
        await blocker.query('BEGIN');
        await both(blocker, t, `UPDATE {t} SET v = v + 100 WHERE id = 1`);
        live.settings.postponeCutOver = false;
        await sleep(1500);
        await blocker.query('COMMIT');
      } finally {
        await blocker.end();
      }
      const report = await migration;
      await load.stop();
      expectDone(report);
      expect(report.cutOverAttempts).toBeGreaterThan(1);
      expect(await rows(db, t, ['id', 'v', 's'])).toEqual(await rows(db, `${t}_mirror`, ['id', 'v', 's']));
      await expectNoHelpers(db, t);
    });

    it('a long postponed cut-over under writes: the applier gathers its batches (relaxed), then catches up: still exact', async () => {
      const t = 'relaxed';
      await create(basic, t);
      await seed(db, t, 2000, basicRow, ['id', 'v', 's']);
      const live = makeLive(d, 100, true);
      let writes = 0;
      const load = loop(url, 2, async (w) => {
        const id = 1 + Math.floor(Math.random() * 2000);
        await both(w, t, `UPDATE {t} SET v = v + 1, s = 'relaxed' WHERE id = ?`, [id]);
        if (Math.random() < 0.2) await both(w, t, `INSERT INTO {t} (id, v, s) VALUES (?, 0, 'new')`, [10_000 + Math.floor(Math.random() * 1e9)]);
        if (Math.random() < 0.1) await both(w, t, `DELETE FROM {t} WHERE id = ?`, [1 + Math.floor(Math.random() * 2000)]);
        writes++;
      });
      const migration = run(url, t, my ? 'ADD COLUMN c INT NULL' : 'ADD COLUMN c int', {}, live);
      expect(await waitFor(() => live.progress.state === 'postponed', 30_000)).toBe(true);
      const before = writes;
      await sleep(3000);
      const postponedWrites = writes - before;
      live.settings.postponeCutOver = false;
      const report = await migration;
      await load.stop();
      expectDone(report);
      expect(await rows(db, t, ['id', 'v', 's'])).toEqual(await rows(db, `${t}_mirror`, ['id', 'v', 's']));
      await expectNoHelpers(db, t);
      // 3 s of steady writes while postponed: taken as they came they were a
      // batch each (hundreds); gathered, at most one batch per GATHER_MS.
      expect(postponedWrites).toBeGreaterThan(200);
      expect(report.stats?.apply.batches).toBeLessThan(postponedWrites / 4);
    });

    it('cut-over never gets its lock: fails, original untouched and equal to the mirror, helpers gone', async () => {
      const t = 'nolock';
      await create(basic, t);
      await seed(db, t, 1000, basicRow, ['id', 'v', 's']);
      const live = makeLive(d, 100, true);
      const load = loop(url, 1, async (w) => {
        await both(w, t, `UPDATE {t} SET v = v + 1 WHERE id = ?`, [2 + Math.floor(Math.random() * 998)]);
      });
      const migration = run(url, t, my ? 'ADD COLUMN c INT NULL' : 'ADD COLUMN c int', { cutOverLockTimeoutMs: 300, cutOverRetries: 2 }, live);
      expect(await waitFor(() => live.progress.state === 'postponed', 30_000)).toBe(true);
      const blocker = await sql(url);
      let report: AlterReport;
      try {
        await blocker.query('BEGIN');
        await both(blocker, t, `UPDATE {t} SET v = v + 100 WHERE id = 1`);
        live.settings.postponeCutOver = false;
        report = await migration;
        await blocker.query('COMMIT');
      } finally {
        await blocker.end();
      }
      await load.stop();
      expect(report.status).toBe('failed');
      expect(report.error?.code).toBe('E_CUTOVER_LOCK_TIMEOUT');
      expect(await rows(db, t, ['id', 'v', 's'])).toEqual(await rows(db, `${t}_mirror`, ['id', 'v', 's']));
      await expectNoHelpers(db, t);
      expect(await count(db, `_${t}_del`)).toBe(0);
    });

    it('NULL-able unique column: NULLs, swapped values, keys moved ahead of and behind the copy', async () => {
      const t = 'nuniq';
      await create((x) => `CREATE TABLE ${x} (id BIGINT NOT NULL PRIMARY KEY, u INT NULL, v INT NOT NULL, s VARCHAR(60) NULL, UNIQUE (u))`, t);
      await seed(db, t, 3000, (i) => [i, i % 2 === 0 ? i : null, i, `r${i}`], ['id', 'u', 'v', 's']);
      const workers = 4;
      const load = loop(url, workers, async (w, worker, i) => {
        const pick = () => 1 + worker + workers * Math.floor(Math.random() * (3000 / workers));
        const r = i % 5;
        const a = pick();
        if (r === 0) {
          // swap u between two rows through NULL
          const b = pick();
          if (a === b) return;
          const [ua] = await q(w, `SELECT u FROM ${t} WHERE id = ?`, [a]);
          const [ub] = await q(w, `SELECT u FROM ${t} WHERE id = ?`, [b]);
          if (!ua || !ub) return;
          await both(w, t, `UPDATE {t} SET u = NULL WHERE id = ?`, [a]);
          await both(w, t, `UPDATE {t} SET u = ? WHERE id = ?`, [ua.u, b]);
          await both(w, t, `UPDATE {t} SET u = ? WHERE id = ?`, [ub.u, a]);
        } else if (r === 1) {
          await both(w, t, `UPDATE {t} SET u = NULL, v = v + 1 WHERE id = ?`, [a]);
        } else if (r === 2) {
          // a key far ahead of the copy, and later (r === 3) one far behind it; each worker's own id space
          await both(w, t, `UPDATE {t} SET id = id + 1000000 WHERE id = ?`, [a]);
        } else if (r === 3) {
          await both(w, t, `UPDATE {t} SET id = id - 1000000 WHERE id = ?`, [a]);
        } else {
          await both(w, t, `UPDATE {t} SET id = ? WHERE id = ?`, [a, a + 1_000_000]);
          await both(w, t, `UPDATE {t} SET id = ? WHERE id = ?`, [a, a - 1_000_000]);
        }
      });
      const report = await run(url, t, my ? 'ADD COLUMN c INT NULL' : 'ADD COLUMN c int', { chunkSize: 50 });
      const stats = await load.stop();
      expectDone(report);
      expect(stats.commits).toBeGreaterThan(10);
      expect(await rows(db, t, ['id', 'u', 'v', 's'])).toEqual(await rows(db, `${t}_mirror`, ['id', 'u', 'v', 's']));
      await expectNoHelpers(db, t);
    });

    // MySQL: this found lost writes at the cut-over (~1 run in 2): the rename waited on a
    // metadata lock of the ghost (InnoDB purge holds them for a moment) instead of the
    // table, so writers queued on the table went first, into the old table. See
    // engine/mysql/cutover.ts for the lock order that fixed it.
    it('unique values swapped right up to the cut-over while the stream lags behind big unrelated transactions', async () => {
      const t = 'lagswap';
      await create((x) => `CREATE TABLE ${x} (id BIGINT NOT NULL PRIMARY KEY, u INT NULL, v INT NOT NULL, UNIQUE (u))`, t);
      await seed(db, t, 2000, (i) => [i, i, i], ['id', 'u', 'v']);
      await db.query('CREATE TABLE lag_hog (i INT NOT NULL PRIMARY KEY)');
      const workers = 3;
      const swaps = loop(url, workers, async (w, worker) => {
        const pick = () => 1 + worker + workers * Math.floor(Math.random() * Math.floor(2000 / workers));
        const a = pick();
        const b = pick();
        if (a === b) return;
        const [ra] = await q(w, `SELECT u FROM ${t} WHERE id = ?`, [a]);
        const [rb] = await q(w, `SELECT u FROM ${t} WHERE id = ?`, [b]);
        if (!ra || !rb) return;
        await both(w, t, `UPDATE {t} SET u = NULL, v = v + 1 WHERE id = ?`, [a]);
        await both(w, t, `UPDATE {t} SET u = ? WHERE id = ?`, [ra.u, b]);
        await both(w, t, `UPDATE {t} SET u = ? WHERE id = ?`, [rb.u, a]);
      }, { pauseMs: 0 });
      // The stream decodes every table's WAL/binlog: these keep it a second or more behind
      // (for a while only: replicas lag too, and replica lag throttles the copy).
      const hog = loop(url, 1, async (w, _worker, i) => {
        if (i >= 12) return;
        if (my) await w.query('INSERT INTO lag_hog SELECT seq FROM seq_1_to_20000');
        else await w.query('INSERT INTO lag_hog SELECT g FROM generate_series(1, 20000) g');
        await w.query('DELETE FROM lag_hog');
      }, { pauseMs: 5 });
      const report = await run(url, t, my ? 'ADD COLUMN c INT NULL' : 'ADD COLUMN c int', { chunkSize: 100 });
      await sleep(100);
      const stats = await swaps.stop();
      await hog.stop();
      expectDone(report);
      expect(stats.commits).toBeGreaterThan(20);
      expect(await rows(db, t, ['id', 'u', 'v'])).toEqual(await rows(db, `${t}_mirror`, ['id', 'u', 'v']));
      await expectNoHelpers(db, t);
    }, 240_000);

    if (!my) {
      for (const identity of ['DEFAULT', 'FULL'] as const) {
        it(`TOASTed column untouched while another column changes (REPLICA IDENTITY ${identity})`, async () => {
          const t = `toast_${identity.toLowerCase()}`;
          await create((x) => `CREATE TABLE ${x} (id bigint PRIMARY KEY, v int NOT NULL, big text)`, t);
          if (identity === 'FULL') await db.query(`ALTER TABLE ${t} REPLICA IDENTITY FULL`);
          // ~8 KB of hex per row: stored out of line, sent as 'unchanged TOAST' when not updated
          for (const x of [t, `${t}_mirror`]) await db.query(`INSERT INTO ${x} SELECT g, g, (SELECT string_agg(md5(g::text || ':' || k), '') FROM generate_series(1, 250) k) FROM generate_series(1, 1500) g`);
          const load = loop(url, 2, async (w, worker, i) => {
            const id = 1 + worker + 2 * Math.floor(Math.random() * 750);
            if (i % 10 === 9) await both(w, t, `UPDATE {t} SET id = id + 100000 WHERE id = ?`, [id]);
            else if (i % 10 === 8) await both(w, t, `DELETE FROM {t} WHERE id = ?`, [id]);
            else await both(w, t, `UPDATE {t} SET v = v + 1 WHERE id = ?`, [id]);
          });
          const report = await run(url, t, 'ADD COLUMN c int', { chunkSize: 50 });
          await load.stop();
          expectDone(report);
          const cols = ['id', 'v', 'md5(big) AS h', 'length(big) AS l'];
          const got = await rows(db, t, cols);
          expect(got).toEqual(await rows(db, `${t}_mirror`, cols));
          expect(got.some((r) => r.endsWith('|∅|∅'))).toBe(false);
          await expectNoHelpers(db, t);
        });
      }
    }

    if (!my) {
      it('a primary key stored out of line (TOASTed) while only another column changes', async () => {
        const t = 'toastkey';
        // STORAGE EXTERNAL: no compression, so a 2100-byte key leaves the heap row (the index keeps it inline)
        await create((x) => `CREATE TABLE ${x} (k text PRIMARY KEY, v int NOT NULL); ALTER TABLE ${x} ALTER COLUMN k SET STORAGE EXTERNAL`, t);
        for (const x of [t, `${t}_mirror`]) await db.query(`INSERT INTO ${x} SELECT lpad(g::text, 2100, 'k'), g FROM generate_series(1, 800) g`);
        const load = loop(url, 2, async (w, worker) => {
          const g = 1 + worker + 2 * Math.floor(Math.random() * 400);
          await both(w, t, `UPDATE {t} SET v = v + 1 WHERE k = lpad(?::text, 2100, 'k')`, [g]);
        });
        const report = await run(url, t, 'ADD COLUMN c int', { chunkSize: 50 });
        await load.stop();
        expectDone(report);
        const cols = ['md5(k) AS k', 'v'];
        expect(await rows(db, t, cols, 'v, k')).toEqual(await rows(db, `${t}_mirror`, cols, 'v, k'));
        await expectNoHelpers(db, t);
      });

      it('TRUNCATE of the original in the middle of the copy, then new rows', async () => {
        const t = 'trunc';
        await create(basic, t);
        await seed(db, t, 4000, basicRow, ['id', 'v', 's']);
        const migration = run(url, t, 'ADD COLUMN c int', { chunkSize: 100, threads: 2 });
        await waitFor(() => count(db, helpersOf(d, t).ghost).then((n) => n >= 500), 10_000);
        const w = await sql(url);
        try {
          await w.query('BEGIN');
          await both(w, t, 'TRUNCATE {t}');
          await both(w, t, `INSERT INTO {t} (id, v, s) VALUES (5, 5, 'after'), (3990, 1, 'after'), (9999, 2, 'after')`);
          await w.query('COMMIT');
          await both(w, t, `INSERT INTO {t} (id, v, s) VALUES (2000, 3, 'later')`);
        } finally {
          await w.end();
        }
        const report = await migration;
        expectDone(report);
        const got = await rows(db, t, ['id', 'v', 's']);
        expect(got).toEqual(await rows(db, `${t}_mirror`, ['id', 'v', 's']));
        expect(got.length).toBe(4);
        await expectNoHelpers(db, t);
      });
    }

    if (my) {
      it('ON UPDATE CURRENT_TIMESTAMP keeps the original values (copy and apply write no fresh timestamp)', async () => {
        const t = 'onupd';
        const ddl = (x: string) => `CREATE TABLE ${x} (id BIGINT NOT NULL PRIMARY KEY, v INT NOT NULL, ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), dt DATETIME NULL ON UPDATE CURRENT_TIMESTAMP)`;
        await create(ddl, t);
        await seed(db, t, 3000, (i) => [i, i, '2001-02-03 04:05:06.000007', i % 3 ? '2002-03-04 05:06:07' : null], ['id', 'v', 'ts', 'dt']);
        const load = loop(url, 2, async (w, worker, i) => {
          // the session clock is pinned, so t and t_mirror get the same ON UPDATE value
          await w.query(`SET TIMESTAMP = ?`, [1_000_000_000 + worker * 1_000_000 + i + 0.25]);
          // ids above 1500 are never written: they must keep their original timestamps
          const id = 1 + Math.floor(Math.random() * 1500);
          await both(w, t, `UPDATE {t} SET v = v + 1 WHERE id = ?`, [id]);
          if (i % 7 === 0) await both(w, t, `INSERT INTO {t} (id, v) VALUES (?, ?)`, [100_000 + worker * 100_000 + i, i]);
        });
        const report = await run(url, t, 'MODIFY v BIGINT NOT NULL, ADD COLUMN c INT NULL');
        await load.stop();
        expectDone(report);
        const cols = ['id', 'v', 'CAST(ts AS CHAR) AS ts', 'CAST(dt AS CHAR) AS dt'];
        const got = await rows(db, t, cols);
        expect(got).toEqual(await rows(db, `${t}_mirror`, cols));
        expect(got.filter((r) => r.includes('2001-02-03 04:05:06.000007')).length).toBeGreaterThanOrEqual(1500);
        await expectNoHelpers(db, t);
      });
    }
  });
}
