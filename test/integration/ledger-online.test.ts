/**
 * Delegation: with a tiny --online-threshold, a rewriting ALTER in a
 * migration runs through the online engine (ghost table + change stream +
 * swap) while a writer keeps changing the table; afterwards every row is
 * exactly what the writer left, and the column has its new type.
 */
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/ledger/index.js';
import { dropDatabase, freshDatabase, sql, type TestSql } from '../helpers/servers.js';
import { DIALECTS, history, migrationsDir } from '../fixtures/ledger/helpers.js';

const ROWS = 20_000;

describe.each(DIALECTS)('ledger delegates big ALTERs to the online engine on %s', (dialect) => {
  const urls: string[] = [];
  const dbs: TestSql[] = [];
  afterAll(async () => {
    for (const db of dbs) await db.end().catch(() => undefined);
    for (const url of urls) await dropDatabase(url).catch(() => undefined);
  });

  it('ALTER above the threshold runs online under concurrent writes; data intact', async () => {
    const url = await freshDatabase(dialect, 'gw_ledger_o');
    urls.push(url);
    const db = await sql(url);
    const writer = await sql(url);
    dbs.push(db, writer);
    await db.query('CREATE TABLE items (id INT PRIMARY KEY, qty INT NOT NULL, note VARCHAR(20))');
    const series = dialect === 'mysql' ? `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${ROWS}) SELECT n FROM s` : `SELECT generate_series(1, ${ROWS}) AS n`;
    if (dialect === 'mysql') {
      await db.query('SET SESSION cte_max_recursion_depth = 100000').catch(() => undefined); // MySQL
      await db.query('SET SESSION max_recursive_iterations = 100000').catch(() => undefined); // MariaDB
    }
    await db.query(`INSERT INTO items (id, qty, note) SELECT n, n, 'seed' FROM (${series}) x`);
    await db.query(dialect === 'mysql' ? 'ANALYZE TABLE items' : 'ANALYZE items');

    const expected = new Map<number, number>();
    for (let i = 1; i <= ROWS; i++) expected.set(i, i);
    const alter = dialect === 'mysql' ? 'ALTER TABLE items MODIFY COLUMN qty BIGINT NOT NULL;' : 'ALTER TABLE items ALTER COLUMN qty TYPE bigint;';
    const m = migrationsDir({ 'V1__widen_qty.sql': `${alter}\n` });

    let done = false;
    let writes = 0;
    const p = (n: number) => (dialect === 'mysql' ? '?' : `$${n}`);
    const writeLoop = (async () => {
      let next = ROWS + 1;
      while (!done) {
        const op = writes % 3;
        if (op === 0) {
          await writer.query(`INSERT INTO items (id, qty, note) VALUES (${p(1)}, ${p(2)}, 'new')`, [next, next * 10]);
          expected.set(next, next * 10);
          next++;
        } else if (op === 1) {
          const id = 1 + ((writes * 7919) % ROWS);
          await writer.query(`UPDATE items SET qty = qty + 1 WHERE id = ${p(1)}`, [id]);
          if (expected.has(id)) expected.set(id, expected.get(id)! + 1);
        } else {
          const id = 1 + ((writes * 104729) % ROWS);
          await writer.query(`DELETE FROM items WHERE id = ${p(1)}`, [id]);
          expected.delete(id);
        }
        writes++;
      }
    })();
    try {
      const result = await migrate({ url, dir: m.dir, onlineThreshold: 1000, baselineOnMigrate: true, baselineVersion: '0', onlineOptions: { chunkSize: 2000 } });
      expect(result.applied.map((a) => a.version)).toEqual(['1']);
    } finally {
      done = true;
      await writeLoop;
    }
    expect(writes).toBeGreaterThan(10);
    const type = dialect === 'mysql'
      ? await db.value("SELECT data_type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'items' AND column_name = 'qty'")
      : await db.value("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'qty'");
    expect(type).toBe('bigint');
    const rows = await db.query<{ id: unknown; qty: unknown }>('SELECT id, qty FROM items ORDER BY id');
    expect(rows.length).toBe(expected.size);
    const actual = new Map(rows.map((r) => [Number(r.id), Number(r.qty)]));
    expect(actual).toEqual(expected);
    // The online engine's swap leaves the original as _items_del (dropOldTable is off): proof it ran online.
    const oldTable = dialect === 'mysql'
      ? await db.value("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '_items_del'")
      : await db.value("SELECT COUNT(*) FROM pg_class WHERE relname = '_items_del'");
    expect(Number(oldTable)).toBe(1);
    expect((await history(db)).map((r) => [r.version, r.type, r.success])).toEqual([['0', 'BASELINE', true], ['1', 'SQL', true]]);
  });
});

describe('MySQL/MariaDB: ALGORITHM=INSTANT first, then the fallback', () => {
  const urls: string[] = [];
  const dbs: TestSql[] = [];
  afterAll(async () => {
    for (const db of dbs) await db.end().catch(() => undefined);
    for (const url of urls) await dropDatabase(url).catch(() => undefined);
  });

  it('INSTANT where the server can; refused (ROW_FORMAT=COMPRESSED) falls back to online above the threshold', async () => {
    const url = await freshDatabase('mysql', 'gw_ledger_i');
    urls.push(url);
    const db = await sql(url);
    dbs.push(db);
    await db.query('CREATE TABLE plain (id INT PRIMARY KEY, v INT)');
    await db.query('CREATE TABLE packed (id INT PRIMARY KEY, v INT) ROW_FORMAT=COMPRESSED');
    await db.query('SET SESSION max_recursive_iterations = 100000').catch(() => undefined);
    await db.query('SET SESSION cte_max_recursion_depth = 100000').catch(() => undefined);
    for (const t of ['plain', 'packed']) {
      await db.query(`INSERT INTO ${t} SELECT n, n FROM (WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 3000) SELECT n FROM s) x`);
      await db.query(`ANALYZE TABLE ${t}`);
    }
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const m = migrationsDir({ 'V1__add.sql': 'ALTER TABLE plain ADD COLUMN c INT DEFAULT 7;\nALTER TABLE packed ADD COLUMN c INT DEFAULT 7;' });
    await migrate({ url, dir: m.dir, onlineThreshold: 1000, baselineOnMigrate: true, baselineVersion: '0', log });
    const msgs = lines.map((l) => JSON.parse(l) as { msg: string; statement?: number; fallback?: string });
    expect(msgs.filter((x) => x.msg === 'ALTER ran with ALGORITHM=INSTANT').map((x) => x.statement)).toEqual([1]);
    expect(msgs.filter((x) => x.msg === 'server refused ALGORITHM=INSTANT; falling back')).toMatchObject([{ statement: 2, fallback: 'online' }]);
    for (const t of ['plain', 'packed']) expect(await db.query(`SELECT COUNT(*) AS n, SUM(c) AS s FROM ${t}`)).toEqual([{ n: '3000', s: '21000' }]);
    expect(Number(await db.value("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '_packed_del'"))).toBe(1);
    expect(Number(await db.value("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '_plain_del'"))).toBe(0);
  });
});
