/**
 * gh-ost's --timestamp-old-table: each run keeps its old table under its own
 * name (`_t_<UTC stamp>_del`), so a second alter goes ahead while the first
 * one's old table is still there; `cleanup` lists those old tables and keeps
 * them unless --drop-old-table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { openTestDatabase, type TestDatabase, type TestDialect, type TestSql } from '../helpers/servers.js';

const tablesQuery = (dialect: TestDialect) =>
  dialect === 'mysql'
    ? "SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '%old\\_t%' ORDER BY 1"
    : "SELECT relname AS n FROM pg_class WHERE relname LIKE '%old\\_t%' AND relkind = 'r' ORDER BY 1";

describe.each(['mysql', 'postgres'] as TestDialect[])('--timestamp-old-table on %s', (dialect) => {
  let url: string;
  let db: TestSql;
  let database: TestDatabase | undefined;

  beforeAll(async () => {
    database = await openTestDatabase(dialect, 'oldt', ['CREATE TABLE old_t (id INT NOT NULL PRIMARY KEY, v INT NOT NULL)', 'INSERT INTO old_t VALUES (1, 10), (2, 20), (3, 30)']);
    ({ url, db } = database);
  });

  afterAll(() => database?.close());

  it('two alters in a row both succeed and both old tables are kept; cleanup keeps them unless --drop-old-table', async () => {
    const alter = (clause: string) => cli(['alter', '--url', url, '--table', 'old_t', '--alter', clause, '--execute', '--timestamp-old-table', '--json']);
    const first = await alter('ADD COLUMN a INT');
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const firstOld = (JSON.parse(first.stdout) as { oldTable: string }).oldTable;
    expect(firstOld).toMatch(/^_old_t_\d{14}_del$/);
    await new Promise((r) => setTimeout(r, 1100)); // the stamp is to the second
    const second = await alter('ADD COLUMN b INT');
    expect(second.code, second.stdout + second.stderr).toBe(0);
    const secondOld = (JSON.parse(second.stdout) as { oldTable: string }).oldTable;
    expect(secondOld).toMatch(/^_old_t_\d{14}_del$/);
    expect(secondOld).not.toBe(firstOld);
    const names = (await db.query<{ n: string }>(tablesQuery(dialect))).map((r) => r.n);
    expect(names.sort()).toEqual([firstOld, secondOld, 'old_t'].sort());
    expect(await db.query('SELECT id, v, a, b FROM old_t ORDER BY id')).toEqual([1, 2, 3].map((id) => ({ id, v: id * 10, a: null, b: null })));

    // cleanup recognises them as old tables: kept without --drop-old-table.
    const dry = await cli(['cleanup', '--url', url, '--table', 'old_t', '--json']);
    expect(JSON.parse(dry.stdout)).toMatchObject({ wouldRemove: [], kept: [{ kind: 'old-table', name: firstOld }, { kind: 'old-table', name: secondOld }] });
    const drop = await cli(['cleanup', '--url', url, '--table', 'old_t', '--drop-old-table', '--execute', '--json']);
    expect(drop.code, drop.stdout + drop.stderr).toBe(0);
    expect((await db.query<{ n: string }>(tablesQuery(dialect))).map((r) => r.n)).toEqual(['old_t']);
  });
});
