/**
 * The CLI as a DBA or a CI job runs it: exit codes, --json, bad input that
 * must change nothing, and passwords that must never show. Runs the built
 * launcher (npm test builds first) against the sandbox servers, both engines.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { helpersOf, dropDatabase, freshDatabase, sql, type TestDialect, type TestSql } from '../helpers/servers.js';

const BIN = fileURLToPath(new URL('../../bin/ghostwright', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function withPassword(url: string, password: string): string {
  const u = new URL(url);
  u.password = password;
  return u.toString();
}

describe('ghostwright CLI basics', () => {
  it('prints its version and help with exit 0', async () => {
    const v = await cli(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const h = await cli(['alter', '--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('--cut-over-lock-timeout');
  });

  it('the library API is importable by package name (built dist, package exports)', async () => {
    const lib = (await import('ghostwright')) as Record<string, unknown>;
    for (const name of ['runOnlineAlter', 'alterOptions', 'migrate', 'info', 'requireSchemaVersion', 'connectEngine']) expect(typeof lib[name]).toBe('function');
  });

  it('exits 2 on unknown options and bad URLs', async () => {
    expect((await cli(['doctor', '--no-such-flag'])).code).toBe(2);
    const bad = await cli(['doctor', '--url', 'redis://u:topsecret@h/db']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unsupported URL scheme');
    expect(bad.stderr + bad.stdout).not.toContain('topsecret');
  });
});

const dialects: TestDialect[] = ['mysql', 'postgres'];

describe.each(dialects)('ghostwright CLI on %s', (dialect) => {
  let url: string;
  let db: TestSql;
  const t = (name: string) => (dialect === 'mysql' ? `\`${name}\`` : `"${name}"`);

  beforeAll(async () => {
    url = await freshDatabase(dialect, `cli_${dialect}`);
    db = await sql(url);
    await db.query(`CREATE TABLE ${t('items')} (id INT NOT NULL PRIMARY KEY, name VARCHAR(40) NOT NULL, qty INT NOT NULL)`);
    await db.query(`INSERT INTO ${t('items')} (id, name, qty) VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)`);
    await db.query(`CREATE TABLE ${t('nokey')} (a INT, b INT)`);
  });

  afterAll(async () => {
    await db?.end();
    if (url) await dropDatabase(url);
  });

  const tables = async (): Promise<string[]> => {
    const rows =
      dialect === 'mysql'
        ? await db.query<{ n: string }>('SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1')
        : await db.query<{ n: string }>("SELECT tablename AS n FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
    return rows.map((r) => r.n);
  };
  const itemsChecksum = async () => JSON.stringify(await db.query(`SELECT * FROM ${t('items')} ORDER BY id`));

  it('doctor passes on the sandbox server and never prints the password', async () => {
    const r = await cli(['doctor', '--url', url, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { ready: boolean; url: string };
    expect(out.ready).toBe(true);
    expect(out.url).toContain(':***@');
    expect(r.stdout + r.stderr).not.toContain(':ghostwright@');
  });

  it('wrong password: exit 2, a clear message, no password anywhere', async () => {
    const bad = withPassword(url, 'Wr0ngPassw0rd');
    for (const args of [
      ['doctor', '--url', bad, '--json'],
      ['alter', '--url', bad, '--table', 'items', '--alter', 'ADD COLUMN x INT', '--json'],
    ]) {
      const r = await cli(args, { GHOSTWRIGHT_DEBUG: '' });
      expect(r.code).toBe(2);
      expect(r.stdout + r.stderr).not.toContain('Wr0ngPassw0rd');
      expect(JSON.parse(r.stdout)).toMatchObject({ status: 'refused', error: { code: 'E_CONNECT' } });
    }
  });

  it('missing table: exit 2 with E_NO_TABLE', async () => {
    const r = await cli(['alter', '--url', url, '--table', 'no_such_table', '--alter', 'ADD COLUMN x INT', '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'refused', error: { code: 'E_NO_TABLE' } });
    const i = await cli(['inspect', '--url', url, '--table', 'no_such_table']);
    expect(i.code).toBe(2);
    expect(i.stderr).toContain('no_such_table');
  });

  it('no usable key: exit 2, nothing created', async () => {
    const before = await tables();
    const r = await cli(['alter', '--url', url, '--table', 'nokey', '--alter', 'ADD COLUMN x INT', '--execute', '--json']);
    expect(r.code).toBe(2);
    expect((JSON.parse(r.stdout) as { status: string }).status).toBe('refused');
    expect(await tables()).toEqual(before);
  });

  it('invalid ALTER: exit 2 with the server message, no ghost left, table untouched', async () => {
    const before = await itemsChecksum();
    const r = await cli(['alter', '--url', url, '--table', 'items', '--alter', 'ADD COLUMN broken NOT_A_TYPE', '--execute', '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'refused', error: { code: 'E_BAD_ALTER' } });
    expect(await tables()).toEqual(['items', 'nokey']);
    expect(await itemsChecksum()).toBe(before);
  });

  it('dry run proves the ALTER, prints the plan and changes nothing', async () => {
    const before = await itemsChecksum();
    const r = await cli(['alter', '--url', url, '--table', 'items', '--alter', 'ADD COLUMN note VARCHAR(20) NOT NULL DEFAULT \'x\'', '--json']);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout) as { status: string; plan: { key: { columns: string[] }; columnsAdded: string[] } };
    expect(rep.status).toBe('dry-run');
    expect(rep.plan.key.columns).toEqual(['id']);
    expect(rep.plan.columnsAdded).toEqual(['note']);
    expect(await tables()).toEqual(['items', 'nokey']);
    expect(await itemsChecksum()).toBe(before);
  });

  it('refuses a second run while a leftover ghost table exists', async () => {
    await db.query(`CREATE TABLE ${t(helpersOf(dialect, 'items').ghost)} (id INT PRIMARY KEY)`);
    try {
      const r = await cli(['alter', '--url', url, '--table', 'items', '--alter', 'ADD COLUMN z INT', '--execute', '--json']);
      expect(r.code).toBe(2);
      expect(r.stdout).toContain(helpersOf(dialect, 'items').ghost);
    } finally {
      await db.query(`DROP TABLE ${t(helpersOf(dialect, 'items').ghost)}`);
    }
  });

  it('executes an ALTER and reports done with the data intact', async () => {
    const r = await cli(['alter', '--url', url, '--table', 'items', '--alter', 'ADD COLUMN note VARCHAR(20) NOT NULL DEFAULT \'x\'', '--execute', '--ok-to-drop-table', '--json']);
    expect(r.stderr).not.toContain(':ghostwright@');
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout) as { status: string; rowsCopied: number; oldTable: string | null };
    expect(rep).toMatchObject({ status: 'done', rowsCopied: 3, oldTable: null });
    expect(await db.query(`SELECT id, name, qty, note FROM ${t('items')} ORDER BY id`)).toEqual([
      { id: 1, name: 'a', qty: 10, note: 'x' },
      { id: 2, name: 'b', qty: 20, note: 'x' },
      { id: 3, name: 'c', qty: 30, note: 'x' },
    ]);
    expect(await tables()).toEqual(['items', 'nokey']);
  });
});
