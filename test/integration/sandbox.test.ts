import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startMysql, startPostgres, startSandbox, stopSandbox, sandboxStatus } from '../../src/sandbox/index.js';
import { requireBinary } from '../../src/sandbox/process.js';
import { RefusedError } from '../../src/errors.js';
import { databaseOf, freshDatabase, hasMysql, hasMysqlReplica, hasPgStandby, hasPostgres, mysqlReplicaUrl, mysqlUrl, pgStandbyUrl, pgUrl, sql, withDatabase } from '../helpers/servers.js';

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const tempDirs: string[] = [];
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!hasMysql())('MySQL/MariaDB test server', () => {
  it('runs with the binlog settings ghostwright needs', async () => {
    const db = await sql(mysqlUrl());
    try {
      const [row] = await db.query<Record<string, unknown>>(
        'SELECT @@GLOBAL.binlog_format AS format, @@GLOBAL.binlog_row_image AS image, @@GLOBAL.binlog_row_metadata AS metadata, @@GLOBAL.log_bin AS log_bin',
      );
      expect({ ...row, log_bin: Number(row?.log_bin) }).toEqual({ format: 'ROW', image: 'FULL', metadata: 'FULL', log_bin: 1 });
    } finally {
      await db.end();
    }
  });

  it.skipIf(!hasMysqlReplica())('replicates a write on the primary to the replica', async () => {
    const url = await freshDatabase('mysql', 'sandbox_repl');
    const db = await sql(url);
    try {
      await db.query('CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))');
      await db.query('INSERT INTO t VALUES (1, ?)', ['from primary']);
    } finally {
      await db.end();
    }
    const replica = await eventually(() => sql(withDatabase(mysqlReplicaUrl(), databaseOf(url))));
    try {
      const v = await eventually(() => replica.value<string>('SELECT v FROM t WHERE id = 1'));
      expect(v).toBe('from primary');
    } finally {
      await replica.end();
    }
  });
});

describe.skipIf(!hasPostgres())('PostgreSQL test server', () => {
  it('runs with wal_level=logical', async () => {
    const db = await sql(pgUrl());
    try {
      expect(await db.value('SHOW wal_level')).toBe('logical');
    } finally {
      await db.end();
    }
  });

  it.skipIf(!hasPgStandby())('streams a write on the primary to the standby', async () => {
    const url = await freshDatabase('postgres', 'sandbox_repl');
    const db = await sql(url);
    try {
      await db.query('CREATE TABLE t (id int PRIMARY KEY, v text)');
      await db.query('INSERT INTO t VALUES (1, $1)', ['from primary']);
    } finally {
      await db.end();
    }
    const standby = await eventually(() => sql(withDatabase(pgStandbyUrl(), databaseOf(url))));
    try {
      const v = await eventually(() => standby.value<string>('SELECT v FROM t WHERE id = 1'));
      expect(v).toBe('from primary');
      expect(await standby.value('SELECT pg_is_in_recovery()')).toBe(true);
    } finally {
      await standby.end();
    }
  });
});

describe('sandbox servers with overridden settings', () => {
  it('starts a MariaDB/MySQL server with binlog_format=STATEMENT when asked', async () => {
    const server = await startMysql({ dir: tempDir('gw-sbx-m-'), overrides: { binlog_format: 'STATEMENT' } });
    try {
      const db = await sql(server.url);
      try {
        expect(await db.value('SELECT @@GLOBAL.binlog_format')).toBe('STATEMENT');
        expect(await db.value('SELECT DATABASE()')).toBe('ghostwright_test');
      } finally {
        await db.end();
      }
    } finally {
      await server.stop();
    }
  });

  it('starts a PostgreSQL server with wal_level=replica when asked', async () => {
    const server = await startPostgres({ dir: tempDir('gw-sbx-p-'), overrides: { wal_level: 'replica' } });
    try {
      const db = await sql(server.url);
      try {
        expect(await db.value('SHOW wal_level')).toBe('replica');
        expect(await db.value('SELECT current_database()')).toBe('ghostwright_test');
      } finally {
        await db.end();
      }
    } finally {
      await server.stop();
    }
  });
});

describe('sandbox lifecycle', () => {
  it('starts both engines, reports them alive, stops them by pid and removes its files', async () => {
    const dir = join(tempDir('gw-sbx-life-'), 'sb');
    const sandbox = await startSandbox({ dir, mysql: true, postgres: true, replicas: false });
    expect(sandbox.manifest.processes.map((p) => p.role).sort()).toEqual(['mysql-primary', 'postgres-primary']);
    expect(existsSync(join(dir, 'sandbox.json'))).toBe(true);
    const status = sandboxStatus(dir);
    expect(status.allAlive).toBe(true);
    await expect(startSandbox({ dir, mysql: true, postgres: false })).rejects.toMatchObject({ code: 'E_SANDBOX_RUNNING' });

    const stopped = await stopSandbox(dir);
    expect(stopped.every((s) => !s.alive)).toBe(true);
    expect(existsSync(dir)).toBe(false);
    expect(sandboxStatus(dir).exists).toBe(false);
  });

  it('refuses a directory holding server files without a sandbox.json', async () => {
    const dir = tempDir('gw-sbx-dirty-');
    mkdirSync(join(dir, 'mysql'));
    await expect(startSandbox({ dir, mysql: true, postgres: false })).rejects.toMatchObject({ code: 'E_SANDBOX_DIRTY' });
  });

  it('refuses with E_SANDBOX_BINARY and the package to install when a binary is missing', () => {
    let err: unknown;
    try {
      requireBinary(['ghostwright-no-such-server'], 'mariadb-server', ['/nonexistent']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RefusedError);
    expect(err).toMatchObject({ code: 'E_SANDBOX_BINARY', hint: expect.stringContaining('mariadb-server') });
  });
});
