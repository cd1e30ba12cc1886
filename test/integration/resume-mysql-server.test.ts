/**
 * The server goes away under a running `alter` (MySQL/MariaDB), on a server
 * of this file's own (it is restarted and crashed here):
 * - mysqld crashes (SIGKILL) mid-copy and comes back: the run reconnects by
 *   itself (binlog stream, copy, apply) and ends equal to the load's mirror;
 * - the binlog dump thread is KILLed mid-copy: the stream resumes, no write lost;
 * - the tool is killed -9 and the server restarted (a new binlog file), then
 *   `--resume` finishes the run.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMysql, type MysqlSandbox } from '../../src/sandbox/index.js';
import { startLoad, type LoadHandle } from '../helpers/mysql-load.js';
import { cli } from '../helpers/cli.js';
import { sql, type TestSql } from '../helpers/servers.js';
import { tempDir } from '../helpers/tmp.js';
import { alterArgs, createLoadTables, expectMirrored, helperTables, kill9, report, startCli, waitForCheckpoint } from '../helpers/resume-mysql.js';

const SLOW_COPY = ['--chunk-size', '100', '--chunk-time', '1', '--max-share', '40', '--threads', '2'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('mysql: the server goes away under a running alter', () => {
  let server: MysqlSandbox;
  let url: string;
  let db: TestSql;
  const dir = tempDir('gw-srv-');

  beforeAll(async () => {
    server = await startMysql({ dir: join(dir, 'mysql') });
    url = server.url;
    db = await sql(url);
  }, 120_000);

  afterAll(async () => {
    await db?.end().catch(() => undefined);
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The ids the load may touch now: what the mirror holds. */
  async function ids(table: string): Promise<bigint[]> {
    return (await db.query<{ id: string }>(`SELECT CAST(id AS CHAR) AS id FROM \`${table}_mirror\``)).map((r) => BigInt(r.id));
  }

  async function restart(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    await db.end().catch(() => undefined);
    await server.restartPrimary({ signal, downMs: 1000 });
    db = await sql(url);
  }

  it('mysqld crashes mid-copy and comes back: the run reconnects and goes on', async () => {
    const table = 's_crash';
    let load: LoadHandle = startLoad({ url, table, mirror: `${table}_mirror`, workers: 2, existing: await createLoadTables(db, url, table, 4000), pauseMs: 3 });
    const run = startCli(alterArgs(url, table, SLOW_COPY));
    await waitForCheckpoint(db, table, run, (cp) => cp.rowsCopied >= 600);
    // The load stops first: a transaction cut by the crash could not be told committed or not.
    await load.stop();
    await restart('SIGKILL');
    load = startLoad({ url, table, mirror: `${table}_mirror`, workers: 2, existing: await ids(table), pauseMs: 3, seed: 11, generation: 1 });
    const r = await run.done;
    await load.stop();
    console.log(`[server crash] run exit ${r.code}; ${r.stderr.split('\n').filter((l) => /lost|resum/i.test(l)).length} reconnect lines`);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(report(r).status).toBe('done');
    await expectMirrored(db, url, table);
    expect(await helperTables(db, table)).toEqual([]);
  }, 240_000);

  it('the binlog dump thread is KILLed mid-copy: the stream resumes, no write lost', async () => {
    const table = 's_dump';
    const before = new Set((await db.query<{ Id: number; Command: string }>('SHOW PROCESSLIST')).filter((p) => /binlog dump/i.test(p.Command)).map((p) => p.Id));
    const load = startLoad({ url, table, mirror: `${table}_mirror`, workers: 2, existing: await createLoadTables(db, url, table, 4000), pauseMs: 3 });
    let r;
    try {
      const run = startCli(alterArgs(url, table, SLOW_COPY));
      await waitForCheckpoint(db, table, run, (cp) => cp.rowsCopied >= 600);
      const dumps = (await db.query<{ Id: number; Command: string }>('SHOW PROCESSLIST')).filter((p) => /binlog dump/i.test(p.Command) && !before.has(p.Id));
      expect(dumps.length).toBeGreaterThan(0);
      for (const d of dumps) await db.query(`KILL CONNECTION ${Number(d.Id)}`);
      r = await run.done;
    } finally {
      await load.stop();
    }
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await expectMirrored(db, url, table);
  }, 240_000);

  it('kill -9 of the tool and a server restart (new binlog file), then --resume', async () => {
    const table = 's_restart';
    let load: LoadHandle = startLoad({ url, table, mirror: `${table}_mirror`, workers: 2, existing: await createLoadTables(db, url, table, 4000), pauseMs: 3 });
    const run = startCli(alterArgs(url, table, SLOW_COPY));
    await waitForCheckpoint(db, table, run, (cp) => cp.rowsCopied >= 600);
    await kill9(run);
    await sleep(200);
    await load.stop();
    await restart('SIGTERM');
    load = startLoad({ url, table, mirror: `${table}_mirror`, workers: 2, existing: await ids(table), pauseMs: 3, seed: 13, generation: 1 });
    let resumed;
    try {
      resumed = await cli(alterArgs(url, table, ['--resume']));
    } finally {
      await load.stop();
    }
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expect((report(resumed).resumed as { phase: string }).phase).toBe('copying');
    await expectMirrored(db, url, table);
    expect(await helperTables(db, table)).toEqual([]);
  }, 240_000);
});
