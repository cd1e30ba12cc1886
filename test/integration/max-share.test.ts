/**
 * `--max-share` on a real server: after a chunk, a copy worker rests
 * chunk-time x (100 - P) / P, and a DBA raising the share (the socket's
 * `max-share=N` sets the same live setting) ends the rest at once.
 *
 * At 1% the first chunk's rest is 99x its busy time: the copy visibly holds
 * after one chunk; at 100% it finishes, every row right.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newLiveMigration } from '../../src/core/live.js';
import { runOnlineAlter } from '../../src/alter.js';
import { alterOptions } from '../../src/core/options.js';
import { formatProgressLine } from '../../src/cli/progress.js';
import { runCommand } from '../../src/control/commands.js';
import { dropDatabase, freshDatabase, sql, type TestSql } from '../helpers/servers.js';

const ROWS = 20_000;
const CHUNK = 4000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(['mysql', 'postgres'] as const)('--max-share: %s', (dialect) => {
  let url: string;
  let db: TestSql;
  let dir: string;
  beforeAll(async () => {
    url = await freshDatabase(dialect, 'gw_share');
    db = await sql(url);
    dir = mkdtempSync(join(tmpdir(), 'gw-share-'));
    if (dialect === 'mysql') {
      await db.query('CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(30) NOT NULL) ENGINE=InnoDB');
      for (let s = 1; s <= ROWS; s += 2000) {
        const ids = Array.from({ length: 2000 }, (_, i) => s + i);
        await db.query(`INSERT INTO t (id, v) VALUES ${ids.map(() => '(?, ?)').join(',')}`, ids.flatMap((id) => [id, `v${id}`]));
      }
    } else {
      await db.query('CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)');
      await db.query(`INSERT INTO t (id, v) SELECT g, 'v' || g FROM generate_series(1, $1::int) g`, [ROWS]);
      await db.query('ANALYZE t');
    }
  });
  afterAll(async () => {
    await db?.end();
    if (url) await dropDatabase(url);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('at 1% the copy rests after a chunk; raising the share live lets it finish with every row', async () => {
    const live = newLiveMigration({ chunkSize: CHUNK, maxLagMs: 1500, maxSharePercent: 1 });
    const run = runOnlineAlter(
      alterOptions({
        url, table: 't', alter: dialect === 'mysql' ? 'ADD COLUMN w INT NULL' : 'ADD COLUMN w int', execute: true, threads: 1, chunkSize: CHUNK,
        // A long target: the chunk size doesn't move, so one chunk is CHUNK rows.
        chunkTimeMs: 60_000, replicaDiscovery: false, socketPath: join(dir, `${dialect}.sock`),
      }),
      { live },
    );
    try {
      const end = Date.now() + 30_000;
      while (live.progress.rowsCopied === 0 && Date.now() < end) await sleep(5);
      const first = live.progress.rowsCopied;
      expect(first).toBe(CHUNK);
      expect(formatProgressLine(live)).toMatch(/copying \(share ≤1%\)$/);
      // One chunk of 4000 rows takes at least ~10 ms: a rest of at least ~1 s.
      await sleep(500);
      expect(live.progress.rowsCopied, 'no chunk while resting').toBe(first);
      // What the socket's `max-share=100` does.
      expect(runCommand('max-share=100', { live, status: () => ({}) }).answer).toBe('ok: max-share=100');
      const report = await run;
      expect(report.error).toBeUndefined();
      expect(report.status).toBe('done');
    } finally {
      live.settings.panic = true;
      await run.catch(() => undefined);
    }
    expect(Number(await db.value('SELECT COUNT(*) FROM t'))).toBe(ROWS);
    const concat = dialect === 'mysql' ? `CONCAT('v', id)` : `'v' || id`;
    expect(Number(await db.value(`SELECT COUNT(*) FROM t WHERE v = ${concat} AND w IS NULL`))).toBe(ROWS);
  });
});
