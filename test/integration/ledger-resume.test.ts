/**
 * Failure and concurrency on real servers: a half-applied MySQL file
 * resumed after repair, PostgreSQL's all-or-nothing file and its split
 * around CREATE INDEX CONCURRENTLY, two runners at once, connect retries,
 * and dry-run paths.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { parseConnectionUrl } from '../../src/connection.js';
import { connectEngine } from '../../src/engine/index.js';
import { GhostwrightError } from '../../src/errors.js';
import { info, migrate, repair, validate } from '../../src/ledger/index.js';
import { sql } from '../helpers/servers.js';
import { DIALECTS, history, migrationsDir, sleepSql, freshDatabases } from '../fixtures/ledger/helpers.js';

describe.each(DIALECTS)('ledger failures and concurrency on %s', (dialect) => {
  const fresh = freshDatabases(dialect, 'gw_ledger_r');

  const FIVE = [
    'CREATE TABLE t (id INT PRIMARY KEY, v INT);',
    'INSERT INTO t VALUES (1, 1);',
    'ALTER TABLE t ADD COLUMN w INT;',
    'INSERT INTO t VALUES (1, 2, 0);',
    'INSERT INTO t VALUES (2, 2, 0);',
  ];

  it('a file failing at statement 4 of 5: reported exactly; MySQL resumes after repair, PostgreSQL rolled back', async () => {
    const { url, db } = await fresh();
    const m = migrationsDir({ 'V1__five.sql': FIVE.join('\n') });
    await expect(migrate({ url, dir: m.dir })).rejects.toThrow(/^V1__five.sql: statement 4 of 5 \(line 4\) failed: .*[Dd]uplicate/);
    if (dialect === 'mysql') {
      // DDL auto-commits: statements 1-3 stay applied, and the history says so.
      expect(await db.query('SELECT id, v, w FROM t')).toEqual([{ id: 1, v: 1, w: null }]);
      expect((await history(db)).map((r) => [r.version, r.success])).toEqual([['1', false]]);
      expect((await info({ url, dir: m.dir })).entries).toMatchObject([{ state: 'failed', progress: { statementsDone: 3, statementsTotal: 5, error: expect.stringMatching(/[Dd]uplicate/) } }]);
      expect((await validate({ url, dir: m.dir })).problems.map((p) => p.message)).toEqual([expect.stringMatching(/^version 1 \(V1__five.sql\) failed: statement 4 of 5 failed \(.*[Dd]uplicate.*\), statements 1..3 are applied: run `ghostwright repair`/)]);
      const progress = await db.query('SELECT statements_done, statements_total FROM ghostwright_schema_history_progress');
      expect(progress).toEqual([{ statements_done: 3, statements_total: 5 }]);
      await expect(migrate({ url, dir: m.dir })).rejects.toThrow(/failed: run `ghostwright repair`/);
      m.write('V1__five.sql', [...FIVE.slice(0, 3), 'INSERT INTO t VALUES (3, 3, 0);', FIVE[4]].join('\n'));
      expect(await repair({ url, dir: m.dir })).toMatchObject({ removedFailed: ['1 (V1__five.sql)'] });
      const r = await migrate({ url, dir: m.dir });
      expect(r.applied).toMatchObject([{ version: '1', resumedAt: 4, statements: 5 }]);
    } else {
      // One transaction: nothing applied, nothing recorded; fix and migrate again.
      expect(await db.value("SELECT to_regclass('public.t')::text")).toBeNull();
      expect(await history(db)).toEqual([]);
      m.write('V1__five.sql', [...FIVE.slice(0, 3), 'INSERT INTO t VALUES (3, 3, 0);', FIVE[4]].join('\n'));
      expect((await migrate({ url, dir: m.dir })).applied).toMatchObject([{ version: '1', resumedAt: null }]);
    }
    expect(await db.query('SELECT id, v, w FROM t ORDER BY id')).toEqual([{ id: 1, v: 1, w: null }, { id: 2, v: 2, w: 0 }, { id: 3, v: 3, w: 0 }]);
    expect((await history(db)).map((r) => [r.version, r.success])).toEqual([['1', true]]);
    expect(await db.query('SELECT * FROM ghostwright_schema_history_progress')).toEqual([]);
  });

  it.runIf(dialect === 'postgres')('PostgreSQL: CREATE INDEX CONCURRENTLY runs outside the transaction; a later failure resumes after it', async () => {
    const { url, db } = await fresh();
    const text = ['CREATE TABLE t (id INT PRIMARY KEY, v INT);', 'INSERT INTO t VALUES (1, 1);', 'CREATE INDEX CONCURRENTLY t_v ON t (v);', 'INSERT INTO t VALUES (1, 2);'].join('\n');
    const m = migrationsDir({ 'V1__cic.sql': text });
    await expect(migrate({ url, dir: m.dir })).rejects.toThrow(/statement 4 of 4/);
    expect(await db.value("SELECT indisvalid::text FROM pg_index WHERE indexrelid = 't_v'::regclass")).toBe('true');
    expect((await history(db)).map((r) => r.success)).toEqual([false]);
    m.write('V1__cic.sql', text.replace('VALUES (1, 2)', 'VALUES (2, 2)'));
    await repair({ url, dir: m.dir });
    expect((await migrate({ url, dir: m.dir })).applied).toMatchObject([{ resumedAt: 4 }]);
    expect(await db.query('SELECT id, v FROM t ORDER BY id')).toEqual([{ id: 1, v: 1 }, { id: 2, v: 2 }]);
  });

  it('two runners started at once apply each migration exactly once', async () => {
    const { url, db } = await fresh();
    const files: Record<string, string> = { 'V1__runs.sql': 'CREATE TABLE runs (v INT);' };
    for (const v of [2, 3, 4]) files[`V${v}__step.sql`] = `INSERT INTO runs VALUES (${v});\n${sleepSql(dialect, 0.3)};`;
    const m = migrationsDir(files);
    const [a, b] = await Promise.all([migrate({ url, dir: m.dir }), migrate({ url, dir: m.dir })]);
    expect([a.applied.length, b.applied.length].sort()).toEqual([0, 4]);
    expect(await db.query('SELECT v FROM runs ORDER BY v')).toEqual([{ v: 2 }, { v: 3 }, { v: 4 }]);
    expect((await history(db)).map((r) => r.version)).toEqual(['1', '2', '3', '4']);
  });

  it('waits for the migration lock held by another session, and gives up after --lock-timeout', async () => {
    const { url, db } = await fresh();
    const holder = await sql(url);
    onTestFinished(() => holder.end().catch(() => undefined));
    const name = new URL(url).pathname.slice(1);
    if (dialect === 'mysql') expect(Number(await holder.value('SELECT GET_LOCK(?, 0)', [`ghostwright_migrate:${name}`]))).toBe(1);
    else await holder.query('SELECT pg_advisory_lock(7451328125150392937)');
    const m = migrationsDir({ 'V1__a.sql': 'CREATE TABLE a (id INT);' });
    await expect(migrate({ url, dir: m.dir, lockTimeoutSeconds: 1 })).rejects.toMatchObject({ code: 'E_LOCK_TIMEOUT' });
    expect(Number(await db.value(dialect === 'mysql' ? "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'a'" : "SELECT COUNT(*) FROM pg_class WHERE relname = 'a'"))).toBe(0);
    const waiting = migrate({ url, dir: m.dir, lockTimeoutSeconds: 30 });
    await new Promise((r) => setTimeout(r, 500));
    await holder.query(dialect === 'mysql' ? 'DO RELEASE_LOCK(?)' : 'SELECT pg_advisory_unlock(7451328125150392937)', dialect === 'mysql' ? [`ghostwright_migrate:${name}`] : []);
    expect((await waiting).applied).toHaveLength(1);
  });

  it('--connect-retries: retries a database that is not up yet', async () => {
    const { url } = await fresh();
    const m = migrationsDir({ 'V1__a.sql': 'CREATE TABLE a (id INT);' });
    let attempts = 0;
    const flaky = async (spec: Parameters<typeof connectEngine>[0], log: Parameters<typeof connectEngine>[1]) => {
      attempts++;
      // what connectEngine throws for a server that does not answer yet (only that is retried)
      if (attempts < 3) throw new GhostwrightError('E_UNREACHABLE', 'connect ECONNREFUSED 127.0.0.1:1');
      return connectEngine(spec, log);
    };
    const t0 = Date.now();
    expect((await migrate({ url, dir: m.dir, connectRetries: 3, connect: flaky })).applied).toHaveLength(1);
    expect(attempts).toBe(3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2900); // 1 s + 2 s of backoff
    const dead = new URL(url);
    dead.port = '1';
    await expect(migrate({ url: dead.toString(), dir: m.dir, connectRetries: 0 })).rejects.toBeTruthy();
    expect(parseConnectionUrl(url).dialect).toBe(dialect);
  });

  it('--dry-run prints each statement path and changes nothing', async () => {
    const { url, db } = await fresh();
    await db.query('CREATE TABLE big (id INT PRIMARY KEY, qty INT)');
    await db.query(`INSERT INTO big (id, qty) SELECT n, n FROM (${dialect === 'mysql' ? 'WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 500) SELECT n FROM s' : 'SELECT generate_series(1, 500) AS n'}) x`);
    await db.query(dialect === 'mysql' ? 'ANALYZE TABLE big' : 'ANALYZE big');
    const alter = dialect === 'mysql' ? 'ALTER TABLE big MODIFY COLUMN qty BIGINT;' : 'ALTER TABLE big ALTER COLUMN qty TYPE bigint;';
    const m = migrationsDir({ 'V1__x.sql': `ALTER TABLE big ADD COLUMN note VARCHAR(10);\n${alter}\nCREATE INDEX${dialect === 'postgres' ? ' CONCURRENTLY' : ''} big_qty ON big (qty);` });
    const r = await migrate({ url, dir: m.dir, dryRun: true, onlineThreshold: 100, baselineOnMigrate: true });
    const paths = r.dryRun![0]!.statements.map((s) => s.path);
    expect(paths).toEqual(dialect === 'mysql' ? ['instant', 'online', 'direct'] : ['direct', 'online', 'no-transaction']);
    expect(r.dryRun![0]!.statements[1]!.why).toMatch(/^~\d+ rows > online threshold 100; /);
    const historyTables = await db.value(dialect === 'mysql' ? "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'ghostwright_schema_history'" : "SELECT COUNT(*) FROM pg_class WHERE relname = 'ghostwright_schema_history'");
    expect(Number(historyTables)).toBe(0);
    expect(await db.query(dialect === 'mysql' ? "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'big' AND column_name = 'note'" : "SELECT attname FROM pg_attribute WHERE attrelid = 'big'::regclass AND attname = 'note'")).toEqual([]);
  });
});
