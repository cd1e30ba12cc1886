/**
 * Throttling, live control, flag files, postponed cut-over and hooks against
 * real migrations on both engines (the sandbox servers of global setup).
 *
 * Every scenario that holds the copy proves it on the server: the ghost
 * table's row count stays put while throttled, and the final table has every
 * row (or, on abort, the original is untouched and the ghost is gone).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newLiveMigration } from '../../src/core/live.js';
import type { LiveMigration } from '../../src/core/live.js';
import { alterOptions, type AlterOptions, type ThrottleOptions } from '../../src/core/options.js';
import type { AlterReport } from '../../src/core/report.js';
import { sendControlCommand } from '../../src/control/client.js';
import { helpersOf, databaseOf, dropDatabase, freshDatabase, hasMysqlReplica, hasPgStandby, mysqlReplicaUrl, pgStandbyUrl, sql, withDatabase, type TestDialect, type TestSql } from '../helpers/servers.js';
import { seedIdTable, until } from '../helpers/seed.js';

const ROWS = 20_000;
const here = (p: string) => new URL(p, import.meta.url);
const ready: Record<TestDialect, boolean> = {
  mysql: existsSync(here('../../src/engine/mysql/index.ts')),
  postgres: existsSync(here('../../src/engine/postgres/index.ts')),
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function makeLive(): LiveMigration {
  return newLiveMigration({ chunkSize: 500, maxLagMs: 1500 });
}

describe.each(['mysql', 'postgres'] as const)('control end to end: %s', (dialect) => {
  const d = describe.skipIf(!ready[dialect]);
  d('with a running migration', () => {
    let url: string;
    let db: TestSql;
    let dir: string;
    let runOnlineAlter: (o: AlterOptions, deps?: { live?: LiveMigration }) => Promise<AlterReport>;
    let n = 0;

    beforeAll(async () => {
      ({ runOnlineAlter } = await import('../../src/alter.js'));
      url = await freshDatabase(dialect, 'gw_ctl');
      db = await sql(url);
      dir = mkdtempSync(join(tmpdir(), 'gw-ctl-e2e-'));
    });
    afterAll(async () => {
      await db?.end();
      if (url) await dropDatabase(url);
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const addColumn = dialect === 'mysql' ? 'ADD COLUMN note VARCHAR(20) NULL' : 'ADD COLUMN note text';

    /** A fresh table with ROWS rows: id 1..ROWS, v = 'v<id>'. */
    async function seed(): Promise<string> {
      const table = `t${++n}_${dialect}`;
      await seedIdTable(db, dialect, table, ROWS);
      return table;
    }

    function options(table: string, over: Partial<AlterOptions> = {}, throttle: Partial<ThrottleOptions> = {}): AlterOptions {
      return alterOptions({
        url, table, alter: addColumn, execute: true, chunkSize: 500, chunkTimeMs: 50, socketPath: join(dir, `${table}.sock`), ...over,
        throttle: { heartbeatIntervalMs: 100, ...throttle } as ThrottleOptions,
      });
    }

    async function exists(table: string): Promise<boolean> {
      if (dialect === 'mysql') return Number(await db.value('SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?', [table])) === 1;
      return (await db.value('SELECT to_regclass($1)::text', [table])) !== null;
    }
    const count = async (table: string) => Number(await db.value(`SELECT COUNT(*) FROM ${table}`));

    /** PostgreSQL: kill the walsender and drop its slot before the stream can reopen it (it waits 100 ms first). */
    async function killStreamAndSlot(): Promise<void> {
      const [slot] = await db.query<{ slot_name: string; active_pid: number }>(`SELECT slot_name, active_pid FROM pg_replication_slots WHERE slot_name LIKE 'ghostwright%' AND database = current_database()`);
      await db.query(`SELECT pg_terminate_backend($1)`, [slot!.active_pid]);
      for (let i = 0; ; i++) {
        try {
          await db.query(`SELECT pg_drop_replication_slot($1)`, [slot!.slot_name]);
          return;
        } catch (err) {
          // 55006: the walsender is still exiting.
          if ((err as { code?: string }).code !== '55006' || i > 50) throw err;
          await sleep(5);
        }
      }
    }
    const ghost = (table: string) => helpersOf(dialect, table).ghost;

    /** The copy is held: the ghost's row count does not move for a while, and it is incomplete. */
    async function expectHeld(table: string, live: LiveMigration): Promise<void> {
      await until('ghost table exists', () => exists(ghost(table)));
      await sleep(200); // a chunk already running when the throttle began may finish
      const rows1 = await count(ghost(table));
      const copied1 = live.progress.rowsCopied;
      await sleep(800);
      expect(await count(ghost(table))).toBe(rows1);
      expect(live.progress.rowsCopied).toBe(copied1);
      expect(rows1).toBeLessThan(ROWS);
    }

    async function expectDone(report: AlterReport, table: string, rows = ROWS): Promise<void> {
      expect(report.error).toBeUndefined();
      expect(report.status).toBe('done');
      expect(await count(table)).toBe(rows);
      expect(Number(await db.value(`SELECT COUNT(*) FROM ${table} WHERE note IS NULL`))).toBe(rows);
      expect(Number(await db.value(`SELECT SUM(id) FROM ${table} WHERE id <= ${ROWS}`))).toBe((ROWS * (ROWS + 1)) / 2);
      expect(await exists(ghost(table))).toBe(false);
    }

    async function expectUntouched(report: AlterReport, table: string, code: string): Promise<void> {
      expect(report.status).toBe('failed');
      expect(report.error?.code).toBe(code);
      expect(await count(table)).toBe(ROWS);
      await expect(db.query(`SELECT note FROM ${table} LIMIT 1`)).rejects.toThrow();
      expect(await exists(ghost(table))).toBe(false);
    }

    it('throttle flag file holds the copy until removed', async () => {
      const table = await seed();
      const flag = join(dir, `${table}.throttle`);
      writeFileSync(flag, '');
      const live = makeLive();
      const run = runOnlineAlter(options(table, {}, { throttleFlagFile: flag }), { live });
      await until('throttled by the flag file', () => live.progress.state === 'throttled' && live.progress.throttleReason === `flag-file ${flag}`);
      await expectHeld(table, live);
      unlinkSync(flag);
      await expectDone(await run, table);
    });

    it('max-load throttles with the engine measurement; max-load= over the socket releases it', async () => {
      const table = await seed();
      const name = dialect === 'mysql' ? 'Threads_connected' : 'total_sessions';
      const live = makeLive();
      const o = options(table, {}, { maxLoad: { [name]: 1 } });
      live.settings.maxLoad = { [name]: 1 };
      const run = runOnlineAlter(o, { live });
      await until('throttled by max-load', () => live.progress.state === 'throttled' && /^max-load: /.test(live.progress.throttleReason ?? ''));
      expect(live.progress.throttleReason).toMatch(new RegExp(`^max-load: ${name}=\\d+ >= 1$`));
      await expectHeld(table, live);
      const status = await sendControlCommand(o.socketPath!, 'status', 5000);
      expect(status).toContain('state: throttled (max-load:');
      expect(await sendControlCommand(o.socketPath!, 'max-load=', 5000)).toBe('ok: max-load=');
      await expectDone(await run, table);
      expect(existsSync(o.socketPath!)).toBe(false);
    });

    it('throttle-query: a positive result holds the copy until it returns 0', async () => {
      const table = await seed();
      const ctl = `${table}_ctl`;
      await db.query(`CREATE TABLE ${ctl} (id int PRIMARY KEY, hold int NOT NULL)`);
      await db.query(`INSERT INTO ${ctl} (id, hold) VALUES (1, 2)`);
      const live = makeLive();
      const run = runOnlineAlter(options(table, {}, { throttleQuery: `SELECT hold FROM ${ctl} WHERE id = 1` }), { live });
      await until('throttled by the query', () => live.progress.throttleReason === 'throttle-query returned 2');
      await expectHeld(table, live);
      await db.query(`UPDATE ${ctl} SET hold = 0 WHERE id = 1`);
      await expectDone(await run, table);
    });

    it('critical-load aborts (E_CRITICAL_LOAD) and leaves the original untouched', async () => {
      const table = await seed();
      const name = dialect === 'mysql' ? 'Threads_connected' : 'total_sessions';
      const live = makeLive();
      live.settings.criticalLoad = { [name]: 1 };
      const report = await runOnlineAlter(options(table, {}, { criticalLoad: { [name]: 1 }, criticalLoadIntervalMs: 0 }), { live });
      await expectUntouched(report, table, 'E_CRITICAL_LOAD');
      expect(report.error?.message).toMatch(new RegExp(`critical-load: ${name}=\\d+ >= 1`));
    });

    it('panic flag file aborts (E_PANIC) while throttled; original untouched', async () => {
      const table = await seed();
      const panic = join(dir, `${table}.panic`);
      const live = makeLive();
      live.settings.forcedThrottle = true;
      const run = runOnlineAlter(options(table, {}, { panicFlagFile: panic }), { live });
      await until('throttled by command', () => live.progress.throttleReason === 'commanded');
      writeFileSync(panic, '');
      await expectUntouched(await run, table, 'E_PANIC');
    });

    it('postponed cut-over keeps applying changes; `cut-over` over the socket swaps', async () => {
      const table = await seed();
      const flag = join(dir, `${table}.postpone`);
      writeFileSync(flag, '');
      const live = makeLive();
      const o = options(table, { postponeCutOverFlagFile: flag });
      const run = runOnlineAlter(o, { live });
      await until('postponed', () => live.progress.state === 'postponed');
      // Writes during the postponement must reach the new table.
      if (dialect === 'mysql') {
        await db.query(`INSERT INTO ${table} (id, v) VALUES (?, ?), (?, ?)`, [ROWS + 1, 'new1', ROWS + 2, 'new2']);
        await db.query(`UPDATE ${table} SET v = 'changed' WHERE id = 7`);
        await db.query(`DELETE FROM ${table} WHERE id = 8`);
      } else {
        await db.query(`INSERT INTO ${table} (id, v) VALUES ($1, $2), ($3, $4)`, [ROWS + 1, 'new1', ROWS + 2, 'new2']);
        await db.query(`UPDATE ${table} SET v = 'changed' WHERE id = 7`);
        await db.query(`DELETE FROM ${table} WHERE id = 8`);
      }
      await sleep(500);
      expect(live.progress.state).toBe('postponed');
      expect(await sendControlCommand(o.socketPath!, 'status', 5000)).toContain('state: postponed');
      // The flag file postpones, not the command: status says so (issue #14: it said postpone-cut-over=false).
      expect(await sendControlCommand(o.socketPath!, 'status', 5000)).toContain(`postpone-cut-over=true (postpone flag file ${flag})`);
      expect(await sendControlCommand(o.socketPath!, 'cut-over', 5000)).toMatch(/^ok/);
      const report = await run;
      expect(report.status).toBe('done');
      expect(existsSync(flag)).toBe(true);
      expect(await count(table)).toBe(ROWS + 1);
      expect(await db.value(`SELECT v FROM ${table} WHERE id = 7`)).toBe('changed');
      expect(await db.value(`SELECT v FROM ${table} WHERE id = ${ROWS + 2}`)).toBe('new2');
      expect(await db.value(`SELECT COUNT(*) FROM ${table} WHERE id = 8`)).toSatisfy((v) => Number(v) === 0);
      expect(await exists(ghost(table))).toBe(false);
    });

    it('panic flag file during a postponed cut-over aborts; original untouched', async () => {
      const table = await seed();
      const postpone = join(dir, `${table}.postpone`);
      const panic = join(dir, `${table}.panic`);
      writeFileSync(postpone, '');
      const live = makeLive();
      const run = runOnlineAlter(options(table, { postponeCutOverFlagFile: postpone }, { panicFlagFile: panic }), { live });
      await until('postponed', () => live.progress.state === 'postponed');
      writeFileSync(panic, '');
      const report = await Promise.race([run, sleep(10_000).then(() => null)]);
      if (!report) {
        live.settings.panic = true; // unblock the run so the file can finish
        await run;
      }
      expect(report, 'the panic flag file was not obeyed while postponed').not.toBeNull();
      await expectUntouched(report!, table, 'E_PANIC');
    });

    it('a stream that dies during a postponed cut-over ends the run at once, not when the flag goes', async () => {
      const table = await seed();
      const postpone = join(dir, `${table}.postpone`);
      writeFileSync(postpone, '');
      const live = makeLive();
      const run = runOnlineAlter(options(table, { postponeCutOverFlagFile: postpone }), { live });
      await until('postponed', () => live.progress.state === 'postponed');
      // MySQL: DDL on the table is fatal to the binlog stream. PostgreSQL: the
      // walsender is killed AND its slot dropped before the stream reconnects
      // (a killed walsender alone is survived: the stream reopens the slot).
      if (dialect === 'mysql') await db.query(`ALTER TABLE ${table} ADD COLUMN other INT NULL`);
      else await killStreamAndSlot();
      const report = await Promise.race([run, sleep(10_000).then(() => null)]);
      if (!report) {
        live.settings.panic = true;
        await run;
      }
      expect(report, 'the dead stream was not noticed while postponed').not.toBeNull();
      await expectUntouched(report!, table, dialect === 'mysql' ? 'E_DDL_DURING_ALTER' : 'E_STREAM');
    });

    it('critical-load reached during a postponed cut-over aborts (gh-ost checks it in every phase)', async () => {
      const table = await seed();
      const postpone = join(dir, `${table}.postpone`);
      writeFileSync(postpone, '');
      const name = dialect === 'mysql' ? 'Threads_connected' : 'total_sessions';
      const live = makeLive();
      const run = runOnlineAlter(options(table, { postponeCutOverFlagFile: postpone }), { live });
      await until('postponed', () => live.progress.state === 'postponed');
      expect(await sendControlCommand(join(dir, `${table}.sock`), `critical-load=${name}=1`, 5000)).toMatch(/^ok/);
      const report = await Promise.race([run, sleep(10_000).then(() => null)]);
      if (!report) {
        live.settings.panic = true;
        await run;
      }
      expect(report, 'critical-load was not checked while postponed').not.toBeNull();
      await expectUntouched(report!, table, 'E_CRITICAL_LOAD');
    });

    it('hooks run with gh-ost env and no password; a failing on-before-cut-over postpones until it passes', async () => {
      const table = await seed();
      const hooks = join(dir, `${table}-hooks`);
      mkdirSync(hooks);
      const allow = join(hooks, 'allow');
      const hook = (name: string, extra = '') => {
        const file = join(hooks, name);
        writeFileSync(file, `#!/bin/sh\nenv > "${hooks}/${name}.env"\n${extra}\n`);
        chmodSync(file, 0o755);
      };
      for (const h of ['on-startup', 'on-validated', 'on-begin-copy', 'on-throttled', 'on-success', 'on-failure']) hook(h);
      hook('on-before-cut-over', `test -e "${allow}"`);
      const saved = { MYSQL_PWD: process.env.MYSQL_PWD, PGPASSWORD: process.env.PGPASSWORD };
      process.env.MYSQL_PWD = 'env-secret-marker';
      process.env.PGPASSWORD = 'env-secret-marker';
      const live = makeLive();
      live.settings.forcedThrottle = true;
      try {
        // No replica watched: a standby whose lag reads 'unknown' for a moment
        // (PostgreSQL 17's file-copied standby) would throttle again later and
        // overwrite on-throttled.env with another reason.
        const run = runOnlineAlter(options(table, { hooksPath: hooks, replicaDiscovery: false }), { live });
        await until('on-throttled ran', () => existsSync(join(hooks, 'on-throttled.env')));
        live.settings.forcedThrottle = false;
        await until('postponed by the hook', () => live.progress.state === 'postponed', 60_000);
        expect(existsSync(join(hooks, 'on-before-cut-over.env'))).toBe(true);
        await sleep(300);
        expect(live.progress.state).toBe('postponed');
        writeFileSync(allow, '');
        const report = await run;
        await expectDone(report, table);
      } finally {
        for (const [k, v] of Object.entries(saved)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }
      const password = new URL(url).password;
      expect(readFileSync(join(hooks, 'on-throttled.env'), 'utf8')).toMatch(/^GH_OST_THROTTLE_REASON=commanded$/m);
      for (const h of ['on-startup', 'on-validated', 'on-begin-copy', 'on-throttled', 'on-before-cut-over', 'on-success']) {
        const text = readFileSync(join(hooks, `${h}.env`), 'utf8');
        expect(text, h).not.toContain('secret-marker');
        if (password) expect(text, h).not.toContain(`:${password}@`);
        expect(text, h).not.toMatch(/^(MYSQL_PWD|PGPASSWORD)=/m);
        expect(text, h).toContain(`GH_OST_TABLE_NAME=${table}`);
        expect(text, h).toContain(`GHOSTWRIGHT_TABLE_NAME=${table}`);
        expect(text, h).toContain(`GH_OST_DATABASE_NAME=${databaseOf(url)}`);
        expect(text, h).toContain(`GH_OST_DDL=${addColumn}`);
        expect(text, h).toContain(`GH_OST_GHOST_TABLE_NAME=${ghost(table)}`);
        expect(text, h).toContain(`GH_OST_HOOK=${h}`);
      }
      const success = readFileSync(join(hooks, 'on-success.env'), 'utf8');
      expect(success).toMatch(new RegExp(`^GH_OST_COPIED_ROWS=${ROWS}$`, 'm'));
      expect(success).toMatch(/^GH_OST_PROGRESS=100$/m);
      expect(existsSync(join(hooks, 'on-failure.env'))).toBe(false);
    });

    /** The replica / standby replays CREATE DATABASE and the seed asynchronously. */
    async function replicaWithTable(replicaUrl: string, table: string): Promise<TestSql> {
      let conn: TestSql | null = null;
      const end = Date.now() + 30_000;
      for (;;) {
        try {
          conn ??= await sql(replicaUrl);
          if (Number(await conn.value(`SELECT COUNT(*) FROM ${table}`)) === ROWS) return conn;
        } catch {
          // not replayed yet
        }
        if (Date.now() > end) throw new Error(`replica never showed ${table}`);
        await sleep(50);
      }
    }

    const hasReplica = dialect === 'mysql' ? hasMysqlReplica : hasPgStandby;
    it.skipIf(!hasReplica())('replica lag over max-lag-millis throttles the copy until the replica catches up', async () => {
      const replicaBase = dialect === 'mysql' ? mysqlReplicaUrl() : pgStandbyUrl();
      const replicaUrl = withDatabase(replicaBase, databaseOf(url));
      const table = await seed();
      const replica = await replicaWithTable(replicaUrl, table);
      const live = makeLive();
      live.settings.forcedThrottle = true;
      live.settings.maxLagMs = 500;
      const run = runOnlineAlter(options(table, { replicas: [replicaUrl] }, { maxLagMs: 500 }), { live });
      let paused = false;
      try {
        // Let the heartbeat reach the replica first, so the lag is measured, not unknown.
        await until('replica lag measured and small', () => Object.values(live.progress.replicaLagMs).some((v) => v !== null && v < 500), 30_000);
        await replica.query(dialect === 'mysql' ? 'STOP SLAVE SQL_THREAD' : 'SELECT pg_wal_replay_pause()');
        paused = true;
        const pausedAt = Date.now();
        await until('replica lag above 500 ms', () => Object.values(live.progress.replicaLagMs).some((v) => v !== null && v > 500), 10_000);
        // Expected: 500 ms of real lag + up to one heartbeat (100 ms) + up to one throttler poll (100 ms).
        const seenAfter = Date.now() - pausedAt;
        console.log(`[throttle reaction] ${dialect}: replica paused -> throttler saw lag > 500 ms after ${seenAfter} ms`);
        expect(seenAfter).toBeLessThan(2000);
        live.settings.forcedThrottle = false;
        await until('throttled by lag', () => /^lag: replica .+ \d+ms > 500ms$/.test(live.progress.throttleReason ?? ''));
        expect(live.progress.state).toBe('throttled');
        await expectHeld(table, live);
        await replica.query(dialect === 'mysql' ? 'START SLAVE SQL_THREAD' : 'SELECT pg_wal_replay_resume()');
        paused = false;
        await expectDone(await run, table);
      } finally {
        if (paused) await replica.query(dialect === 'mysql' ? 'START SLAVE SQL_THREAD' : 'SELECT pg_wal_replay_resume()').catch(() => undefined);
        live.settings.panic = true; // make sure a failed assertion doesn't leave the migration running
        await run.catch(() => undefined);
        await replica.end();
      }
    });
  });
});
