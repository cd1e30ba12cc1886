/**
 * Two resume cases on MySQL/MariaDB that resume-mysql.test.ts does not reach:
 * - kill -9 right after the cut-over's RENAME committed, before any cleanup
 *   (the test-only kill point GHOSTWRIGHT_TEST_KILL_AT=after-swap): a plain
 *   rerun says the swap is done and how to finish, `--resume` only cleans up
 *   (the new table is the same table afterwards), and the table equals the
 *   load's mirror;
 * - the trim on resume: the ghost holds chunks copied after the last
 *   checkpoint; their rows change in the original while the tool is dead.
 *   Without the trim, the resumed copy's INSERT IGNORE keeps the stale ghost
 *   rows (and deleted ones): --no-verify, so verification cannot mend it.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLoad } from '../helpers/mysql-load.js';
import { cli } from '../helpers/cli.js';
import { dropDatabase, freshDatabase, hasMysql, helpersOf, sql, type TestSql } from '../helpers/servers.js';
import { tempDir } from '../helpers/tmp.js';
import { alterArgs, createLoadTables, expectMirrored, helperTables, kill9, readCheckpoint, report, startCli, waitForCheckpoint } from '../helpers/resume-mysql.js';

describe.skipIf(!hasMysql())('mysql: resume after a committed swap, and the trim of unvouched chunks', () => {
  let url: string;
  let db: TestSql;
  const dir = tempDir('gw-resume-gaps-');

  beforeAll(async () => {
    url = await freshDatabase('mysql', 'resume_gaps');
    db = await sql(url);
  });

  afterAll(async () => {
    await db?.end();
    if (url) await dropDatabase(url);
    rmSync(dir, { recursive: true, force: true });
  });

  const tableId = async (table: string): Promise<string | undefined> =>
    db.value<string>(`SELECT TABLE_ID FROM information_schema.INNODB_SYS_TABLES WHERE NAME = CONCAT(DATABASE(), '/', ?)`, [table]);

  it('killed -9 right after the swap committed: a rerun says so, --resume only cleans up', async () => {
    const table = 'k_swap';
    const ids = await createLoadTables(db, url, table, 3000);
    const load = startLoad({ url, table, mirror: `${table}_mirror`, workers: 2, existing: ids, pauseMs: 3 });
    try {
      const first = startCli(alterArgs(url, table, ['--chunk-size', '500']), { GHOSTWRIGHT_TEST_KILL_AT: 'after-swap' });
      const killed = await first.done;
      expect(first.child.signalCode, killed.stdout + killed.stderr).toBe('SIGKILL');
      const cp = await readCheckpoint(db, table);
      expect(cp?.phase).toBe('cutting-over');
      // Swapped: the ghost is the table now, the old one is _t_del; the changelog is left.
      expect(await helperTables(db, table)).toEqual([helpersOf('mysql', table).changelog]);
      expect(Number(await db.value(`SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`, [helpersOf('mysql', table).old]))).toBe(1);
      const id = await tableId(table);
      console.log(`[resume-gaps ${table}] killed -9 after the swap; checkpoint phase=${cp?.phase} rows=${cp?.rowsCopied}`);

      const plain = await cli(alterArgs(url, table));
      expect(plain.code, plain.stdout + plain.stderr).toBe(2);
      const err = report(plain).error as { code: string; message: string; hint: string };
      expect(err.code).toBe('E_CHECKPOINT_EXISTS');
      expect(err.message).toContain('already swapped the tables');
      expect(err.hint).toContain('--resume');
      expect(err.hint).toContain('ghostwright cleanup');

      const resumed = await cli(alterArgs(url, table, ['--resume']));
      expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
      expect(report(resumed).status).toBe('done');
      expect(await helperTables(db, table)).toEqual([]);
      expect(await tableId(table)).toBe(id);
    } finally {
      const stats = await load.stop();
      console.log(`[resume-gaps ${table}] load: ${JSON.stringify(stats)}`);
      expect(stats.committed).toBeGreaterThan(20);
    }
    await expectMirrored(db, url, table);
  }, 60_000);

  it('rows copied after the last checkpoint and changed while the tool was dead are copied again on --resume', async () => {
    const table = 'k_trim';
    await createLoadTables(db, url, table, 6000);
    const ghost = helpersOf('mysql', table).ghost;
    // One range; the only checkpoint is the first one (through = null): every ghost row is unvouched.
    const first = startCli(alterArgs(url, table, ['--chunk-size', '100', '--chunk-time', '1', '--max-share', '40', '--threads', '1', '--checkpoint-interval-millis', '600000']));
    await waitForCheckpoint(db, table, first, (c) => c.phase === 'copying');
    for (;;) {
      const n = Number(await db.value(`SELECT COUNT(*) FROM \`${ghost}\``).catch(() => 0));
      if (n >= 1000) break;
      if (first.child.exitCode !== null) throw new Error(`the run ended before the kill: ${(await first.done).stdout}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await kill9(first);
    const cp = await readCheckpoint(db, table);
    expect(cp?.ranges).toHaveLength(1);
    expect(cp?.ranges[0]?.through).toBeNull();
    const copied = (await db.query<{ id: string }>(`SELECT id FROM \`${ghost}\` ORDER BY id`)).map((r) => String(r.id));
    console.log(`[resume-gaps ${table}] killed -9 with ${copied.length} ghost rows beyond the checkpoint`);
    expect(copied.length).toBeGreaterThanOrEqual(1000);
    // While the tool is dead: change and delete rows it had copied (original and mirror alike).
    const changed = copied.filter((_, i) => i % 3 === 0);
    const gone = copied.filter((_, i) => i % 3 === 1);
    for (const t of [table, `${table}_mirror`]) {
      await db.query(`UPDATE \`${t}\` SET i = i + 1000, txt = 'changed while dead' WHERE id IN (${changed.join(',')})`);
      await db.query(`DELETE FROM \`${t}\` WHERE id IN (${gone.join(',')})`);
    }
    // The resumed copy waits (throttled) while the stream replays those changes: they are left
    // to the copy (their keys are ahead of it), which must not find the stale rows in the ghost.
    const flag = join(dir, 'throttle');
    writeFileSync(flag, '');
    const second = startCli(alterArgs(url, table, ['--resume', '--no-verify', '--throttle-flag-file', flag]));
    await new Promise((r) => setTimeout(r, 2500));
    rmSync(flag);
    const resumed = await second.done;
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expect(report(resumed).status).toBe('done');
    await expectMirrored(db, url, table);
    expect(await helperTables(db, table)).toEqual([]);
  }, 60_000);
});
