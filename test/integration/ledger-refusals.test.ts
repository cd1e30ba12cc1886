/**
 * Issue #14 item 3: a refused ledger command (exit 2) has changed nothing.
 * Before the fix, migrate created the history table and only then refused a
 * non-empty schema, so the same command run again applied V1 onward with no
 * baseline; a refused delegated ALTER left a failed history row on MySQL; an
 * unknown placeholder in V2 was found after V1 had been applied.
 */
import { describe, expect, it } from 'vitest';
import { migrate } from '../../src/ledger/index.js';
import { GhostwrightError } from '../../src/errors.js';
import type { TestDialect, TestSql } from '../helpers/servers.js';
import { DIALECTS, history, migrationsDir, freshDatabases } from '../fixtures/ledger/helpers.js';

async function refusal(p: Promise<unknown>): Promise<GhostwrightError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GhostwrightError);
  return err as GhostwrightError;
}

async function tables(db: TestSql, dialect: TestDialect): Promise<string[]> {
  const rows =
    dialect === 'mysql'
      ? await db.query<{ n: string }>('SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1')
      : await db.query<{ n: string }>("SELECT tablename AS n FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
  return rows.map((r) => r.n);
}

describe.each(DIALECTS)('refused ledger runs change nothing on %s', (dialect) => {
  const fresh = freshDatabases(dialect, 'gw_ledger_ref');

  it('a non-empty schema without history: refused twice, no history table, V1 never applied', async () => {
    const { url, db } = await fresh();
    await db.query('CREATE TABLE legacy (id INT PRIMARY KEY)');
    const m = migrationsDir({ 'V1__legacy.sql': 'CREATE TABLE created_by_v1 (id INT);' });
    for (let run = 0; run < 2; run++) {
      const err = await refusal(migrate({ url, dir: m.dir }));
      expect(err.code).toBe('E_NON_EMPTY_SCHEMA');
      expect(err.exitCode).toBe(2);
      expect(await tables(db, dialect)).toEqual(['legacy']);
    }
  });

  it('an unknown placeholder in V2 is refused before V1 runs', async () => {
    const { url, db } = await fresh();
    const m = migrationsDir({ 'V1__a.sql': 'CREATE TABLE a (id INT);', 'V2__b.sql': 'CREATE TABLE ${missing} (id INT);' });
    const err = await refusal(migrate({ url, dir: m.dir }));
    expect(err.code).toBe('E_UNKNOWN_PLACEHOLDER');
    expect(err.exitCode).toBe(2);
    expect(await tables(db, dialect)).toEqual([]);
  });

  it('a delegated ALTER refused by the online engine records nothing and exits 2', async () => {
    const { url, db } = await fresh();
    const m = migrationsDir({ 'V1__t.sql': 'CREATE TABLE nokey (v INT NOT NULL);\nINSERT INTO nokey (v) VALUES (1), (2), (3);' });
    await migrate({ url, dir: m.dir });
    await db.query(dialect === 'mysql' ? 'ANALYZE TABLE nokey' : 'ANALYZE nokey');
    m.write('V2__widen.sql', dialect === 'mysql' ? 'ALTER TABLE nokey MODIFY COLUMN v BIGINT NOT NULL;' : 'ALTER TABLE nokey ALTER COLUMN v TYPE bigint;');
    const before = await history(db);
    // No primary key: the online engine refuses (E_NO_KEY) before it writes anything.
    const err = await refusal(migrate({ url, dir: m.dir, onlineThreshold: 0 }));
    expect(err.code).toBe('E_NO_KEY');
    expect(err.exitCode).toBe(2);
    expect(await history(db)).toEqual(before);
    expect(Number(await db.value('SELECT COUNT(*) FROM ghostwright_schema_history_progress'))).toBe(0);
  });

  it('a refusal after something was applied is a failure (exit 1) that says what changed', async () => {
    const { url, db } = await fresh();
    const m = migrationsDir({ 'V1__t.sql': 'CREATE TABLE nokey (v INT NOT NULL);\nINSERT INTO nokey (v) VALUES (1), (2), (3);' });
    m.write('V2__widen.sql', dialect === 'mysql' ? 'ALTER TABLE nokey MODIFY COLUMN v BIGINT NOT NULL;' : 'ALTER TABLE nokey ALTER COLUMN v TYPE bigint;');
    // V1 creates the table (estimated rows 0 until analysed): V2 is planned when its turn comes.
    const err = await refusal(migrate({ url, dir: m.dir, onlineThreshold: -1 }));
    expect(err.code).toBe('E_NO_KEY');
    expect(err.exitCode).toBe(1);
    expect(err.message).toMatch(/already changed the database: created .*ghostwright_schema_history.*, applied V1__t\.sql/);
    expect((await history(db)).map((r) => r.version)).toEqual(['1']);
  });
});
