/**
 * Verification before cut-over (issue #13 item 3), on both engines, under a
 * concurrent write load: a normal run verifies every row; a ghost row
 * corrupted after the copy (where the stream can't fix it) is found, copied
 * again and the run completes; a corruption that survives the second copy
 * refuses the cut-over with E_VERIFY, names the key, and leaves the original.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newLiveMigration } from '../../src/core/live.js';
import { runOnlineAlter } from '../../src/alter.js';
import { alterOptions } from '../../src/core/options.js';
import type { AlterReport } from '../../src/core/report.js';
import { dropDatabase, freshDatabase, helpersOf, sql, type TestDialect, type TestSql } from '../helpers/servers.js';

const ROWS = 3000;

describe.each(['mysql', 'postgres'] as const)('verification before cut-over: %s', (dialect: TestDialect) => {
  let url: string;
  let db: TestSql;
  let n = 0;
  const q = (name: string) => (dialect === 'mysql' ? `\`${name}\`` : `"${name}"`);
  const p = (i: number) => (dialect === 'mysql' ? '?' : `$${i}`);

  beforeAll(async () => {
    url = await freshDatabase(dialect, 'gw_verify');
    db = await sql(url);
  });
  afterAll(async () => {
    await db?.end();
    if (url) await dropDatabase(url);
  });

  /** Rows with keys `step`, 2*step, ... rows*step (none when rows is 0), v = 'v' || ordinal. */
  async function seed(rows = ROWS, step = 1, keyType = 'INT'): Promise<string> {
    const table = `vt${++n}`;
    await db.query(`CREATE TABLE ${table} (id ${keyType} NOT NULL PRIMARY KEY, v VARCHAR(40) NULL, n INT NOT NULL)`);
    if (rows === 0) return table;
    if (dialect === 'mysql') await db.query(`INSERT INTO ${table} SELECT seq * ${step}, CONCAT('v', seq), seq FROM seq_1_to_${rows}`);
    else await db.query(`INSERT INTO ${table} SELECT g * ${step}, 'v' || g, g FROM generate_series(1, ${rows}) g`);
    return table;
  }

  const alter = dialect === 'mysql' ? 'ADD COLUMN w INT NOT NULL DEFAULT 1, MODIFY n BIGINT NOT NULL' : 'ADD COLUMN w int NOT NULL DEFAULT 1, ALTER COLUMN n TYPE bigint';

  /** Writes to keys above 100 until the cut-over is postponed (or the run ends), then lets it go. */
  async function migrate(table: string, afterCopy?: () => Promise<void>, load = true): Promise<{ report: AlterReport; writes: number; verifyingSeen: boolean }> {
    const live = newLiveMigration({ chunkSize: 500, maxLagMs: 60_000, postponeCutOver: true }, { table, engine: dialect });
    const run = runOnlineAlter(alterOptions({ url, table, alter, execute: true, chunkSize: 500, cutOverLockTimeoutMs: 3000 }), { live, afterCopy });
    let ended = false;
    void run.finally(() => (ended = true));
    let verifyingSeen = false;
    const writer = await sql(url);
    let writes = 0;
    try {
      while (!ended && live.progress.state !== 'postponed') {
        if (live.progress.state === 'verifying') verifyingSeen = true;
        if (!load) {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        const id = 101 + ((writes * 7919) % (ROWS + 500));
        if (writes % 4 === 0) await writer.query(`DELETE FROM ${q(table)} WHERE id = ${p(1)}`, [id]);
        else if (dialect === 'mysql') await writer.query(`INSERT INTO ${q(table)} (id, v, n) VALUES (?, 'w', ?) ON DUPLICATE KEY UPDATE v = CONCAT(v, '+'), n = n + 1`, [id, id]);
        else await writer.query(`INSERT INTO ${q(table)} (id, v, n) VALUES ($1::int, 'w', $1::int) ON CONFLICT (id) DO UPDATE SET v = ${q(table)}.v || '+', n = ${q(table)}.n + 1`, [id]);
        writes++;
      }
    } finally {
      await writer.end();
    }
    live.settings.postponeCutOver = false;
    return { report: await run, writes, verifyingSeen };
  }

  async function differences(a: string, b: string): Promise<number> {
    const cols = 'id, v, n';
    const one = async (x: string, y: string) => Number(await db.value(`SELECT COUNT(*) FROM (SELECT ${cols} FROM ${q(x)} EXCEPT SELECT ${cols} FROM ${q(y)}) d`));
    return (await one(a, b)) + (await one(b, a));
  }

  it('a normal run under load verifies every row, reports it, and cuts over', async () => {
    const table = await seed();
    const { report, writes } = await migrate(table);
    expect(report.status, JSON.stringify(report.error)).toBe('done');
    expect(writes).toBeGreaterThan(20);
    expect(report.verify).toMatchObject({ recopiedChunks: 0, uncompared: [] });
    expect(report.verify!.rows).toBeGreaterThan(ROWS - 1000);
    expect(report.verify!.chunks).toBeGreaterThan(0);
    expect(report.verify!.lockMs).toBeLessThanOrEqual(3000 + 500);
    expect(await differences(table, helpersOf(dialect, table).old)).toBe(0);
  });

  it('a ghost row corrupted after the copy is found, copied again, and the run completes with it right', async () => {
    const table = await seed();
    const ghost = helpersOf(dialect, table).ghost;
    const { report } = await migrate(table, async () => {
      // Key 5 is never written by the load: no event will repair it.
      await db.query(`UPDATE ${q(ghost)} SET v = 'corrupt' WHERE id = 5`);
    });
    expect(report.status, JSON.stringify(report.error)).toBe('done');
    expect(report.verify!.recopiedChunks).toBe(1);
    expect(await db.value(`SELECT v FROM ${q(table)} WHERE id = 5`)).toBe('v5');
    expect(await differences(table, helpersOf(dialect, table).old)).toBe(0);
  });

  it('a ghost row above the original\'s last key (in no chunk of the original) is found and removed before the swap', async () => {
    const table = await seed();
    const ghost = helpersOf(dialect, table).ghost;
    const { report } = await migrate(table, async () => {
      // Far above every key the load writes: only the verification's tail check sees it.
      await db.query(`INSERT INTO ${q(ghost)} (id, v, n) VALUES (${p(1)}, 'stray', 1)`, [10_000_000]);
    });
    expect(report.status, JSON.stringify(report.error)).toBe('done');
    expect(report.verify!.recopiedChunks).toBe(1);
    expect(Number(await db.value(`SELECT COUNT(*) FROM ${q(table)} WHERE id = ${p(1)}`, [10_000_000]))).toBe(0);
    expect(await differences(table, helpersOf(dialect, table).old)).toBe(0);
  });

  it('a ghost row differing in a middle span of the key (40,000 rows) is found and copied again', async () => {
    const table = await seed(40_000);
    const ghost = helpersOf(dialect, table).ghost;
    const { report } = await migrate(table, async () => {
      // Far from the keys the load writes (101..3600): no event repairs it.
      await db.query(`UPDATE ${q(ghost)} SET v = 'corrupt' WHERE id = 25000`);
    });
    expect(report.status, JSON.stringify(report.error)).toBe('done');
    expect(report.verify!.chunks).toBeGreaterThan(1);
    expect(report.verify!.recopiedChunks).toBe(1);
    expect(await db.value(`SELECT v FROM ${q(table)} WHERE id = 25000`)).toBe('v25000');
    expect(await differences(table, helpersOf(dialect, table).old)).toBe(0);
  });

  it('a sparse key with an outlier at 2^40: a few spans, and a ghost-only row in the gap between them is found and removed', async () => {
    const table = await seed(ROWS, 1000, 'BIGINT');
    await db.query(`INSERT INTO ${q(table)} VALUES (${p(1)}, 'far', 1)`, [2 ** 40]);
    const ghost = helpersOf(dialect, table).ghost;
    const { report } = await migrate(table, async () => {
      await db.query(`INSERT INTO ${q(ghost)} (id, v, n) VALUES (${p(1)}, 'stray', 1)`, [2 ** 39]);
      // And one far below the original's first key.
      await db.query(`INSERT INTO ${q(ghost)} (id, v, n) VALUES (${p(1)}, 'stray', 1)`, [-(2 ** 41)]);
    });
    expect(report.status, JSON.stringify(report.error)).toBe('done');
    expect(report.verify!.chunks).toBeLessThanOrEqual(10);
    expect(report.verify!.recopiedChunks).toBeGreaterThanOrEqual(1);
    expect(Number(await db.value(`SELECT COUNT(*) FROM ${q(table)} WHERE id IN (${p(1)}, ${p(2)})`, [2 ** 39, -(2 ** 41)]))).toBe(0);
    expect(await db.value(`SELECT v FROM ${q(table)} WHERE id = ${p(1)}`, [2 ** 40])).toBe('far');
    expect(await differences(table, helpersOf(dialect, table).old)).toBe(0);
  });

  it('a skewed key (120,000 dense rows and one at 2^40): the span holding them all is walked by chunks, and only the differing chunk is copied again', async () => {
    const table = await seed(120_000, 1, 'BIGINT');
    await db.query(`INSERT INTO ${q(table)} VALUES (${p(1)}, 'far', 1)`, [2 ** 40]);
    const ghost = helpersOf(dialect, table).ghost;
    const { report } = await migrate(table, async () => {
      await db.query(`UPDATE ${q(ghost)} SET v = 'corrupt' WHERE id = 70000`);
    });
    expect(report.status, JSON.stringify(report.error)).toBe('done');
    expect(report.verify!.chunks).toBeGreaterThanOrEqual(4);
    expect(report.verify!.recopiedChunks).toBe(1);
    expect(await db.value(`SELECT v FROM ${q(table)} WHERE id = 70000`)).toBe('v70000');
    expect(await differences(table, helpersOf(dialect, table).old)).toBe(0);
  });

  it('an empty table: nothing to compare, and a row only the ghost has is found and removed', async () => {
    const table = await seed(0);
    const ghost = helpersOf(dialect, table).ghost;
    const { report } = await migrate(table, async () => {
      await db.query(`INSERT INTO ${q(ghost)} (id, v, n) VALUES (7, 'stray', 1)`);
    }, false);
    expect(report.status, JSON.stringify(report.error)).toBe('done');
    expect(report.verify).toMatchObject({ rows: 0, recopiedChunks: 1 });
    expect(Number(await db.value(`SELECT COUNT(*) FROM ${q(table)}`))).toBe(0);
  });

  it.skipIf(dialect !== 'mysql')('a sparse integer key (gaps, an outlier at 2^40): chunks by key value still find a row missing from the ghost', async () => {
    const table = `vt${++n}`;
    await db.query(`CREATE TABLE ${table} (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(40) NULL, n INT NOT NULL)`);
    await db.query(`INSERT INTO ${table} SELECT seq * 1000, CONCAT('v', seq), seq FROM seq_1_to_${ROWS}`);
    await db.query(`INSERT INTO ${table} VALUES (1099511627776, 'far', 1)`);
    const ghost = helpersOf(dialect, table).ghost;
    const { report } = await migrate(table, async () => {
      await db.query(`DELETE FROM ${q(ghost)} WHERE id = 1099511627776`);
    });
    expect(report.status, JSON.stringify(report.error)).toBe('done');
    expect(report.verify!.recopiedChunks).toBe(1);
    expect(report.verify!.rows).toBeGreaterThan(ROWS);
    expect(await db.value(`SELECT v FROM ${q(table)} WHERE id = 1099511627776`)).toBe('far');
    expect(await differences(table, helpersOf(dialect, table).old)).toBe(0);
  });

  it('a corruption that survives the second copy refuses the cut-over with E_VERIFY, names the key, keeps the original', async () => {
    const table = await seed();
    const ghost = helpersOf(dialect, table).ghost;
    const corrupt = async () => {
      // A trigger on the ghost corrupts key 5 whenever it is written: the re-copy can't fix it.
      if (dialect === 'mysql') {
        await db.query(`CREATE TRIGGER ${q(`${table}_corrupt`)} BEFORE INSERT ON ${q(ghost)} FOR EACH ROW SET NEW.v = IF(NEW.id = 5, 'corrupt', NEW.v)`);
      } else {
        await db.query(`CREATE FUNCTION ${table}_corrupt() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.id = 5 THEN NEW.v := 'corrupt'; END IF; RETURN NEW; END $$`);
        await db.query(`CREATE TRIGGER ${table}_corrupt BEFORE INSERT OR UPDATE ON ${q(ghost)} FOR EACH ROW EXECUTE FUNCTION ${table}_corrupt()`);
      }
      await db.query(`UPDATE ${q(ghost)} SET v = 'corrupt' WHERE id = 5`);
    };
    const { report } = await migrate(table, corrupt);
    expect(report.status).toBe('failed');
    expect(report.error?.code).toBe('E_VERIFY');
    expect(report.error?.message).toMatch(/at 1 key\(s\).*: \(5\)$/);
    // The original is in place, unaltered in shape, with its row 5; the helpers are gone.
    expect(await db.value(`SELECT v FROM ${q(table)} WHERE id = 5`)).toBe('v5');
    const cols = dialect === 'mysql'
      ? await db.query<{ c: string }>(`SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, [table])
      : await db.query<{ c: string }>(`SELECT column_name AS c FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`, [table]);
    expect(cols.map((r) => r.c)).toEqual(['id', 'v', 'n']);
    const left = dialect === 'mysql'
      ? await db.value(`SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?, ?)`, [ghost, helpersOf(dialect, table).changelog])
      : await db.value(`SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN ($1, $2)`, [ghost, helpersOf(dialect, table).changelog]);
    expect(Number(left)).toBe(0);
  });
});
