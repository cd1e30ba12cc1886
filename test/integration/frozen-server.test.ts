/**
 * A server that stops answering (frozen, unreachable), seen through a
 * proxy that stops forwarding (test/helpers/freeze-proxy.ts):
 * - while an online ALTER runs, the status says `server not responding for
 *   N s` within seconds (README), not replica lag; after the thaw the run
 *   finishes and the new table holds every row;
 * - a run that starts against the frozen server fails with E_UNREACHABLE
 *   (exit 3: nothing changed, a retry may help) and creates nothing.
 */
import { existsSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOnlineAlter } from '../../src/alter.js';
import { newLiveMigration } from '../../src/core/live.js';
import { alterOptions } from '../../src/core/options.js';
import { createLogger, silentLogger } from '../../src/log.js';
import { FreezeProxy } from '../helpers/freeze-proxy.js';
import { dropDatabase, freshDatabase, hasMysql, hasPostgres, sql, type TestDialect, type TestSql } from '../helpers/servers.js';
import { tempDir } from '../helpers/tmp.js';

const log = process.env.GW_LOG === '1' ? createLogger({ level: 'debug' }) : silentLogger;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const N = 3000;

/** A fresh database holding the table `setup` creates, reached directly (`url`) and through a proxy that can freeze (`proxied`). */
interface Frozen {
  url: string;
  db: TestSql;
  proxy: FreezeProxy;
  proxied: string;
}

async function openFrozen(dialect: TestDialect, setup: string[]): Promise<Frozen> {
  const url = await freshDatabase(dialect, 'frozen');
  const db = await sql(url);
  for (const statement of setup) await db.query(statement);
  const { proxy, url: proxied } = await FreezeProxy.start(url);
  return { url, db, proxy, proxied };
}

async function closeFrozen(f: Frozen | undefined): Promise<void> {
  if (!f) return;
  f.proxy.thaw();
  await f.proxy.close();
  await f.db.end();
  await dropDatabase(f.url);
}

