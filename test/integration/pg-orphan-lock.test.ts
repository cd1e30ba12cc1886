/**
 * kill -9 of the tool while its cut-over waits for ACCESS EXCLUSIVE behind a
 * long transaction. Writers queue behind that pending request; before, the
 * orphaned request stayed queued until lock_timeout or the blocker ended
 * (17.9 s seen), because a backend waiting on a lock does not read its
 * socket. With client_connection_check_interval the server drops it within
 * about a second. Runs the built CLI (npm run build first).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { openPgDatabase, type PgDatabase } from '../helpers/pg-fixture.js';

const BIN = fileURLToPath(new URL('../../bin/ghostwright', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let url: string;
let db: pg.Client;
let database: PgDatabase | undefined;

beforeAll(async () => {
  database = await openPgDatabase('pg_orphan');
  ({ url, db } = database);
});

afterAll(async () => {
  await database?.close();
});

describe('PostgreSQL: kill -9 while the cut-over waits for its lock', () => {
  it('client_connection_check_interval can be set by any user (PGC_USERSET)', async () => {
    expect((await db.query(`SELECT context FROM pg_settings WHERE name = 'client_connection_check_interval'`)).rows[0]).toEqual({ context: 'user' });
  });

  it('a writer queued behind the orphaned lock request is released within a few seconds', async () => {
    await db.query(`CREATE TABLE locked (id int PRIMARY KEY, v text); INSERT INTO locked SELECT g, 'v' FROM generate_series(1, 2000) g`);
    // The long transaction: ACCESS SHARE, no xid (the slot creation does not wait for it).
    const blocker = new pg.Client({ connectionString: url });
    await blocker.connect();
    await blocker.query(`BEGIN; SELECT count(*) FROM locked`);
    const child = spawn(process.execPath, [BIN, 'alter', '--url', url, '--table', 'locked', '--alter', 'ADD COLUMN w int', '--execute', '--cut-over-lock-timeout', '60', '--progress', 'none'], { stdio: 'ignore' });
    const writer = new pg.Client({ connectionString: url });
    await writer.connect();
    try {
      // The cut-over's request is queued (not granted) behind the blocker.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const r = await db.query(`SELECT count(*)::int AS n FROM pg_locks WHERE relation = 'locked'::regclass AND mode = 'AccessExclusiveLock' AND NOT granted`);
        if (r.rows[0].n > 0) break;
        if (Date.now() > deadline) throw new Error('the cut-over never waited for its lock');
        await sleep(50);
      }
      // A writer now queues behind the pending ACCESS EXCLUSIVE request.
      const write = writer.query(`UPDATE locked SET v = 'w' WHERE id = 1`);
      await sleep(300);
      child.kill('SIGKILL');
      const killedAt = Date.now();
      await write;
      const blockedAfterKill = Date.now() - killedAt;
      console.log(JSON.stringify({ blockedAfterKillMs: blockedAfterKill }));
      expect(blockedAfterKill).toBeLessThan(4000);
      // The blocker is still open: only the orphan's going released the writer.
      expect((await blocker.query(`SELECT 1 AS ok`)).rows[0]).toEqual({ ok: 1 });
    } finally {
      child.kill('SIGKILL');
      await blocker.query('ROLLBACK').catch(() => undefined);
      await blocker.end();
      await writer.end();
    }
    // The original is untouched apart from the write.
    expect((await db.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE v = 'w')::int AS w FROM locked`)).rows[0]).toEqual({ n: 2000, w: 1 });
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'locked'::regclass AND attname = 'w'`)).rows[0].n).toBe(0);
  });
});
