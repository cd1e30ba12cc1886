/**
 * A PostgreSQL server restart in the middle of the copy, with the CLI
 * running: the run fails on the lost server (its next chunk can't connect),
 * keeps its ghost, changelog, checkpoint and persistent slot, and says to
 * resume; `--resume` on the restarted server ends with the new table equal,
 * row for row, to the mirror of every write committed before and after.
 * A private server (a restart of the shared one would stall other files).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresSandbox } from '../../src/sandbox/index.js';
import { hasPostgres } from '../helpers/servers.js';
import { background, copying, createPair, expectFinished, readCheckpoint, runToEnd, startLoad, waitUntil } from '../helpers/pg-resume.js';

const N = 100_000;

describe.skipIf(!hasPostgres())('PostgreSQL: server restart mid-copy, then --resume', { timeout: 400_000 }, () => {
  let sandbox: PostgresSandbox | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'gw-resume-restart-'));

  beforeAll(async () => {
    sandbox = await startPostgres({ dir, pgVersion: process.env.GHOSTWRIGHT_TEST_PG_VERSION || undefined });
  });
  afterAll(async () => {
    await sandbox?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['fast shutdown', 'r_fast', false, false],
    ['crash (immediate shutdown)', 'r_crash', true, false],
    // The copy held by a throttle flag: every session idle, the stream
    // quiet. The fast shutdown's walsender exits only once the client has
    // confirmed all it sent (the shutdown checkpoint included): a run that
    // answered keepalives with its last applied commit only held the stop
    // until the server's 30 s timeout.
    ['fast shutdown while the copy is held (the stream idle)', 'r_idle', false, true],
  ])('%s: the run keeps its state and --resume finishes it', async (_name, table, immediate, hold) => {
    const url = sandbox!.url;
    const holdFlag = join(dir, `${table}.throttle`);
    if (hold) writeFileSync(holdFlag, '');
    const args = ['alter', '--url', url, '--table', table, '--alter', 'ADD COLUMN extra int NOT NULL DEFAULT 7', '--execute', '--json', '--progress', 'none', '--chunk-size', '200', '--chunk-time', '20', '--max-share', '10', '--threads', '2', '--checkpoint-interval-millis', '300', '--replica', 'none'];
    // --max-share 10: the copy lasts ~2 s, so the restart lands inside it (at 40 the copy, with its
    // chunk ends by key arithmetic, was over before the restart once).
    let db = new pg.Client({ connectionString: url });
    await db.connect();
    const rows = hold ? N / 10 : N;
    await createPair(db, table, rows);
    let load = startLoad(url, table, rows, rows);
    const run = background(hold ? [...args, '--throttle-flag-file', holdFlag] : args);
    try {
      if (hold) {
        await waitUntil('the run to hold its copy', async () => (await readCheckpoint(db, table))?.phase === 'copying', run);
        await new Promise((r) => setTimeout(r, 1500));
      } else await waitUntil('a checkpoint mid-copy', async () => copying(await readCheckpoint(db, table)), run);
      await load.stop();
      await db.end();
      if (hold) await new Promise((r) => setTimeout(r, 1000));
      const stopping = Date.now();
      await sandbox!.restartPrimary({ immediate, downMs: hold ? 0 : 3000 });
      if (hold) {
        // The stop itself, not the boot: well under the sandbox's 30 s stop timeout.
        expect(Date.now() - stopping, run.output()).toBeLessThan(12_000);
        rmSync(holdFlag, { force: true });
      }
      const code = await run.exited;
      const report = JSON.parse(run.stdout()) as { status: string; error?: { hint?: string }; verify?: { recopiedChunks: number } };
      db = new pg.Client({ connectionString: url });
      await db.connect();
      if (code === 0) {
        // Its sessions were idle when the server went down, and the stream
        // reconnected: the run rode the restart out. Every chunk it counted
        // must have survived it (its sessions commit synchronously), so the
        // verification finds nothing to copy again.
        expect(report.status, run.output()).toBe('done');
        expect(report.verify?.recopiedChunks, run.output()).toBe(0);
      } else {
        expect(report.error?.hint, run.output()).toContain('--resume');
        expect((await readCheckpoint(db, table))?.phase).toBe('copying');
        const max = Number((await db.query(`SELECT max(id) AS m FROM ${table}_mirror`)).rows[0].m);
        load = startLoad(url, table, max + 1000, max);
        const resumed = await runToEnd([...args, '--resume']);
        expect(resumed.code, resumed.out).toBe(0);
        expect(resumed.report?.status, resumed.out).toBe('done');
      }
    } finally {
      if (run.child.exitCode === null) await run.kill9();
      await load.stop();
    }
    await expectFinished(db, table);
    await db.end();
  });
});
