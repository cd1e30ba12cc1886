/**
 * `--progress json` as a CI job reads it: newline-delimited events on
 * stderr that end with one `done` at exactly 100%, whether the total came
 * from the server's estimate or from --exact-rowcount.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { dropDatabase, freshDatabase, sql, type TestDialect, type TestSql } from '../helpers/servers.js';

const ROWS = 3000;

describe.each([
  ['mysql', []],
  ['mysql', ['--exact-rowcount']],
  ['postgres', []],
  ['postgres', ['--exact-rowcount']],
] as [TestDialect, string[]][])('--progress json on %s %j', (dialect, extra) => {
  let url: string;
  let db: TestSql;

  beforeAll(async () => {
    url = await freshDatabase(dialect, 'prog');
    db = await sql(url);
    if (dialect === 'mysql') {
      await db.query('CREATE TABLE prog_t (id INT NOT NULL PRIMARY KEY, v INT NOT NULL)');
      await db.query(`INSERT INTO prog_t SELECT seq, seq * 2 FROM seq_1_to_${ROWS}`);
    } else {
      await db.query('CREATE TABLE prog_t (id INT NOT NULL PRIMARY KEY, v INT NOT NULL)');
      await db.query(`INSERT INTO prog_t SELECT g, g * 2 FROM generate_series(1, ${ROWS}) g`);
    }
  });

  afterAll(async () => {
    await db?.end();
    if (url) await dropDatabase(url);
  });

  it('ends with one done event at 100%, every row counted', async () => {
    const r = await cli(['alter', '--url', url, '--table', 'prog_t', '--alter', 'ADD COLUMN w INT', '--execute', '--ok-to-drop-table', '--progress', 'json', '--chunk-size', '500', ...extra]);
    expect(r.code, r.stderr).toBe(0);
    const events = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.event === 'progress');
    expect(events.filter((e) => e.state === 'done')).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ state: 'done', percent: 100, rowsCopied: ROWS, rowsEstimated: ROWS });
    expect(Number(await db.value('SELECT COUNT(*) FROM prog_t'))).toBe(ROWS);
  });
});
