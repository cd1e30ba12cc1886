/**
 * `alter --resume` on MySQL/MariaDB: the CLI is killed with SIGKILL under a
 * concurrent write load in each phase (copy, catch-up, postponed cut-over,
 * cut-over), then resumed with the load still running; the new table must
 * equal the load's mirror row for row. Plus the refusals: a fresh run on a
 * table with a checkpoint, a changed --alter, a purged binlog.
 */
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLoad } from '../helpers/mysql-load.js';
import { cli } from '../helpers/cli.js';
import { dropDatabase, freshDatabase, hasMysql, helpersOf, sql, type TestSql } from '../helpers/servers.js';
import { tempDir } from '../helpers/tmp.js';
import { ALTER, alterArgs, type CliRun, createLoadTables, expectMirrored, helperTables, indexNames, kill9, readCheckpoint, report, startCli, waitForCheckpoint } from '../helpers/resume-mysql.js';

const SLOW_COPY = ['--chunk-size', '100', '--chunk-time', '1', '--max-share', '40', '--threads', '2'];

describe.skipIf(!hasMysql())('mysql: kill -9 and --resume', () => {
  let url: string;
  let db: TestSql;
  const dir = tempDir('gw-resume-');

  beforeAll(async () => {
    url = await freshDatabase('mysql', 'resume');
    db = await sql(url);
  });

  afterAll(async () => {
    await db?.end();
    if (url) await dropDatabase(url);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Kill at `when`, check the refusals a kill leaves, resume under the same load, compare with the mirror. */
  async function killAndResume(table: string, o: { extra?: string[]; when: (cp: { phase: string; rowsCopied: number }) => boolean; beforeKill?: (run: CliRun) => Promise<void>; beforeResume?: () => Promise<void>; afterKill?: () => Promise<void>; ghostKeysAtKill?: string[] }) {
    const ids = await createLoadTables(db, url, table, 4000);
    const load = startLoad({ url, table, mirror: `${table}_mirror`, workers: 2, existing: ids, pauseMs: 3 });
    try {
      const first = startCli(alterArgs(url, table, [...SLOW_COPY, ...(o.extra ?? [])]));
      const seen = await waitForCheckpoint(db, table, first, o.when);
      await o.beforeKill?.(first);
      await kill9(first);
      await o.afterKill?.();
      // Mid-copy the ghost lacks its secondary keys (built after the copy): the resume adds them.
      if (o.ghostKeysAtKill) expect(await indexNames(db, helpersOf('mysql', table).ghost)).toEqual(o.ghostKeysAtKill);
      const left = await readCheckpoint(db, table);
      console.log(`[resume ${table}] killed -9 at checkpoint phase=${seen.phase} rows=${seen.rowsCopied}; last written: phase=${left?.phase} rows=${left?.rowsCopied} at ${left?.streamPosition}`);
      expect(await helperTables(db, table)).toHaveLength(2);

      // Without --resume: refused, both ways out named, nothing touched.
      const fresh = await cli(alterArgs(url, table));
      expect(fresh.code).toBe(2);
      const err = report(fresh).error as { code: string; hint: string };
      expect(err.code).toBe('E_CHECKPOINT_EXISTS');
      expect(err.hint).toContain('--resume');
      expect(err.hint).toContain(`ghostwright cleanup --url <URL> --table ${await db.value('SELECT DATABASE()')}.${table} --execute`);
      expect(await helperTables(db, table)).toHaveLength(2);

      await o.beforeResume?.();
      const resumed = await cli(alterArgs(url, table, ['--resume', ...SLOW_COPY.slice(0, 4)]));
      const r = report(resumed);
      expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
      expect(r.status).toBe('done');
      expect((r.resumed as { phase: string }).phase).toBe(left?.phase);
    } finally {
      const stats = await load.stop();
      console.log(`[resume ${table}] load: ${JSON.stringify(stats)}`);
    }
    const n = await expectMirrored(db, url, table);
    expect(await helperTables(db, table)).toEqual([]);
    return n;
  }

  it('killed mid-copy', async () => {
    await killAndResume('k_copy', { when: (cp) => cp.phase === 'copying' && cp.rowsCopied >= 800, beforeKill: () => new Promise((r) => setTimeout(r, 150)), ghostKeysAtKill: ['PRIMARY'] });
  }, 180_000);

  it('killed in catch-up (right after the copy ended)', async () => {
    const flag = join(dir, 'postpone-catchup');
    writeFileSync(flag, '');
    await killAndResume('k_catch', {
      extra: ['--postpone-cut-over-flag-file', flag],
      when: (cp) => cp.phase === 'catching-up',
      beforeResume: async () => rmSync(flag, { force: true }),
    });
  }, 180_000);

  it('killed while the cut-over is postponed', async () => {
    const flag = join(dir, 'postpone');
    writeFileSync(flag, '');
    await killAndResume('k_post', {
      extra: ['--postpone-cut-over-flag-file', flag],
      when: (cp) => cp.phase === 'postponed',
      beforeResume: async () => rmSync(flag, { force: true }),
    });
  }, 180_000);

  it('killed during the cut-over (waiting for its table lock)', async () => {
    // A transaction that has read the table holds its metadata lock: the cut-over's
    // LOCK TABLES ... WRITE waits on it, and the kill lands inside the cut-over.
    const flag = join(dir, 'postpone-cut');
    writeFileSync(flag, '');
    const holder = await sql(url);
    try {
      await killAndResume('k_cut', {
        extra: ['--postpone-cut-over-flag-file', flag, '--cut-over-lock-timeout', '30'],
        when: (cp) => cp.phase === 'postponed',
        beforeKill: async (run) => {
          await holder.query('START TRANSACTION');
          await holder.query('SELECT COUNT(*) FROM `k_cut` WHERE id = 2');
          rmSync(flag, { force: true });
          await waitForCheckpoint(db, 'k_cut', run, (cp) => cp.phase === 'cutting-over');
          await new Promise((r) => setTimeout(r, 300));
        },
        afterKill: () => holder.query('ROLLBACK').then(() => undefined),
      });
    } finally {
      await holder.end();
    }
  }, 180_000);

  it('refuses --resume with a changed --alter, and a resume whose binlog was purged', async () => {
    const table = 'k_refuse';
    await createLoadTables(db, url, table, 3000);
    const first = startCli(alterArgs(url, table, SLOW_COPY));
    await waitForCheckpoint(db, table, first, (cp) => cp.rowsCopied >= 300);
    await kill9(first);

    const changed = await cli(['alter', '--url', url, '--table', table, '--alter', 'ADD COLUMN other INT', '--execute', '--json', '--resume', '--replica', 'none']);
    expect(changed.code).toBe(2);
    const e1 = report(changed).error as { code: string; hint: string; message: string };
    expect(e1.code).toBe('E_CHECKPOINT_MISMATCH');
    expect(e1.message).toContain(ALTER);
    expect(e1.hint).toContain('cleanup');
    expect(await helperTables(db, table)).toHaveLength(2);

    // The binlog the checkpoint points into is purged: the stream cannot restart.
    // A dump thread still reading the file (the killed run's, until the server notices) keeps it: retry.
    const from = (await readCheckpoint(db, table))!.streamPosition.split(':')[0]!;
    await db.query('FLUSH BINARY LOGS');
    const current = (await db.query<{ File: string }>('SHOW MASTER STATUS'))[0]!.File;
    for (let i = 0; ; i++) {
      await db.query(`PURGE BINARY LOGS TO '${current}'`).catch(() => undefined);
      const logs = (await db.query<{ Log_name: string }>('SHOW BINARY LOGS')).map((l) => l.Log_name);
      if (!logs.includes(from)) break;
      if (i > 100) throw new Error(`${from} could not be purged: ${logs.join(', ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const purged = await cli(alterArgs(url, table, ['--resume']));
    expect(purged.code).toBe(2);
    const e2 = report(purged).error as { code: string; hint: string };
    expect(e2.code).toBe('E_RESUME_STREAM_GONE');
    expect(e2.hint).toContain('ghostwright cleanup');
    expect(await helperTables(db, table)).toHaveLength(2);

    const cleaned = await cli(['cleanup', '--url', url, '--table', table, '--execute']);
    expect(cleaned.code).toBe(0);
    expect(await helperTables(db, table)).toEqual([]);
  }, 120_000);
});
