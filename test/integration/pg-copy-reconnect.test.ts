/**
 * A PostgreSQL run rides out the loss of its copy and apply sessions while
 * the server stays up: under a mirrored write load, the backends of the
 * copy's INSERT and of the applier's batch are ended with
 * pg_terminate_backend while they run; the chunk is trimmed and copied
 * again, the batch retried on a new session, and the run ends with the new
 * table equal to the mirror row for row. (The walsender's reconnect:
 * pg-stream-reconnect.test.ts; a server restart: resume-pg-restart.test.ts.)
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasPostgres } from '../helpers/servers.js';
import { openPgDatabase, type PgDatabase } from '../helpers/pg-fixture.js';
import { background, createPair, expectFinished, startLoad, waitUntil } from '../helpers/pg-resume.js';

const N = 30_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!hasPostgres())('postgres: copy and apply sessions terminated mid-run', { timeout: 60_000 }, () => {
  let url: string;
  let db: pg.Client;
  let database: PgDatabase | undefined;

  beforeAll(async () => {
    database = await openPgDatabase('copy_reconnect');
    ({ url, db } = database);
  });
  afterAll(async () => {
    await database?.close();
  });

  it('the chunk is copied again, the batch applied again, no write lost', async () => {
    const t = 'k_conn';
    await createPair(db, t, N);
    const load = startLoad(url, t, N, N);
    const ended = { copy: 0, apply: 0 };
    try {
      const run = background([
        'alter', '--url', url, '--table', t, '--alter', 'ADD COLUMN extra int NOT NULL DEFAULT 7', '--execute', '--json', '--progress', 'none',
        '--chunk-size', '300', '--threads', '2', '--max-share', '3', '--replica', 'none', '--log-level', 'warn',
      ]);
      // A copy session in its INSERT; an applier session writing the ghost (its batch's transaction).
      const copying = `SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'ghostwright_copy' AND state = 'active' AND query LIKE 'INSERT%' LIMIT 1`;
      const applying = `SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'ghostwright' AND state IN ('active', 'idle in transaction') AND query ~ '^(UPDATE|DELETE|INSERT INTO|BEGIN)' AND query LIKE '%_${t}_gho%' LIMIT 1`;
      while (ended.copy < 3 || ended.apply < 2) {
        if (run.child.exitCode !== null) break;
        if (ended.copy < 3 && (await db.query(copying)).rows[0]?.t === true) {
          ended.copy++;
          await sleep(150);
        }
        if (ended.apply < 2 && (await db.query(applying)).rows[0]?.t === true) ended.apply++;
        await sleep(5);
      }
      await waitUntil('the run to end', async () => run.child.exitCode !== null, run, 50_000).catch(() => undefined);
      const code = await run.exited;
      console.log(`[copy-reconnect] ended ${ended.copy} copy and ${ended.apply} apply sessions; exit ${code}`);
      expect(code, run.output()).toBe(0);
      expect(ended.copy, run.output()).toBe(3);
      expect(run.output()).toContain('copying the chunk again');
      expect(ended.apply, run.output()).toBeGreaterThanOrEqual(1);
      expect(run.output()).toContain('apply: connection lost; retrying the batch');
    } finally {
      await sleep(200);
      await load.stop();
    }
    expect(load.stats.commits).toBeGreaterThan(20);
    await expectFinished(db, t);
  });
});
