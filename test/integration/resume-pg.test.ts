/**
 * `alter --resume` on PostgreSQL, through the built CLI, under a concurrent
 * write load mirrored in the same transactions: the CLI is killed with
 * SIGKILL in each phase (copy, catch-up, postponed cut-over, cut-over waiting
 * for its lock), writes go on while it is dead, and `--resume` must end with
 * the new table equal to the mirror row for row. Also: a resume refused for a
 * changed --alter, a plain rerun refused on the checkpoint, a resume refused
 * for a dropped slot, and the walsender terminated mid-run with no write lost.
 * (A server restart mid-copy: resume-pg-restart.test.ts, on a private server.)
 */
import { existsSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasPostgres } from '../helpers/servers.js';
import { openPgDatabase, type PgDatabase } from '../helpers/pg-fixture.js';
import { diffDigests, rowDigests } from '../helpers/pg-load.js';
import { background, COLS, copying, createPair, expectFinished, readCheckpoint, runToEnd, startLoad, waitUntil, type Background } from '../helpers/pg-resume.js';

const N = 20_000;
const ALTER = 'ADD COLUMN extra int NOT NULL DEFAULT 7';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Each case runs the CLI two to four times under load: minutes on a loaded 2-core machine.
describe.skipIf(!hasPostgres())('PostgreSQL: kill -9 of the CLI in each phase, then --resume, under a write load', { timeout: 400_000 }, () => {
  let url: string;
  let db: pg.Client;
  let database: PgDatabase | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'gw-resume-pg-'));

  beforeAll(async () => {
    database = await openPgDatabase('resume_pg');
    ({ url, db } = database);
  });
  afterAll(async () => {
    await database?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const args = (table: string, extra: string[] = [], alter = ALTER): string[] => [
    'alter', '--url', url, '--table', table, '--alter', alter, '--execute', '--json', '--progress', 'none',
    '--chunk-size', '200', '--chunk-time', '20', '--max-share', '40', '--threads', '2',
    '--checkpoint-interval-millis', '300', '--cut-over-lock-timeout', '5', '--replica', 'none', ...extra,
  ];

  /**
   * Starts the run under load, lets `killAt` decide when to SIGKILL it, keeps
   * writing while it is dead, then resumes it (after `beforeResume`) and
   * checks the result. Returns the phase of the checkpoint the kill left.
   */
  async function killThenResume(table: string, o: { extra?: string[]; killAt: (run: Background) => Promise<void>; beforeResume?: () => Promise<void> }): Promise<string> {
    await createPair(db, table, N);
    const load = startLoad(url, table, N, N);
    try {
      const run = background(args(table, o.extra));
      await o.killAt(run);
      await run.kill9();
      const phase = (await readCheckpoint(db, table))?.phase ?? 'none';
      await sleep(500); // writes while the tool is dead
      await o.beforeResume?.();
      const resumed = await runToEnd(args(table, [...(o.extra ?? []), '--resume']));
      expect(resumed.code, resumed.out).toBe(0);
      expect(resumed.report?.status, resumed.out).toBe('done');
      return phase;
    } finally {
      await sleep(200);
      await load.stop();
      expect(load.stats.commits).toBeGreaterThan(20);
      await expectFinished(db, table);
    }
  }

  it('copy: killed mid-copy; a changed --alter and a plain rerun are refused; --resume finishes', async () => {
    const phase = await killThenResume('k_copy', {
      // A twentieth of the time for the copy: at 40% the 20,000 rows were copied
      // (about 1.4 s for the whole run) before a checkpoint with progress was seen,
      // and the copy got faster since (chunk ends by key arithmetic).
      extra: ['--max-share', '5'],
      killAt: (run) => waitUntil('a checkpoint mid-copy', async () => copying(await readCheckpoint(db, 'k_copy')), run),
      beforeResume: async () => {
        const other = await runToEnd(args('k_copy', ['--resume'], 'ADD COLUMN extra int NOT NULL DEFAULT 8'));
        expect(other.code, other.out).toBe(2);
        expect(other.report?.error?.code, other.out).toBe('E_CHECKPOINT_MISMATCH');
        const plain = await runToEnd(args('k_copy'));
        expect(plain.code, plain.out).toBe(2);
        expect(plain.report?.error?.code, plain.out).toBe('E_CHECKPOINT_EXISTS');
        expect(plain.report?.error?.hint, plain.out).toMatch(/--resume.*ghostwright cleanup/s);
      },
    });
    expect(phase).toBe('copying');
  });

  it('catch-up: killed after the copy, before the cut-over; --resume finishes', async () => {
    const phase = await killThenResume('k_catch', {
      killAt: (run) => waitUntil('the catching-up checkpoint', async () => (await readCheckpoint(db, 'k_catch'))?.phase === 'catching-up', run),
    });
    expect(phase).toBe('catching-up');
  });

  it('postponed cut-over: killed while postponed; --resume finishes once the flag is gone', async () => {
    const flag = join(dir, 'postpone');
    writeFileSync(flag, '');
    const phase = await killThenResume('k_post', {
      extra: ['--postpone-cut-over-flag-file', flag],
      killAt: (run) => waitUntil('the postponed checkpoint', async () => (await readCheckpoint(db, 'k_post'))?.phase === 'postponed', run),
      beforeResume: async () => unlinkSync(flag),
    });
    expect(phase).toBe('postponed');
  });

  it('cut-over: killed while the cut-over waits for its lock; --resume finishes', async () => {
    const flag = join(dir, 'postpone-cut');
    writeFileSync(flag, '');
    // An open transaction that wrote to the table: the cut-over's ACCESS EXCLUSIVE waits behind it.
    const blocker = new pg.Client({ connectionString: url });
    await blocker.connect();
    try {
      const phase = await killThenResume('k_cut', {
        extra: ['--postpone-cut-over-flag-file', flag],
        killAt: async (run) => {
          await waitUntil('the postponed checkpoint', async () => (await readCheckpoint(db, 'k_cut'))?.phase === 'postponed', run);
          await blocker.query('BEGIN');
          await blocker.query(`LOCK TABLE k_cut IN ROW EXCLUSIVE MODE`);
          unlinkSync(flag);
          await waitUntil(
            'the cut-over waiting for its lock',
            async () => (await db.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'LOCK TABLE%k_cut%ACCESS EXCLUSIVE%'`)).rows.length > 0,
            run,
          );
        },
        beforeResume: async () => {
          await blocker.query('COMMIT');
        },
      });
      expect(phase).toBe('cutting-over');
    } finally {
      await blocker.end().catch(() => undefined);
      if (existsSync(flag)) unlinkSync(flag);
    }
  });

  it('a dropped slot: --resume is refused (exit 2, with cleanup), cleanup removes the run, the original is untouched', async () => {
    // Held by a throttle flag from the start: without load the whole run now
    // ends (1.4 s) before a checkpoint with copy progress could be seen. The
    // copy phase's own checkpoint is enough here: the slot is what matters.
    await createPair(db, 'k_slot', N);
    const hold = join(dir, 'k_slot.throttle');
    writeFileSync(hold, '');
    const run = background(args('k_slot', ['--throttle-flag-file', hold]));
    await waitUntil('a checkpoint in the copy phase', async () => (await readCheckpoint(db, 'k_slot'))?.phase === 'copying', run);
    await run.kill9();
    unlinkSync(hold);
    await waitUntil('the slot released', async () => (await db.query(`SELECT 1 FROM pg_replication_slots WHERE database = current_database() AND active`)).rows.length === 0, null, 15_000);
    await db.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database() AND slot_name LIKE 'ghostwright%'`);
    const resumed = await runToEnd(args('k_slot', ['--resume']));
    expect(resumed.code, resumed.out).toBe(2);
    expect(resumed.report?.error?.code, resumed.out).toBe('E_RESUME_STREAM_GONE');
    expect(resumed.report?.error?.message, resumed.out).toMatch(/slot .* was dropped/);
    expect(resumed.report?.error?.hint, resumed.out).toContain('ghostwright cleanup');
    // Refused: nothing changed, the ghost and changelog are still there for cleanup.
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname IN ('_k_slot_gho', '_k_slot_ghc')`)).rows[0].n).toBe(2);
    const cleaned = await runToEnd(['cleanup', '--url', url, '--table', 'k_slot', '--execute', '--json']);
    expect(cleaned.code, cleaned.out).toBe(0);
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname IN ('_k_slot_gho', '_k_slot_ghc')`)).rows[0].n).toBe(0);
    expect(diffDigests(await rowDigests(db, 'k_slot', 'id', COLS), await rowDigests(db, 'k_slot_mirror', 'id', COLS))).toEqual([]);
  });

  it('the walsender terminated three times mid-run: the stream reconnects by itself, no write is lost', async () => {
    await createPair(db, 'k_wal', N);
    const load = startLoad(url, 'k_wal', N, N);
    let killed = 0;
    // The run is held twice so that it outlives the three kills (it would
    // otherwise end in about 2 s): the copy waits on a throttle flag until the
    // first kill, the cut-over on a postpone flag until the third; the load
    // writes on throughout, so the stream has changes to carry across each.
    const throttle = join(dir, 'k_wal.throttle');
    const postpone = join(dir, 'k_wal.postpone');
    writeFileSync(throttle, '');
    writeFileSync(postpone, '');
    try {
      const run = background(args('k_wal', ['--throttle-flag-file', throttle, '--postpone-cut-over-flag-file', postpone]));
      // The walsender streaming the slot (not the backend still creating it: that one is a plain session).
      const walsender = `FROM pg_replication_slots s JOIN pg_stat_activity a ON a.pid = s.active_pid WHERE s.database = current_database() AND a.backend_type = 'walsender'`;
      while (killed < 3) {
        await waitUntil('a walsender streaming the slot', async () => (await db.query(`SELECT 1 ${walsender}`)).rows.length > 0, run);
        const r = await db.query(`SELECT pg_terminate_backend(s.active_pid) AS t ${walsender}`);
        if (r.rows[0]?.t === true) killed++;
        if (killed === 1 && existsSync(throttle)) unlinkSync(throttle);
        await sleep(700);
      }
      unlinkSync(postpone);
      const code = await run.exited;
      expect(code, run.output()).toBe(0);
    } finally {
      await load.stop();
    }
    expect(killed).toBe(3);
    await expectFinished(db, 'k_wal');
  });
});
