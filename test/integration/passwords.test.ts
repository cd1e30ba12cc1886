/**
 * Issue #14 item 8: a password need not be in argv. --password-file works on
 * both engines for the ledger and `alter`; a URL with a password still works
 * with one warning on stderr (not in --json stdout); --ask-pass without a
 * terminal is refused with exit 2; and a hook sees the password neither in
 * its environment nor in its parent's command line (/proc/$PPID/cmdline).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';
import { dropDatabase, freshDatabase, serverUrl, sql, uniqueName, type TestDialect, type TestSql } from '../helpers/servers.js';
import { migrationsDir } from '../fixtures/ledger/helpers.js';

const BIN = fileURLToPath(new URL('../../bin/ghostwright', import.meta.url));
const PASSWORD = 'Zq7-pw!x@9:Lm';

describe.each<TestDialect>(['mysql', 'postgres'])('%s: passwords out of argv', (dialect) => {
  let url: string;
  let db: TestSql;
  let admin: TestSql;
  let user: string;
  let bare: string;
  const work = tempDir('gw-pwi-');
  const pwFile = join(work, 'pw');

  const cli = (args: string[], env: Record<string, string> = {}, input?: string) => {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      encoding: 'utf8',
      env: { ...process.env, MYSQL_PWD: '', PGPASSWORD: '', ...env },
      timeout: 60_000,
      ...(input !== undefined ? { input } : { stdio: ['ignore', 'pipe', 'pipe'] }),
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  beforeAll(async () => {
    url = await freshDatabase(dialect, `gw_pw_${dialect}`);
    db = await sql(url);
    admin = await sql(serverUrl(dialect));
    user = uniqueName('gwpw').slice(0, 30);
    if (dialect === 'mysql') {
      await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${PASSWORD}'`);
      await admin.query(`GRANT ALL PRIVILEGES ON *.* TO '${user}'@'%'`);
    } else {
      await admin.query(`CREATE ROLE ${user} LOGIN SUPERUSER REPLICATION PASSWORD '${PASSWORD}'`);
    }
    const u = new URL(url);
    u.username = user;
    u.password = '';
    bare = u.toString();
    writeFileSync(pwFile, `${PASSWORD}\n`, { mode: 0o600 });
  });

  afterAll(async () => {
    await db?.end();
    if (url) await dropDatabase(url);
    if (dialect === 'mysql') await admin?.query(`DROP USER IF EXISTS '${user}'@'%'`);
    else await admin?.query(`DROP ROLE IF EXISTS ${user}`);
    await admin?.end();
  });

  it('migrate with --password-file: works, no warning; with the password in --url: one warning on stderr only', async () => {
    const m = migrationsDir({ 'V1__a.sql': 'CREATE TABLE a (id INT PRIMARY KEY);' });
    const ok = cli(['migrate', '--url', bare, '--password-file', pwFile, '--dir', m.dir, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).not.toMatch(/warning/);
    m.write('V2__b.sql', 'CREATE TABLE b (id INT PRIMARY KEY);');
    const withPw = new URL(bare);
    withPw.password = encodeURIComponent(PASSWORD);
    const warned = cli(['migrate', '--url', withPw.toString(), '--dir', m.dir, '--json']);
    expect(warned.code, warned.stderr).toBe(0);
    expect(warned.stderr.match(/warning: a password is in the command line \(--url\)/g)).toHaveLength(1);
    expect(warned.stderr).not.toContain(PASSWORD);
    expect(JSON.parse(warned.stdout)).toMatchObject({ command: 'migrate', status: 'done', current: '2' });
    expect(warned.stdout).not.toMatch(/warning/);
  });

  it('--ask-pass without a terminal is refused with exit 2', () => {
    const r = cli(['info', '--url', bare, '--ask-pass', '--dir', work], {}, 'typed-in\n');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--ask-pass needs a terminal/);
  });

  it('a hook sees the password neither in its environment nor in the parent command line', async () => {
    await db.query('CREATE TABLE t (id INT PRIMARY KEY, v INT)');
    const hooks = join(work, 'hooks');
    const dump = join(work, 'hook-dump');
    rmSync(hooks, { recursive: true, force: true });
    await import('node:fs').then((fs) => fs.mkdirSync(hooks));
    const hook = join(hooks, 'on-startup');
    writeFileSync(hook, `#!/bin/sh\n{ env; echo; tr '\\0' ' ' < /proc/$PPID/cmdline; } > ${dump}\n`);
    chmodSync(hook, 0o755);
    const r = cli(['alter', '--url', bare, '--password-file', pwFile, '--table', 't', '--alter', 'ADD COLUMN w INT', '--hooks-path', hooks, '--progress', 'none'], {
      APP_DB_SECRET: `prefix-${PASSWORD}`,
      DATABASE_URL: `${dialect}://${user}:${encodeURIComponent(PASSWORD)}@127.0.0.1/x`,
    });
    expect(r.code, r.stderr).toBe(0);
    const seen = readFileSync(dump, 'utf8');
    expect(seen).toContain('--password-file'); // the hook did read its parent's command line
    expect(seen).toContain('GHOSTWRIGHT_TABLE_NAME=t');
    expect(seen).not.toContain(PASSWORD);
    expect(seen).not.toContain(encodeURIComponent(PASSWORD));
    expect(seen).not.toContain('APP_DB_SECRET');
  });
});
