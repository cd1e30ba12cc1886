/**
 * Issue 14 item 1: a second statement smuggled into --alter. PostgreSQL once
 * ran `ADD COLUMN w int; DROP TABLE victim` as one simple query, in a dry run
 * too. Each hostile command runs through the built CLI, dry run and
 * --execute, on both engines: exit 2, E_BAD_ALTER, `victim` still there with
 * its rows, `t` unchanged, nothing created. Then the second layer on its
 * own: the statement path that carries user text refuses a second statement
 * even if the parser were bypassed. And --table is taken exactly (item 10).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConnectionUrl } from '../../src/connection.js';
import { openConnection } from '../../src/engine/mysql/connect.js';
import { dropDatabase, freshDatabase, sql, type TestDialect, type TestSql } from '../helpers/servers.js';
import { ISSUE_INJECTIONS } from '../fixtures/injections.js';

const BIN = fileURLToPath(new URL('../../bin/ghostwright', import.meta.url));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const HOSTILE = ISSUE_INJECTIONS;

describe.each(['postgres', 'mysql'] as TestDialect[])('--alter injection on %s', (dialect) => {
  let url: string;
  let db: TestSql;

  beforeAll(async () => {
    url = await freshDatabase(dialect, `inj_${dialect}`);
    db = await sql(url);
    await db.query('CREATE TABLE t (id INT NOT NULL PRIMARY KEY, v INT NOT NULL)');
    await db.query('INSERT INTO t (id, v) VALUES (1, 10), (2, 20)');
    await db.query('CREATE TABLE victim (id INT NOT NULL PRIMARY KEY)');
    await db.query('INSERT INTO victim (id) VALUES (1), (2), (3)');
    // LEAD is a reserved word (window function) on MariaDB.
    await db.query(`CREATE TABLE ${dialect === 'mysql' ? '`lead`' : 'lead'} (id INT NOT NULL PRIMARY KEY)`);
  });

  afterAll(async () => {
    await db?.end();
    if (url) await dropDatabase(url);
  });

  const state = async (): Promise<string> => {
    const tables =
      dialect === 'mysql'
        ? await db.query('SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1')
        : await db.query("SELECT relname AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1");
    const cols =
      dialect === 'mysql'
        ? await db.query("SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('t', 'lead') ORDER BY TABLE_NAME, ORDINAL_POSITION")
        : await db.query("SELECT attname AS c FROM pg_attribute WHERE attrelid IN ('t'::regclass, 'lead'::regclass) AND attnum > 0 AND NOT attisdropped ORDER BY attrelid, attnum");
    const victim = await db.query('SELECT id FROM victim ORDER BY id');
    const t = await db.query('SELECT id, v FROM t ORDER BY id');
    return JSON.stringify({ tables, cols, victim, t });
  };

  it.each(HOSTILE.flatMap((alter) => [[alter, false] as const, [alter, true] as const]))('refuses %j (execute=%s): exit 2, victim kept, nothing created', async (alter, execute) => {
    const before = await state();
    expect(before).toContain('victim');
    const r = await cli(['alter', '--url', url, '--table', 't', '--alter', alter, ...(execute ? ['--execute'] : []), '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'refused', error: { code: 'E_BAD_ALTER' } });
    expect(await state()).toBe(before);
  });

  it('still accepts a whole ALTER TABLE of the same table (dry run leaves nothing)', async () => {
    const before = await state();
    const r = await cli(['alter', '--url', url, '--table', 't', '--alter', 'ALTER TABLE t ADD COLUMN w int, ADD COLUMN x int;', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'dry-run', plan: { columnsAdded: ['w', 'x'] } });
    // The ghost's probe reads the catalog on one client: one query at a time (pg warned, and pg@9 refuses).
    expect(r.stderr).not.toContain('DeprecationWarning');
    expect(await state()).toBe(before);
    const other = await cli(['alter', '--url', url, '--table', 't', '--alter', 'ALTER TABLE victim ADD COLUMN w int', '--execute', '--json']);
    expect(other.code).toBe(2);
    expect(JSON.parse(other.stdout)).toMatchObject({ status: 'refused', error: { code: 'E_BAD_ALTER', message: expect.stringContaining('"victim"') } });
    expect(await state()).toBe(before);
  });

  it('the connection that runs user text refuses a second statement by itself', async () => {
    const before = await state();
    const text = 'ALTER TABLE t ADD COLUMN z int; DROP TABLE victim';
    if (dialect === 'postgres') {
      const { oneStatement } = await import('../../src/engine/postgres/connect.js');
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        // 42601: cannot insert multiple commands into a prepared statement.
        await expect(client.query(oneStatement(text))).rejects.toMatchObject({ code: '42601' });
      } finally {
        await client.end();
      }
    } else {
      const conn = await openConnection(parseConnectionUrl(url), { multipleStatements: false });
      try {
        // ER_PARSE_ERROR: without CLIENT_MULTI_STATEMENTS the server parses one statement only.
        await expect(conn.query(text)).rejects.toMatchObject({ errno: 1064 });
      } finally {
        await conn.end();
      }
    }
    expect(await state()).toBe(before);
  });

  it.runIf(dialect === 'postgres')('a PostgreSQL dry run commits no DDL: the ghost lives in a rolled-back transaction', async () => {
    // An event trigger logs every DDL command that ends; the log row commits
    // only if the DDL does. The old dry run created and dropped a real ghost.
    await db.query('CREATE TABLE ddl_log (tag text, obj text)');
    await db.query(`CREATE FUNCTION log_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
      DECLARE r record; BEGIN FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP INSERT INTO ddl_log VALUES (r.command_tag, r.object_identity); END LOOP; END $$`);
    await db.query('CREATE EVENT TRIGGER log_ddl ON ddl_command_end EXECUTE FUNCTION log_ddl()');
    try {
      const r = await cli(['alter', '--url', url, '--table', 't', '--alter', 'ADD COLUMN w int', '--json']);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ status: 'dry-run', plan: { columnsAdded: ['w'] } });
      expect(await db.query('SELECT tag, obj FROM ddl_log')).toEqual([]);
    } finally {
      await db.query('DROP EVENT TRIGGER log_ddl');
      await db.query('DROP FUNCTION log_ddl()');
      await db.query('DROP TABLE ddl_log');
    }
  });

  it("--table ' lead' is not lead: exit 2 E_NO_TABLE, lead untouched", async () => {
    const before = await state();
    for (const name of [' lead', 'lead ', ' lead ']) {
      const r = await cli(['alter', '--url', url, '--table', name, '--alter', 'ADD COLUMN w int', '--execute', '--json']);
      expect(r.code, name).toBe(2);
      expect(JSON.parse(r.stdout), name).toMatchObject({ status: 'refused', error: { code: 'E_NO_TABLE' } });
    }
    expect(await state()).toBe(before);
  });
});
