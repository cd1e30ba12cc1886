/**
 * PostgreSQL resume cases resume-pg.test.ts does not reach, through the built
 * CLI:
 * - kill -9 right after the cut-over's transaction committed, before any
 *   cleanup (the test-only kill point GHOSTWRIGHT_TEST_KILL_AT=after-swap),
 *   under a write load: a plain rerun says the swap is done and how to
 *   finish; `--resume` drops the slot, publication, origins and changelog and
 *   leaves the new table as it is (same OID); the table equals the mirror;
 * - the trim on resume: the ghost holds chunks copied after the last
 *   checkpoint, whose rows change while the tool is dead. Without the trim
 *   the resumed copy's ON CONFLICT DO NOTHING keeps the stale ghost rows
 *   (--no-verify, so verification cannot mend them).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasPostgres } from '../helpers/servers.js';
import { openPgDatabase, type PgDatabase } from '../helpers/pg-fixture.js';
import { background, createPair, expectFinished, readCheckpoint, runToEnd, startLoad, waitUntil } from '../helpers/pg-resume.js';

const ALTER = 'ADD COLUMN extra int NOT NULL DEFAULT 7';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!hasPostgres())('postgres: resume after a committed swap, and the trim of unvouched chunks', { timeout: 60_000 }, () => {
  let url: string;
  let db: pg.Client;
  let database: PgDatabase | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'gw-resume-gaps-'));

  beforeAll(async () => {
    database = await openPgDatabase('resume_gaps');
    ({ url, db } = database);
  });
  afterAll(async () => {
    await database?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const args = (table: string, extra: string[] = []): string[] => [
    'alter', '--url', url, '--table', table, '--alter', ALTER, '--execute', '--json', '--progress', 'none',
    '--chunk-size', '200', '--chunk-time', '20', '--cut-over-lock-timeout', '5', '--replica', 'none', ...extra,
  ];
  const oid = async (table: string): Promise<number> => (await db.query(`SELECT $1::regclass::oid::int AS o`, [table])).rows[0].o;

  it('killed -9 right after the swap committed: a rerun says so, --resume only cleans up', async () => {
    const table = 'k_swap';
    await createPair(db, table, 5000);
    const load = startLoad(url, table, 5000, 5000);
    try {
      const run = background(args(table, ['--checkpoint-interval-millis', '300']), { GHOSTWRIGHT_TEST_KILL_AT: 'after-swap' });
      const code = await run.exited;
      expect(run.child.signalCode, run.output()).toBe('SIGKILL');
      expect(code).toBeNull();
      expect((await readCheckpoint(db, table))?.phase).toBe('cutting-over');
      // Swapped: the ghost is the table, the original is _t_del; changelog, slot and publication are left.
      expect((await db.query(`SELECT relname FROM pg_class WHERE relname IN ($1, $2, $3) ORDER BY 1`, [`_${table}_gho`, `_${table}_ghc`, `_${table}_del`])).rows.map((r) => r.relname)).toEqual([`_${table}_del`, `_${table}_ghc`]);
      expect((await db.query(`SELECT count(*)::int AS n FROM pg_replication_slots WHERE database = current_database() AND slot_name LIKE 'ghostwright%'`)).rows[0].n).toBe(1);
      const before = await oid(table);

      const plain = await runToEnd(args(table));
      expect(plain.code, plain.out).toBe(2);
      expect(plain.report?.error?.code, plain.out).toBe('E_CHECKPOINT_EXISTS');
      expect(plain.report?.error?.message, plain.out).toContain('already swapped the tables');
      expect(plain.report?.error?.hint, plain.out).toMatch(/--resume.*ghostwright cleanup/s);

      const resumed = await runToEnd(args(table, ['--resume']));
      expect(resumed.code, resumed.out).toBe(0);
      expect(resumed.report?.status, resumed.out).toBe('done');
      expect(await oid(table)).toBe(before);
    } finally {
      await sleep(200);
      await load.stop();
    }
    expect(load.stats.commits).toBeGreaterThan(20);
    await expectFinished(db, table);
  });

  it('rows copied after the last checkpoint and changed while the tool was dead are copied again on --resume', async () => {
    const table = 'k_trim';
    await createPair(db, table, 20_000);
    const ghost = `_${table}_gho`;
    // One range; the only checkpoint is the first one (through = null): every ghost row is unvouched.
    // --max-share 5: the copy (chunk ends by key arithmetic: ~0.1 s of work) lasts past the kill.
    const run = background(args(table, ['--threads', '1', '--max-share', '5', '--checkpoint-interval-millis', '600000']));
    await waitUntil('the first checkpoint', async () => (await readCheckpoint(db, table))?.phase === 'copying', run);
    await waitUntil('1000 rows in the ghost', async () => (await db.query(`SELECT count(*)::int AS n FROM ${ghost}`)).rows[0].n >= 1000, run);
    await run.kill9();
    const cp = await readCheckpoint(db, table);
    expect(cp?.ranges).toHaveLength(1);
    expect(cp?.ranges[0]?.through).toBeNull();
    // The dead run's last INSERT may still be finishing: wait until no session writes the ghost.
    await waitUntil('the killed run gone', async () => (await db.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'ghostwright%'`)).rows.length === 0, null, 15_000);
    const copied = (await db.query(`SELECT id FROM ${ghost} ORDER BY id`)).rows.map((r) => Number(r.id));
    console.log(`[resume-gaps ${table}] killed -9 with ${copied.length} ghost rows beyond the checkpoint`);
    expect(copied.length).toBeGreaterThanOrEqual(1000);
    // While the tool is dead: change and delete rows it had copied (original and mirror alike).
    const changed = copied.filter((_, i) => i % 3 === 0);
    const gone = copied.filter((_, i) => i % 3 === 1);
    for (const t of [table, `${table}_mirror`]) {
      await db.query(`UPDATE ${t} SET qty = qty + 1000, note = 'changed while dead' WHERE id = ANY($1::bigint[])`, [changed]);
      await db.query(`DELETE FROM ${t} WHERE id = ANY($1::bigint[])`, [gone]);
    }
    // The resumed copy waits (throttled) while the stream replays those changes: they are left
    // to the copy (their keys are ahead of it), which must not find the stale rows in the ghost.
    const flag = join(dir, 'throttle');
    writeFileSync(flag, '');
    const second = background(args(table, ['--resume', '--no-verify', '--throttle-flag-file', flag]));
    await sleep(2500);
    rmSync(flag);
    const code = await second.exited;
    expect(code, second.output()).toBe(0);
    await expectFinished(db, table);
  });
});
