/**
 * A key the PostgreSQL copy skipped, killed before it was applied.
 *
 * The copy skips a row whose unique value a stale ghost row still holds (the
 * change that frees it is queued) and hands its key to the applier, in
 * memory: no commit of the stream stands for it. If a checkpoint is written
 * while it waits, past that chunk and with the stream acknowledged past the
 * change, a kill -9 loses the row: the resumed copy starts after the chunk,
 * the slot never sends the change again. Only verification would see it;
 * this test runs --no-verify and compares with the old table.
 *
 * Made deterministic with row locks on the ghost: X1 holds ghost row Z (the
 * applier waits there while A and B queue up, so they go as one batch), X2
 * holds ghost row A (B of that batch is left to the copy, A waits), the
 * chunk of B skips B, Y holds key B in the ghost (the applier's write of B
 * waits), X2 ends (the change is acknowledged), checkpoints are due, kill -9.
 * Before the fix the checkpoint said 'catching-up', copy done: row B lost.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasPostgres } from '../helpers/servers.js';
import { openPgDatabase, type PgDatabase } from '../helpers/pg-fixture.js';
import { diffDigests, rowDigests } from '../helpers/pg-load.js';
import { background, runToEnd, waitUntil } from '../helpers/pg-resume.js';

const N = 20_000;
const Z = 1;
const A = 2;
const B = N;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!hasPostgres())('postgres: a key the copy skipped survives a kill -9', { timeout: 60_000 }, () => {
  let url: string;
  let db: pg.Client;
  let database: PgDatabase | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'gw-resume-skip-'));

  beforeAll(async () => {
    database = await openPgDatabase('resume_skip');
    ({ url, db } = database);
  });
  afterAll(async () => {
    await database?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the skipped key is not vouched for by a checkpoint before it is applied', async () => {
    const t = 'k_skip';
    const ghost = `_${t}_gho`;
    await db.query(`CREATE TABLE ${t} (id int PRIMARY KEY, email text NOT NULL UNIQUE)`);
    await db.query(`INSERT INTO ${t} SELECT g, 'e' || g FROM generate_series(1, ${N}) g`);
    const flag = join(dir, 'throttle');
    const [x1, x2, y] = [0, 1, 2].map(() => new pg.Client({ connectionString: url }));
    for (const c of [x1!, x2!, y!]) await c.connect();
    const pidOf = async (c: pg.Client): Promise<number> => (await c.query('SELECT pg_backend_pid() AS p')).rows[0].p;
    // The applier's session waits on `holder`'s lock.
    const applierBlockedBy = async (holder: pg.Client): Promise<boolean> =>
      (await db.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'ghostwright' AND $1 = ANY(pg_blocking_pids(pid))`, [await pidOf(holder)])).rows.length > 0;
    const args = (extra: string[]) => [
      'alter', '--url', url, '--table', t, '--alter', 'ADD COLUMN extra int NOT NULL DEFAULT 7', '--execute', '--json', '--progress', 'none',
      // --max-share 10: the throttle flag, written once Z and A are copied, is seen long before the copy reaches B.
      '--chunk-size', '100', '--threads', '1', '--max-share', '10', '--checkpoint-interval-millis', '100', '--replica', 'none',
      // The copy skips a key only while the ghost has its unique index: built during the copy here.
      '--no-defer-indexes', ...extra,
    ];
    try {
      const run = background(args(['--throttle-flag-file', flag]));
      await waitUntil('rows Z and A copied', async () => (await db.query(`SELECT 1 FROM ${ghost} WHERE id IN ($1, $2)`, [Z, A]).catch(() => ({ rows: [] }))).rows.length === 2, run, 30_000);
      writeFileSync(flag, '');
      // 1. The applier busy with Z (X1 holds ghost row Z), so that A and B queue up behind it and go as ONE batch.
      await x1!.query('BEGIN');
      await x1!.query(`SELECT 1 FROM ${ghost} WHERE id = $1 FOR UPDATE`, [Z]);
      await x2!.query('BEGIN');
      await x2!.query(`SELECT 1 FROM ${ghost} WHERE id = $1 FOR UPDATE`, [A]);
      await db.query(`UPDATE ${t} SET email = 'z' WHERE id = ${Z}`);
      await waitUntil('the applier waiting on ghost row Z', () => applierBlockedBy(x1!), run, 20_000);
      // 2. A gives its value to B (not copied: B is left to the copy); the ghost's A keeps it until A is applied.
      await db.query(`BEGIN; UPDATE ${t} SET email = 'tmp' WHERE id = ${A}; UPDATE ${t} SET email = 'e${A}' WHERE id = ${B}; UPDATE ${t} SET email = 'e${B}' WHERE id = ${A}; COMMIT`);
      await sleep(300);
      await x1!.query('ROLLBACK');
      await waitUntil('the applier waiting on ghost row A', () => applierBlockedBy(x2!), run, 20_000);
      // 3. The copy reaches B: its value is still the ghost's A's, so B is skipped and queued in memory.
      rmSync(flag);
      await waitUntil('the copy done but for B', async () => (await db.query(`SELECT count(*)::int AS n FROM ${ghost}`)).rows[0].n >= N - 1, run, 40_000);
      expect((await db.query(`SELECT 1 FROM ${ghost} WHERE id = $1`, [B])).rows).toEqual([]);
      // 4. Y holds key B in the ghost, then A goes through: T is applied but for B, which waits on Y.
      await y!.query('BEGIN');
      await y!.query(`INSERT INTO ${ghost} (id, email) VALUES ($1, 'held by the test')`, [B]);
      await x2!.query('ROLLBACK');
      await waitUntil('the applier waiting on ghost key B', () => applierBlockedBy(y!), run, 20_000);
      await sleep(600); // several checkpoint intervals
      await run.kill9();
      await y!.query('ROLLBACK');
      const cp = (await db.query(`SELECT state FROM _${t}_ghc WHERE id = 2`)).rows[0]?.state;
      console.log(`[resume-skip] killed -9 with B skipped and unapplied; checkpoint phase=${cp?.phase} ranges=${JSON.stringify(cp?.ranges)}`);
      const resumed = await runToEnd(args(['--resume', '--no-verify']), 50_000);
      expect(resumed.code, resumed.out).toBe(0);
    } finally {
      for (const c of [x1!, x2!, y!]) await c.end().catch(() => undefined);
    }
    const now = await rowDigests(db, t, 'id', ['id', 'email']);
    const old = await rowDigests(db, `_${t}_del`, 'id', ['id', 'email']);
    expect(diffDigests(old, now)).toEqual([]);
    expect(now.size).toBe(N);
  });
});
