/**
 * `alter --revert` on real servers: a forward ALTER under a write load, then
 * its revert under the same load, ending with the OLD shape equal, row for
 * row, to the mirror the load wrote in the same transactions (so every write
 * made to the new table since the cut-over is in it); and the refusals, each
 * leaving both tables as they were.
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOnlineAlter, runRevert } from '../../src/alter.js';
import { alterOptions, type AlterOptions } from '../../src/core/options.js';
import type { AlterReport } from '../../src/core/report.js';
import { parseConnectionUrl } from '../../src/connection.js';
import { createMysqlEngine } from '../../src/engine/mysql/index.js';
import { createLogger, silentLogger } from '../../src/log.js';
import { cli } from '../helpers/cli.js';
import { expectDone, expectRefused } from '../helpers/reports.js';
import { diffSignatures, fidelityTable, rowSignatures, seedRows, startLoad } from '../helpers/mysql-load.js';
import { dropDatabase, freshDatabase, sql, type TestSql } from '../helpers/servers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function options(url: string, table: string, alter: string, extra: Partial<AlterOptions> = {}): AlterOptions {
  const socketPath = join(tmpdir(), `gw-rev-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
  // MySQL: the primary named as the only replica, so the sandbox replica's lag does not throttle these data cases.
  const replicas = url.startsWith('mysql') || url.startsWith('mariadb') ? [url] : [];
  return alterOptions({ url, table, alter, execute: true, chunkSize: 500, threads: 2, cutOverLockTimeoutMs: 2000, socketPath, replicas, ...extra });
}

const level = process.env.GHOSTWRIGHT_TEST_LOG as 'debug' | 'info' | undefined;
const deps = () => (level ? { log: createLogger({ level }) } : {});
const forward = (url: string, table: string, alter: string, extra: Partial<AlterOptions> = {}) => runOnlineAlter(options(url, table, alter, extra), deps());
const revert = (url: string, table: string, extra: Partial<AlterOptions> = {}) => runRevert(options(url, table, '', extra), deps());

describe('revert after cut-over on mysql', () => {
  let url: string;
  let db: TestSql;
  const columns = async (t: string) => (await db.query<{ n: string; t: string }>('SELECT COLUMN_NAME AS n, COLUMN_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION', [t])).map((c) => ({ name: c.n, type: c.t }));
  const comment = (t: string) => db.value<string>('SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [t]);
  const simple = async (t: string, extra = '') => {
    await db.query(`CREATE TABLE ${t} (id BIGINT NOT NULL PRIMARY KEY, v INT NOT NULL, s VARCHAR(60) NULL${extra})`);
    await db.query(`INSERT INTO ${t} (id, v, s${extra ? ', n' : ''}) VALUES (1, 1, 'a'${extra ? ', 7' : ''}), (2, 2, NULL${extra ? ', 8' : ''})`);
  };

  beforeAll(async () => {
    url = await freshDatabase('mysql', 'revert_my');
    db = await sql(url);
  });
  afterAll(async () => {
    await db?.end();
    if (url) await dropDatabase(url);
  });

  it('a revert under load, ending with the old shape holding every committed write', async () => {
    await db.query(`${fidelityTable('fid').replace(/CHARSET=utf8mb4$/, "CHARSET=utf8mb4 COMMENT='orders of the shop'")}; CREATE TABLE fid_mirror LIKE fid`);
    const original = await columns('fid');
    const ids = await seedRows(url, 'fid', 'fid_mirror', 4000);
    const load = startLoad({ url, table: 'fid', mirror: 'fid_mirror', workers: 2, existing: ids });
    let stats;
    let back: AlterReport;
    try {
      await sleep(200);
      const fwd = await forward(url, 'fid', "ADD COLUMN added VARCHAR(10) NOT NULL DEFAULT 'x', ADD INDEX idx_i (i)");
      expectDone(fwd);
      expect(fwd.oldTable).toBe('_fid_del');
      expect(await comment('_fid_del')).toMatch(/^\{"ghostwright-revert":1,/);
      // Writes land in the new table for a while before the revert.
      await sleep(1000);
      const dry = await revert(url, 'fid', { execute: false });
      expect(dry.status).toBe('dry-run');
      expect(dry.revert?.oldTable).toBe('_fid_del');
      expect(await columns('fid')).toContainEqual({ name: 'added', type: 'varchar(10)' });
      back = await revert(url, 'fid');
      // Writers blocked behind the swap land in the old shape: let them run a little more.
      await sleep(500);
    } finally {
      stats = await load.stop();
    }
    expectDone(back);
    console.log(`[mysql revert] ${back.eventsApplied} row changes applied since the cut-over; stall ${back.cutOverStallMs} ms; verify ${JSON.stringify(back.verify)}; load ${JSON.stringify(stats)}`);
    expect(stats.committed).toBeGreaterThan(50);
    expect(back.eventsApplied).toBeGreaterThan(0);
    expect(back.verify?.rows).toBeGreaterThan(3000);
    // Verification re-copies a differing chunk and so would hide a stream that missed writes: none may differ.
    expect(back.verify?.recopiedChunks).toBe(0);
    expect(back.oldTable).toBe('_fid_del');
    // The old shape is the table again, with its own comment; the new shape is kept, revertible in turn.
    expect(await columns('fid')).toEqual(original);
    expect(await comment('fid')).toBe('orders of the shop');
    expect((await columns('_fid_del')).map((c) => c.name)).toContain('added');
    expect(await comment('_fid_del')).toMatch(/^\{"ghostwright-revert":1,/);
    const expected = await rowSignatures(url, 'fid_mirror', original);
    const actual = await rowSignatures(url, 'fid', original);
    expect(expected.size).toBeGreaterThan(3000);
    expect(diffSignatures(expected, actual)).toEqual([]);
    expect((await db.query("SHOW TABLES LIKE 'fid\\_gho'")).length).toBe(0);
  });

  it('refuses a narrowed type, leaving both tables as they were', async () => {
    await simple('nar');
    expectDone(await forward(url, 'nar', 'MODIFY v BIGINT NOT NULL, MODIFY s VARCHAR(200) NULL'));
    const point = await comment('_nar_del');
    const r = await revert(url, 'nar');
    expectRefused(r, 'E_REVERT_SHAPE');
    expect(r.error?.message).toMatch(/v: narrowed type/);
    expect(r.error?.message).toMatch(/s: narrowed type/);
    // The CLI: exit 2, the code and the columns in the envelope.
    const run = await cli(['alter', '--url', url, '--table', 'nar', '--revert', '--execute', '--json']);
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toMatchObject({ command: 'alter', status: 'refused', error: { code: 'E_REVERT_SHAPE', details: { columns: ['v', 's'] } } });
    expect((await columns('nar')).find((c) => c.name === 'v')?.type).toMatch(/^bigint/);
    expect(await comment('_nar_del')).toBe(point);
  });

  it('refuses an old NOT NULL column without a default that the new shape dropped', async () => {
    await simple('nnd', ', n INT NOT NULL');
    expectDone(await forward(url, 'nnd', 'DROP COLUMN n'));
    const r = await revert(url, 'nnd');
    expectRefused(r, 'E_REVERT_SHAPE');
    expect(r.error?.message).toMatch(/n: NOT NULL without a default/);
  });

  it('refuses when the old table is gone', async () => {
    await simple('gone');
    expectDone(await forward(url, 'gone', 'ADD COLUMN c INT NULL', { dropOldTable: true }));
    expectRefused(await revert(url, 'gone'), 'E_REVERT_NO_OLD_TABLE');
  });

  it('refuses when the binlog since the cut-over is gone (the window passed)', async () => {
    await simple('win');
    expectDone(await forward(url, 'win', 'ADD COLUMN c INT NULL'));
    // As if the binlog file of the cut-over were purged (purging the shared test server's binlogs would hit other runs).
    const point = JSON.parse((await comment('_win_del'))!) as { from: { file: string } };
    point.from.file = 'purged-bin.000001';
    await db.query('ALTER TABLE _win_del COMMENT = ?', [JSON.stringify(point)]);
    const r = await revert(url, 'win');
    expectRefused(r, 'E_REVERT_WINDOW');
    expect(r.error?.message).toMatch(/purged-bin\.000001/);
    expect((await columns('win')).map((c) => c.name)).toEqual(['id', 'v', 's', 'c']);
  });

  it('a revert killed before its swap is found again: cleanup keeps the renamed old table, the next revert finishes it', async () => {
    await simple('intr');
    expectDone(await forward(url, 'intr', 'ADD COLUMN c INT NULL'));
    await db.query("INSERT INTO intr (id, v, s, c) VALUES (3, 3, 'after', 9); UPDATE intr SET v = 20 WHERE id = 2; DELETE FROM intr WHERE id = 1");
    // What a kill -9 between the revert's rename and its swap leaves: the old table under the ghost's name, its revert point on it.
    await db.query('RENAME TABLE _intr_del TO intr_gho');
    const engine = await createMysqlEngine(parseConnectionUrl(url), silentLogger);
    try {
      expect(await engine.leftovers(engine.tableRef('intr'))).toEqual([{ kind: 'old-table', name: 'intr_gho' }]);
    } finally {
      await engine.close();
    }
    expect((await revert(url, 'intr', { execute: false })).status).toBe('dry-run');
    expect((await db.query("SHOW TABLES LIKE 'intr\\_gho'")).length).toBe(1);
    expectDone(await revert(url, 'intr'));
    expect(await db.query('SELECT id, v, s FROM intr ORDER BY id')).toEqual([{ id: '2', v: 20, s: null }, { id: '3', v: 3, s: 'after' }]);
    expect((await columns('intr')).map((c) => c.name)).toEqual(['id', 'v', 's']);
    expect(await comment('intr')).toBe('');
    expect((await columns('_intr_del')).map((c) => c.name)).toEqual(['id', 'v', 's', 'c']);
  });
});

describe('revert after cut-over on postgres', () => {
  let url: string;
  let db: TestSql;
  beforeAll(async () => {
    url = await freshDatabase('postgres', 'revert_pg');
    db = await sql(url);
  });
  afterAll(async () => {
    await db?.end();
    if (url) await dropDatabase(url);
  });

  it('refuses without a revert window (no slot kept after the cut-over), leaving both tables as they were', async () => {
    await db.query('CREATE TABLE nowin (id bigint PRIMARY KEY, v int NOT NULL); INSERT INTO nowin VALUES (1, 1), (2, 2)');
    expectDone(await forward(url, 'nowin', 'ADD COLUMN c int'));
    const r = await revert(url, 'nowin');
    expectRefused(r, 'E_REVERT_NO_WINDOW');
    expect(r.error?.hint).toMatch(/--revert-window/);
    const cols = await db.query<{ n: string }>("SELECT attname AS n FROM pg_attribute WHERE attrelid = 'nowin'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum");
    expect(cols.map((c) => c.n)).toEqual(['id', 'v', 'c']);
    expect(Number(await db.value("SELECT count(*) FROM pg_class WHERE relname = '_nowin_del'"))).toBe(1);
  });
});
