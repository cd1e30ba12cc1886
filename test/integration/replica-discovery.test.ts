/**
 * Replicas the engines find on their own (no --replica given):
 * - MySQL/MariaDB: replicas listed by SHOW SLAVE HOSTS (the sandbox replica
 *   sets report_host/report_port) are measured by heartbeat as
 *   `discovered:host:port`; stopping the replica's SQL thread throttles the
 *   copy, restarting it lets the migration finish with every row right.
 * - PostgreSQL: physical standbys from pg_stat_replication, named
 *   `standby:<application_name>`, never our own logical walsender; pausing
 *   replay while the primary keeps writing throttles the copy.
 *
 * Both prove the hold on the server: while throttled, the copy does not move
 * (rows copied and the ghost's row count stay put) and the ghost is incomplete.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newLiveMigration } from '../../src/core/live.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConnectionUrl } from '../../src/connection.js';
import type { LiveMigration } from '../../src/core/live.js';
import { runOnlineAlter } from '../../src/alter.js';
import { alterOptions, type AlterOptions, type ThrottleOptions } from '../../src/core/options.js';
import type { AlterReport } from '../../src/core/report.js';
import { connectEngine } from '../../src/engine/index.js';
import { silentLogger } from '../../src/log.js';
import { helpersOf, databaseOf, dropDatabase, freshDatabase, hasMysqlReplica, hasPgStandby, mysqlReplicaUrl, pgStandbyUrl, sql, withDatabase, type TestDialect, type TestSql } from '../helpers/servers.js';
import { seedIdTable, until } from '../helpers/seed.js';

const ROWS = 20_000;
const MAX_LAG_MS = 500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function makeLive(): LiveMigration {
  return newLiveMigration({ chunkSize: 500, maxLagMs: MAX_LAG_MS, forcedThrottle: true });
}

const hasReplica = (d: TestDialect) => (d === 'mysql' ? hasMysqlReplica() : hasPgStandby());

describe.each(['mysql', 'postgres'] as const)('replica discovery: %s', (dialect) => {
  const d = describe.skipIf(!hasReplica(dialect));
  d('without --replica', () => {
    let url: string;
    let replicaUrl: string;
    let db: TestSql;
    let replica: TestSql;
    let dir: string;
    let n = 0;
    const p = (i: number) => (dialect === 'mysql' ? '?' : `$${i}`);

    beforeAll(async () => {
      url = await freshDatabase(dialect, 'gw_disc');
      db = await sql(url);
      const base = dialect === 'mysql' ? mysqlReplicaUrl() : pgStandbyUrl();
      replicaUrl = withDatabase(base, databaseOf(url));
      dir = mkdtempSync(join(tmpdir(), 'gw-disc-'));
    });
    afterAll(async () => {
      await replica?.end();
      await db?.end();
      if (url) await dropDatabase(url);
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    /** The name the engine must give the replica of the sandbox. */
    const expectedName = (): RegExp => {
      if (dialect === 'mysql') return new RegExp(`^discovered:127\\.0\\.0\\.1:${new URL(mysqlReplicaUrl()).port}$`);
      return /^standby:.+$/;
    };

    /** A fresh table with ROWS rows (id, v = 'v<id>'), replayed on the replica before it returns. */
    async function seed(): Promise<string> {
      const table = `t${++n}_${dialect}`;
      await seedIdTable(db, dialect, table, ROWS);
      const end = Date.now() + 30_000;
      for (;;) {
        try {
          replica ??= await sql(replicaUrl);
          if (Number(await replica.value(`SELECT COUNT(*) FROM ${table}`)) === ROWS) return table;
        } catch {
          // database or table not replayed yet
        }
        if (Date.now() > end) throw new Error(`replica never showed ${table}`);
        await sleep(50);
      }
    }

    function options(table: string, throttle: Partial<ThrottleOptions> = {}): AlterOptions {
      return alterOptions({
        url, table, alter: dialect === 'mysql' ? 'ADD COLUMN note VARCHAR(20) NULL' : 'ADD COLUMN note text', execute: true, chunkSize: 500, chunkTimeMs: 50,
        socketPath: join(dir, `${table}.sock`), throttle: { heartbeatIntervalMs: 100, maxLagMs: MAX_LAG_MS, ...throttle } as ThrottleOptions,
      });
    }

    const count = async (table: string) => Number(await db.value(`SELECT COUNT(*) FROM ${table}`));
    const lags = (live: LiveMigration) => Object.entries(live.progress.replicaLagMs).filter(([name]) => expectedName().test(name));

    it('measure() lists the replica the primary knows of, with a finite lag once the heartbeat arrived', async () => {
      const table = await seed();
      const engine = await connectEngine(parseConnectionUrl(url), silentLogger);
      const online = engine.onlineAlter({ table: engine.tableRef(table), alter: options(table).alter, cutOverLockTimeoutMs: 3000, dropOldTable: false, maxBacklogEvents: 10_000 }, { replicas: [], log: silentLogger });
      try {
        await online.preflight(await engine.inspect(engine.tableRef(table)));
        await online.createGhost();
        let m = await online.probe.measure([]);
        const deadline = Date.now() + 20_000;
        // The changelog and its heartbeat row replicate asynchronously: unknown (null) until they arrive.
        while (!m.replicas.some((r) => expectedName().test(r.name) && r.lagMs !== null) && Date.now() < deadline) {
          await online.probe.heartbeat();
          await sleep(100);
          m = await online.probe.measure([]);
        }
        await online.probe.heartbeat();
        await sleep(150);
        m = await online.probe.measure([]);
        const found = m.replicas.filter((r) => expectedName().test(r.name));
        expect(found, JSON.stringify(m.replicas)).toHaveLength(1);
        expect(found[0]!.lagMs).not.toBeNull();
        expect(found[0]!.lagMs!).toBeGreaterThanOrEqual(0);
        expect(found[0]!.lagMs!).toBeLessThan(5000);
        // Only the auto-found replica: no explicit one was given, and PG's logical walsenders are not standbys.
        expect(m.replicas.map((r) => r.name).every((name) => expectedName().test(name))).toBe(true);
        await online.abort();
      } catch (err) {
        await online.abort();
        throw err;
      } finally {
        await engine.close();
      }
    });

    it('a replica falling behind throttles the copy with a lag reason; the migration finishes once it catches up', async () => {
      const table = await seed();
      const noise = `${table}_noise`;
      await db.query(`CREATE TABLE ${noise} (id int PRIMARY KEY, v int NOT NULL)`);
      await db.query(`INSERT INTO ${noise} (id, v) VALUES (1, 0)`);
      const live = makeLive();
      const run: Promise<AlterReport> = runOnlineAlter(options(table), { live });
      let stopped = false;
      let writing = true;
      // PG's replay_lag only moves while WAL arrives: keep the primary writing (MySQL doesn't need it, but it doesn't hurt).
      const writer = (async () => {
        while (writing) {
          await db.query(`UPDATE ${noise} SET v = v + 1 WHERE id = 1`);
          await sleep(20);
        }
      })();
      const resume = () => replica.query(dialect === 'mysql' ? 'START SLAVE SQL_THREAD' : 'SELECT pg_wal_replay_resume()');
      try {
        // The copy is held by the `throttle` command until the lag is measured and small.
        await until('replica found and its lag measured', () => lags(live).some(([, v]) => v !== null && v < MAX_LAG_MS), 30_000);
        if (dialect === 'postgres') {
          expect(Object.keys(live.progress.replicaLagMs).some((k) => k.includes('ghostwright'))).toBe(false);
          expect(lags(live)).toHaveLength(1);
        }
        await replica.query(dialect === 'mysql' ? 'STOP SLAVE SQL_THREAD' : 'SELECT pg_wal_replay_pause()');
        stopped = true;
        const stoppedAt = Date.now();
        await until(`lag above ${MAX_LAG_MS} ms`, () => lags(live).some(([, v]) => v !== null && v > MAX_LAG_MS), 15_000);
        const seenAfter = Date.now() - stoppedAt;
        live.settings.forcedThrottle = false;
        const reason = new RegExp(`^lag: replica (discovered:|standby:).+ \\d+ms > ${MAX_LAG_MS}ms$`);
        await until('throttled by lag', () => reason.test(live.progress.throttleReason ?? ''));
        console.log(`[replica discovery] ${dialect}: replica stopped -> throttler saw lag > ${MAX_LAG_MS} ms after ${seenAfter} ms; reason "${live.progress.throttleReason}"`);
        // 500 ms of real lag + a heartbeat (100 ms) + a throttler poll (100 ms), with room for a loaded machine.
        expect(seenAfter).toBeLessThan(3000);
        expect(live.progress.state).toBe('throttled');

        // Held: nothing more is copied while the replica is behind.
        await sleep(200);
        const copied = live.progress.rowsCopied;
        const ghostRows = await count(helpersOf(dialect, table).ghost);
        await sleep(800);
        expect(live.progress.rowsCopied).toBe(copied);
        expect(await count(helpersOf(dialect, table).ghost)).toBe(ghostRows);
        expect(ghostRows).toBeLessThan(ROWS);
        expect(reason.test(live.progress.throttleReason ?? '')).toBe(true);

        // Changes while held reach the new table through the stream.
        await db.query(`INSERT INTO ${table} (id, v) VALUES (${p(1)}, ${p(2)})`, [ROWS + 1, 'new']);
        await db.query(`UPDATE ${table} SET v = 'changed' WHERE id IN (7, ${ROWS})`);
        await db.query(`DELETE FROM ${table} WHERE id = 8`);

        await resume();
        stopped = false;
        const report = await run;
        expect(report.error).toBeUndefined();
        expect(report.status).toBe('done');
        // The report names the replica that was watched.
        expect(report.replicas?.discovery).toBe(true);
        expect(report.replicas?.watched.some((name) => expectedName().test(name)), JSON.stringify(report.replicas)).toBe(true);
      } finally {
        writing = false;
        await writer.catch(() => undefined);
        if (stopped) await resume().catch(() => undefined);
        live.settings.panic = true; // a failed assertion must not leave the migration running
        await run.catch(() => undefined);
      }
      expect(await count(table)).toBe(ROWS);
      expect(Number(await db.value(`SELECT SUM(id) FROM ${table}`))).toBe((ROWS * (ROWS + 1)) / 2 - 8 + ROWS + 1);
      expect(await db.value(`SELECT v FROM ${table} WHERE id = 7`)).toBe('changed');
      expect(await db.value(`SELECT v FROM ${table} WHERE id = ${ROWS}`)).toBe('changed');
      expect(await db.value(`SELECT v FROM ${table} WHERE id = ${ROWS + 1}`)).toBe('new');
      expect(Number(await db.value(`SELECT COUNT(*) FROM ${table} WHERE id = 8`))).toBe(0);
      expect(Number(await db.value(`SELECT COUNT(*) FROM ${table} WHERE note IS NULL`))).toBe(ROWS);
      // Every untouched row kept its value.
      const concat = dialect === 'mysql' ? `CONCAT('v', id)` : `'v' || id`;
      expect(Number(await db.value(`SELECT COUNT(*) FROM ${table} WHERE v = ${concat}`))).toBe(ROWS - 3);
    });

    it('--replica none: a stopped replica neither throttles nor is measured, and the report says none was watched', async () => {
      const table = await seed();
      await replica.query(dialect === 'mysql' ? 'STOP SLAVE SQL_THREAD' : 'SELECT pg_wal_replay_pause()');
      const reasons = new Set<string>();
      const live = newLiveMigration({ chunkSize: 500, maxLagMs: MAX_LAG_MS });
      const watch = setInterval(() => live.progress.throttleReason && reasons.add(live.progress.throttleReason), 20);
      let report: AlterReport;
      try {
        report = await runOnlineAlter(alterOptions({ ...options(table), replicaDiscovery: false }), { live });
      } finally {
        clearInterval(watch);
        await replica.query(dialect === 'mysql' ? 'START SLAVE SQL_THREAD' : 'SELECT pg_wal_replay_resume()');
      }
      expect(report.error).toBeUndefined();
      expect(report.status).toBe('done');
      expect(report.replicas).toEqual({ discovery: false, watched: [] });
      expect(live.progress.replicaLagMs).toEqual({});
      expect([...reasons].filter((r) => r.startsWith('lag:'))).toEqual([]);
      expect(await count(table)).toBe(ROWS);
    });
  });
});
