/**
 * gh-ost's --initially-drop-ghost-table / --initially-drop-old-table: a
 * leftover ghost or old table of this table is dropped first instead of
 * refusing; a dry run only says what it would drop; PostgreSQL's slot and
 * publication leftovers still refuse.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicationName } from '../../src/core/names.js';
import { cli } from '../helpers/cli.js';
import { openTestDatabase, type TestDatabase, type TestDialect, type TestSql } from '../helpers/servers.js';

describe.each(['mysql', 'postgres'] as TestDialect[])('--initially-drop-* on %s', (dialect) => {
  let url: string;
  let db: TestSql;
  let database: TestDatabase | undefined;
  const ghost = dialect === 'mysql' ? 'idrop_gho' : '_idrop_gho';
  const exists = async (name: string) =>
    Number(
      await db.value(
        dialect === 'mysql' ? 'SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?' : "SELECT COUNT(*) FROM pg_class WHERE relname = $1 AND relkind = 'r'",
        [name],
      ),
    ) === 1;
  const alter = (clause: string, ...extra: string[]) => cli(['alter', '--url', url, '--table', 'idrop', '--alter', clause, '--json', ...extra]);

  beforeAll(async () => {
    database = await openTestDatabase(dialect, 'idrop', ['CREATE TABLE idrop (id INT NOT NULL PRIMARY KEY, v INT NOT NULL)', 'INSERT INTO idrop VALUES (1, 10), (2, 20)']);
    ({ url, db } = database);
  });

  afterAll(() => database?.close());

  it('old table: refused without the flag; a dry run only says it would drop it; --execute drops it first', async () => {
    expect((await alter('ADD COLUMN a INT', '--execute')).code).toBe(0);
    expect(await exists('_idrop_del')).toBe(true);
    await db.query('INSERT INTO _idrop_del VALUES (99, 990)'); // marks the first run's old table
    const refused = await alter('ADD COLUMN b INT', '--execute');
    expect(refused.code).toBe(2);
    const dry = await alter('ADD COLUMN b INT', '--initially-drop-old-table');
    expect(dry.code, dry.stdout).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ status: 'dry-run', initiallyDropped: ['_idrop_del'] });
    expect(Number(await db.value('SELECT COUNT(*) FROM _idrop_del WHERE id = 99'))).toBe(1); // untouched
    const run = await alter('ADD COLUMN b INT', '--execute', '--initially-drop-old-table');
    expect(run.code, run.stdout).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'done', initiallyDropped: ['_idrop_del'], oldTable: '_idrop_del' });
    expect(Number(await db.value('SELECT COUNT(*) FROM _idrop_del WHERE id = 99'))).toBe(0); // the new old table
    expect(await db.query('SELECT id, v, a, b FROM idrop ORDER BY id')).toEqual([{ id: 1, v: 10, a: null, b: null }, { id: 2, v: 20, a: null, b: null }]);
  });

  it('ghost: refused without the flag, dropped first with it; the original is never dropped', async () => {
    await db.query('DROP TABLE _idrop_del');
    await db.query(`CREATE TABLE ${ghost} (id INT NOT NULL PRIMARY KEY)`);
    const refused = await alter('ADD COLUMN c INT', '--execute', '--ok-to-drop-table');
    expect(refused.code).toBe(2);
    expect(await exists(ghost)).toBe(true);
    if (dialect === 'postgres') {
      // A leftover publication of this table is not ours to drop here: still refused, pointing to cleanup.
      const pub = publicationName('public', 'idrop');
      await db.query(`CREATE PUBLICATION ${pub} FOR TABLE idrop`);
      const stillRefused = await alter('ADD COLUMN c INT', '--execute', '--ok-to-drop-table', '--initially-drop-ghost-table');
      expect(stillRefused.code).toBe(2);
      expect(stillRefused.stdout).toContain('ghostwright cleanup');
      expect(await exists(ghost)).toBe(true); // a refusal drops nothing
      await db.query(`DROP PUBLICATION ${pub}`);
    }
    const run = await alter('ADD COLUMN c INT', '--execute', '--ok-to-drop-table', '--initially-drop-ghost-table');
    expect(run.code, run.stdout).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'done', initiallyDropped: [ghost] });
    expect(await exists(ghost)).toBe(false);
    expect(await db.query('SELECT id, v, c FROM idrop ORDER BY id')).toEqual([{ id: 1, v: 10, c: null }, { id: 2, v: 20, c: null }]);
  });
});