describe.skipIf(!hasMysql())('MySQL: server not responding', () => {
  let url: string;
  let db: TestSql;
  let proxy: FreezeProxy;
  let proxied: string;
  let frozen: Frozen | undefined;
  const dir = tempDir('gw-frozen-');

  beforeAll(async () => {
    frozen = await openFrozen('mysql', [
      'CREATE TABLE items (id INT NOT NULL PRIMARY KEY, qty INT NOT NULL, note VARCHAR(20) NOT NULL)',
      `INSERT INTO items (id, qty, note) SELECT seq, seq % 97, CONCAT('n', seq) FROM seq_1_to_${N}`,
    ]);
    ({ url, db, proxy, proxied } = frozen);
  });
  afterAll(() => closeFrozen(frozen));

  const tables = async () => (await db.query<Record<string, string>>('SHOW TABLES')).map((r) => Object.values(r)[0]).sort();
  const digest = async (cols: string) => db.value<string>(`SELECT CONCAT(COUNT(*), ':', COALESCE(SUM(CRC32(CONCAT_WS('|', ${cols}))), 0)) FROM items`);

  it('during the copy: the status says so within seconds; after the thaw the run finishes with every row', async () => {
    const before = await digest('id, qty, note');
    const flag = join(dir, 'throttle');
    writeFileSync(flag, '');
    const live = newLiveMigration({ chunkSize: 500, maxLagMs: 1500 });
    const base = alterOptions({ url: proxied, table: 'items', alter: 'x' });
    const run = runOnlineAlter(alterOptions({ url: proxied, table: 'items', alter: 'ADD COLUMN extra INT NOT NULL DEFAULT 7', execute: true, chunkSize: 500, socketPath: join(dir, 'ctl.sock'), replicas: [], replicaDiscovery: false, throttle: { ...base.throttle, throttleFlagFile: flag } }), { live, log });
    let reported: string | null = null;
    try {
      const deadline = Date.now() + 60_000;
      while (live.progress.state !== 'throttled') {
        if (Date.now() > deadline) throw new Error(`never throttled: ${live.progress.state}`);
        await sleep(100);
      }
      proxy.freeze();
      const frozenAt = Date.now();
      while (Date.now() - frozenAt < 10_000 && reported === null) {
        await sleep(250);
        if (/server not responding for \d+ s/.test(live.progress.throttleReason ?? '')) reported = `${live.progress.throttleReason} after ${Date.now() - frozenAt} ms`;
      }
      proxy.thaw();
      unlinkSync(flag);
      const report = await run;
      expect(reported, 'status during the freeze').not.toBeNull();
      expect(report.error ?? null).toBeNull();
      expect(report.status).toBe('done');
    } finally {
      proxy.thaw();
      if (existsSync(flag)) unlinkSync(flag);
      await run.catch(() => undefined);
    }
    expect(await digest('id, qty, note')).toBe(before);
    expect(Number(await db.value('SELECT COUNT(*) FROM items WHERE extra <> 7'))).toBe(0);
    expect(await tables()).toEqual(['_items_del', 'items']);
  });

  it('at the start: E_UNREACHABLE (exit 3), nothing created, the table untouched', async () => {
    const before = await tables();
    const sum = await digest('id, qty, note, extra');
    proxy.freeze();
    try {
      const started = Date.now();
      const report = await runOnlineAlter(alterOptions({ url: proxied, table: 'items', alter: 'ADD COLUMN more INT NOT NULL DEFAULT 1', execute: true, socketPath: join(dir, 'ctl2.sock') }), { log });
      expect(report.status).toBe('unreachable');
      expect(report.error?.code).toBe('E_UNREACHABLE');
      // mysql2's connectTimeout (10 s) bounds the wait; a frozen server never answers the handshake.
      expect(Date.now() - started).toBeLessThan(60_000);
    } finally {
      proxy.thaw();
    }
    expect(await tables()).toEqual(before);
    expect(await digest('id, qty, note, extra')).toBe(sum);
  });
});

// The freeze during a run is covered on PostgreSQL by pg-stream-reconnect.test.ts (SIGSTOP of a private server).
describe.skipIf(!hasPostgres())('PostgreSQL: server not responding at the start', () => {
  let url: string;
  let db: TestSql;
  let proxy: FreezeProxy;
  let proxied: string;
  let frozen: Frozen | undefined;
  const dir = tempDir('gw-frozen-pg-');

  beforeAll(async () => {
    frozen = await openFrozen('postgres', ['CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL)', 'INSERT INTO items SELECT g, g % 97 FROM generate_series(1, 1000) g']);
    ({ url, db, proxy, proxied } = frozen);
  });
  afterAll(() => closeFrozen(frozen));

  it('E_UNREACHABLE (exit 3), no ghost, slot or publication, the table untouched', async () => {
    const sum = await db.value<string>(`SELECT count(*) || ':' || sum(hashtext(id || '|' || qty)) FROM items`);
    proxy.freeze();
    try {
      const report = await runOnlineAlter(alterOptions({ url: proxied, table: 'items', alter: 'ADD COLUMN more int NOT NULL DEFAULT 1', execute: true, socketPath: join(dir, 'ctl.sock') }), { log });
      expect(report.status).toBe('unreachable');
      expect(report.error?.code).toBe('E_UNREACHABLE');
    } finally {
      proxy.thaw();
    }
    expect((await db.query<{ n: string }>("SELECT tablename AS n FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).map((r) => r.n)).toEqual(['items']);
    expect(Number(await db.value("SELECT count(*) FROM pg_replication_slots WHERE database = current_database()"))).toBe(0);
    expect(Number(await db.value('SELECT count(*) FROM pg_publication'))).toBe(0);
    expect(await db.value<string>(`SELECT count(*) || ':' || sum(hashtext(id || '|' || qty)) FROM items`)).toBe(sum);
  });
});
