/**
 * A MySQL dry run changes nothing and writes nothing to the binary log: the
 * ALTER is proved on a TEMPORARY table in the dry run's own session. A
 * second session polling SHOW TABLES and information_schema never sees a
 * helper table, and the binlog has no event after the position read before
 * the run (before the fix: CREATE TABLE t_gho / _t_ghc and their DROPs, which
 * a replica would have run too).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mysql from 'mysql2/promise';
import { runOnlineAlter } from '../../src/alter.js';
import { alterOptions } from '../../src/core/options.js';
import { inspectTable } from '../../src/engine/mysql/inspect.js';
import { inspectTemporaryTable } from '../../src/engine/mysql/inspect-temporary.js';
import { createLogger, silentLogger } from '../../src/log.js';
import { databaseOf, dropDatabase, freshDatabase, hasMysql, sql, type TestSql } from '../helpers/servers.js';

const log = process.env.GW_LOG === '1' ? createLogger({ level: 'debug' }) : silentLogger;

const SHAPE = `(
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  code VARCHAR(20) NOT NULL,
  name VARCHAR(40) NOT NULL DEFAULT 'it''s, (x)',
  price DECIMAL(10,2) NOT NULL DEFAULT -1.50,
  flags BIT(3) NOT NULL DEFAULT b'101',
  created TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  total DECIMAL(12,2) GENERATED ALWAYS AS (price * 2) VIRTUAL,
  note TEXT COLLATE utf8mb4_bin,
  g POINT NOT NULL,
  UNIQUE KEY uk_code (code),
  KEY k_name_price (name(10), price),
  SPATIAL KEY sk_g (g)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;

interface BinlogMark {
  file: string;
  pos: number;
}

describe.skipIf(!hasMysql())('MySQL dry run: private and unlogged', () => {
  let url: string;
  let db: TestSql;
  let schema: string;

  beforeAll(async () => {
    url = await freshDatabase('mysql', 'dryrun');
    schema = databaseOf(url);
    db = await sql(url);
    await db.query(`CREATE TABLE orders ${SHAPE}`);
    await db.query(`INSERT INTO orders (code, name, price, g) VALUES ('a', 'x', 1, POINT(1, 1)), ('b', 'y', 2, POINT(2, 2)), ('c', 'z', 3, POINT(3, 3))`);
    await db.query(`CREATE TABLE parts (id INT NOT NULL PRIMARY KEY, v INT NOT NULL) PARTITION BY HASH(id) PARTITIONS 2`);
    await db.query(`CREATE TABLE docs (id INT NOT NULL PRIMARY KEY, body TEXT, FULLTEXT KEY ft_body (body))`);
  });
  afterAll(async () => {
    await db?.end();
    if (url) await dropDatabase(url);
  });

  const mark = async (): Promise<BinlogMark> => {
    const s = (await db.query<{ File: string; Position: number }>('SHOW MASTER STATUS'))[0]!;
    return { file: s.File, pos: Number(s.Position) };
  };
  const eventsSince = async (m: BinlogMark): Promise<string[]> => {
    const rows = await db.query<{ Event_type: string; Info: string }>(`SHOW BINLOG EVENTS IN '${m.file}' FROM ${m.pos}`);
    return rows.map((r) => `${r.Event_type}: ${r.Info}`);
  };
  const tablesNow = async (): Promise<string[]> => (await db.query<Record<string, string>>('SHOW TABLES')).map((r) => Object.values(r)[0]!).sort();
  const checksum = async (table: string) => (await db.query<{ Checksum: string }>(`CHECKSUM TABLE \`${table}\``))[0]!.Checksum;

  /** A second session listing the schema's tables in a tight loop until stop(). */
  async function watchTables(): Promise<{ stop: () => Promise<{ seen: string[]; polls: number }> }> {
    const conn = await mysql.createConnection({ uri: url });
    const seen = new Set<string>();
    let polls = 0;
    let running = true;
    const loop = (async () => {
      while (running) {
        const [a] = await conn.query('SHOW TABLES');
        const [b] = await conn.query('SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [schema]);
        for (const r of [...(a as Record<string, string>[]).map((r) => Object.values(r)[0]!), ...(b as { n: string }[]).map((r) => r.n)]) seen.add(r);
        polls++;
      }
    })();
    return {
      stop: async () => {
        running = false;
        await loop;
        await conn.end();
        return { seen: [...seen].sort(), polls };
      },
    };
  }

  it('proves the ALTER on a temporary table: no other session sees a helper table, no binlog event', async () => {
    const before = await tablesNow();
    const sum = await checksum('orders');
    const at = await mark();
    const watcher = await watchTables();
    const report = await runOnlineAlter(alterOptions({ url, table: 'orders', alter: "ADD COLUMN status VARCHAR(10) NOT NULL DEFAULT 'new', ADD INDEX k_status (status)" }), { log });
    const watched = await watcher.stop();
    expect(report.error ?? null).toBeNull();
    expect(report.status).toBe('dry-run');
    expect(report.plan?.key.columns).toEqual(['id']);
    expect(JSON.stringify(report.plan)).toContain('status');
    expect(watched.polls).toBeGreaterThan(0);
    expect(watched.seen).toEqual(before);
    expect(await eventsSince(at)).toEqual([]);
    expect(await mark()).toEqual(at);
    expect(await tablesNow()).toEqual(before);
    expect(await checksum('orders')).toBe(sum);
  });

  it('says which keys a run would build after the copy, as the run chooses them', async () => {
    await db.query('CREATE TABLE keyed (id INT NOT NULL PRIMARY KEY, a INT NOT NULL, b INT NOT NULL, UNIQUE KEY u_b (b), KEY k_a (a))');
    const run = (deferIndexes?: boolean) => runOnlineAlter(alterOptions({ url, table: 'keyed', alter: 'ADD INDEX k_ab (a, b)', ...(deferIndexes === undefined ? {} : { deferIndexes }) }), { log });
    const report = await run();
    expect(report.status).toBe('dry-run');
    // PRIMARY and the unique key stay through the copy; the plain keys after them are built once it is done.
    expect(report.plan?.indexesAfterCopy).toEqual(['k_a', 'k_ab']);
    expect((await run(false)).plan?.indexesAfterCopy).toEqual([]);
    // A SPATIAL key keeps every key through the copy (deferred-indexes.ts).
    expect((await runOnlineAlter(alterOptions({ url, table: 'orders', alter: 'ADD COLUMN z INT NULL' }), { log })).plan?.indexesAfterCopy).toEqual([]);
  });

  it('reads the temporary table as inspect reads the same shape from information_schema', async () => {
    const alter = "ADD COLUMN status VARCHAR(10) NOT NULL DEFAULT 'new', DROP INDEX k_name_price, ADD UNIQUE KEY uk_status_code (status, code)";
    await db.query(`CREATE TABLE shape_real LIKE orders`);
    await db.query(`ALTER TABLE shape_real ${alter}`);
    const conn = await mysql.createConnection({ uri: url, supportBigNumbers: true, bigNumberStrings: true, dateStrings: true });
    try {
      await conn.query(`CREATE TEMPORARY TABLE shape_tmp LIKE orders`);
      await conn.query(`ALTER TABLE shape_tmp ${alter}`);
      const real = await inspectTable(conn, { schema, name: 'shape_real' }, 'mariadb');
      const temp = await inspectTemporaryTable(conn, { schema, name: 'shape_tmp' }, 'mariadb');
      expect(temp.columns).toEqual(real.columns);
      expect(temp.columns.find((c) => c.name === 'name')?.default).toBe("'it''s, (x)'");
      expect(temp.columns.find((c) => c.name === 'total')?.generationExpression).toBe(real.columns.find((c) => c.name === 'total')?.generationExpression);
      expect({ pk: temp.primaryKey, uk: temp.uniqueKeys, ix: temp.indexes, copy: temp.copyKey }).toEqual({ pk: real.primaryKey, uk: real.uniqueKeys, ix: real.indexes, copy: real.copyKey });
      expect({ engine: temp.extra.engine, charset: temp.extra.charset, collation: temp.extra.collation }).toEqual({ engine: real.extra.engine, charset: real.extra.charset, collation: real.extra.collation });
    } finally {
      await conn.end();
      await db.query('DROP TABLE shape_real');
    }
  });

  it('a rejected ALTER: E_BAD_ALTER, exit 2, still nothing logged', async () => {
    const at = await mark();
    const report = await runOnlineAlter(alterOptions({ url, table: 'orders', alter: 'ADD COLUMN code INT' }), { log });
    expect(report.status).toBe('refused');
    expect(report.error?.code).toBe('E_BAD_ALTER');
    expect(report.error?.message).toMatch(/Duplicate column/i);
    expect(await eventsSince(at)).toEqual([]);
  });

  it.each([
    ['a partitioned table', 'parts', 'ADD COLUMN w INT NOT NULL DEFAULT 0', /partitioned table/],
    ['an ALTER adding a FULLTEXT index', 'orders', 'ADD FULLTEXT KEY ft_note (note)', /FULLTEXT index/],
    ['a table with a FULLTEXT index', 'docs', 'ADD COLUMN w INT NOT NULL DEFAULT 0', /FULLTEXT index/],
  ])('%s: refused with the reason (E_DRY_RUN_UNSUPPORTED), never tried on a real table', async (_name, table, alter, why) => {
    const before = await tablesNow();
    const at = await mark();
    const report = await runOnlineAlter(alterOptions({ url, table, alter }), { log });
    expect(report.status).toBe('refused');
    expect(report.error?.code).toBe('E_DRY_RUN_UNSUPPORTED');
    expect(report.error?.message).toMatch(why);
    expect(report.error?.hint).toMatch(/--execute/);
    expect(await eventsSince(at)).toEqual([]);
    expect(await tablesNow()).toEqual(before);
  });
});
