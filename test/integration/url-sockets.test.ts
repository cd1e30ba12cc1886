/**
 * Issue #14 item 2: a URL reaches the server it names. Through the CLI:
 * a MySQL URL with ?socket= connects through that socket (an ignored socket
 * once sent the run to localhost:3306), a PostgreSQL URL with a socket
 * directory as host connects there, and a parameter we would ignore is
 * refused with exit 2 before anything connects. The migration records where
 * it ran (port, data directory, how the client was seen), which proves the
 * server reached.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropDatabase, freshDatabase, sql, type TestDialect, type TestSql } from '../helpers/servers.js';
import { migrationsDir } from '../fixtures/ledger/helpers.js';

const BIN = fileURLToPath(new URL('../../bin/ghostwright', import.meta.url));

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, MYSQL_PWD: '', PGPASSWORD: '' }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const RECORD: Record<TestDialect, string> = {
  mysql:
    'CREATE TABLE reached AS SELECT @@port AS port, @@datadir AS datadir, ' +
    '(SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()) AS client_host;',
  postgres: "CREATE TABLE reached AS SELECT current_setting('port') AS port, current_setting('data_directory') AS datadir, inet_server_addr() IS NULL AS via_socket;",
};

describe.each<TestDialect>(['mysql', 'postgres'])('%s: URLs reach the server they name', (dialect) => {
  let url: string;
  let db: TestSql;
  let where: { port: string; datadir: string; socket: string };

  beforeAll(async () => {
    url = await freshDatabase(dialect, `gw_url_${dialect}`);
    db = await sql(url);
    if (dialect === 'mysql') {
      const [r] = await db.query<{ port: number; datadir: string; socket: string }>('SELECT @@port AS port, @@datadir AS datadir, @@socket AS socket');
      where = { port: String(r!.port), datadir: r!.datadir, socket: r!.socket };
    } else {
      const port = String(await db.value("SELECT current_setting('port')"));
      const datadir = String(await db.value("SELECT current_setting('data_directory')"));
      const dirs = String(await db.value("SELECT current_setting('unix_socket_directories')"));
      where = { port, datadir, socket: dirs.split(',')[0]!.trim() };
    }
  });

  afterAll(async () => {
    await db?.end();
    if (url) await dropDatabase(url);
  });

  it('connects through the unix socket in the URL', async () => {
    const u = new URL(url);
    const auth = `${u.username}:${u.password}`;
    const database = u.pathname.slice(1);
    // Host and port that reach nothing: only the socket can make this run work.
    const socketUrl =
      dialect === 'mysql'
        ? `mysql://${auth}@localhost:1/${database}?socket=${encodeURIComponent(where.socket)}`
        : `postgres://${auth}@/${database}?host=${encodeURIComponent(where.socket)}&port=${where.port}`;
    const m = migrationsDir({ 'V1__where.sql': RECORD[dialect] });
    const r = cli(['migrate', '--url', socketUrl, '--dir', m.dir, '--json', '--log-level', 'warn']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(u.password);
    const [row] = await db.query<Record<string, unknown>>('SELECT * FROM reached');
    expect(String(row!.port)).toBe(where.port);
    expect(row!.datadir).toBe(where.datadir);
    if (dialect === 'mysql') expect(row!.client_host).toBe('localhost');
    else expect(row!.via_socket).toBe(true);
  });

  it('refuses a parameter it would ignore, with exit 2, before connecting', () => {
    const bad = dialect === 'mysql' ? `${url}?sokcet=/tmp/mysql.sock` : `${url}?application_name=x`;
    const m = migrationsDir({ 'V1__t.sql': 'CREATE TABLE never_created (id INT);' });
    const r = cli(['migrate', '--url', bad, '--dir', m.dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(dialect === 'mysql' ? /parameter "sokcet"/ : /parameter "application_name"/);
    expect(r.stderr).toMatch(/accepted parameters: /);
  });
});
