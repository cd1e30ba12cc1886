/**
 * The MySQL engine against the real sandbox server: connecting, inspect,
 * doctor (good primary and a bad STATEMENT-format server).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMysqlEngine } from '../../src/engine/mysql/index.js';
import { parseConnectionUrl } from '../../src/connection.js';
import { silentLogger } from '../../src/log.js';
import { RefusedError } from '../../src/errors.js';
import type { Engine } from '../../src/engine/engine.js';
import { startMysql } from '../../src/sandbox/mysql.js';
import { dropDatabase, freshDatabase, hasMysqlReplica, mysqlReplicaUrl, sql, withDatabase, databaseOf } from '../helpers/servers.js';

let url: string;
let engine: Engine;

beforeAll(async () => {
  url = await freshDatabase('mysql', 'mysql_engine');
  engine = await createMysqlEngine(parseConnectionUrl(url), silentLogger);
});

afterAll(async () => {
  await engine?.close();
  if (url) await dropDatabase(url);
});

describe('connect', () => {
  it('refuses a wrong password with E_CONNECT, a hint, and no password in the text', async () => {
    const u = new URL(url);
    u.password = 'S3cretWrong!';
    const err = await createMysqlEngine(parseConnectionUrl(u.toString()), silentLogger).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefusedError);
    const e = err as RefusedError;
    expect(e.code).toBe('E_CONNECT');
    expect(e.hint).toMatch(/password/);
    expect(e.message).not.toContain('S3cretWrong!');
    expect(JSON.stringify(e.toJSON())).not.toContain('S3cretWrong!');
  });

  it('refuses a missing database and a closed port', async () => {
    const noDb = await createMysqlEngine(parseConnectionUrl(withDatabase(url, 'no_such_db_here')), silentLogger).catch((e: unknown) => e);
    expect((noDb as RefusedError).code).toBe('E_CONNECT');
    expect((noDb as RefusedError).hint).toMatch(/does not exist/);
    const u = new URL(url);
    u.port = '1';
    const closed = await createMysqlEngine(parseConnectionUrl(u.toString()), silentLogger).catch((e: unknown) => e);
    expect((closed as RefusedError).code).toBe('E_UNREACHABLE');
    expect((closed as RefusedError).hint).toMatch(/nothing listens/);
  });

  it('reports the server and runs SQL', async () => {
    const info = await engine.serverInfo();
    expect(info.flavor).toMatch(/mariadb|mysql/);
    expect(info.versionNumber).toBeGreaterThan(50000);
    const r = await engine.execute('CREATE TABLE x (id INT PRIMARY KEY); INSERT INTO x VALUES (1), (2); SELECT COUNT(*) AS n FROM x');
    // BIGINT results stay exact strings (bigNumberStrings).
    expect(r.rows).toEqual([{ n: '2' }]);
    expect(r.affectedRows).toBe(2);
    const s = await engine.openSession();
    await s.query('START TRANSACTION');
    await s.query('DELETE FROM x WHERE id = ?', [1]);
    await s.query('ROLLBACK');
    await s.close();
    expect((await engine.execute('SELECT COUNT(*) AS n FROM x')).rows[0]).toEqual({ n: '2' });
    expect(engine.tableRef('x')).toEqual({ schema: databaseOf(url), name: 'x' });
  });
});

describe('inspect', () => {
  beforeAll(async () => {
    await engine.execute(`
      CREATE TABLE parent (id INT NOT NULL PRIMARY KEY) ENGINE=InnoDB;
      CREATE TABLE inspected (
        tenant INT UNSIGNED NOT NULL,
        id BIGINT NOT NULL AUTO_INCREMENT,
        code VARCHAR(32) COLLATE utf8mb4_bin NOT NULL,
        parent_id INT NULL DEFAULT NULL,
        price DECIMAL(10,2) NOT NULL DEFAULT '1.50',
        doubled DECIMAL(11,2) AS (price * 2) VIRTUAL,
        label VARCHAR(64) AS (CONCAT(code, '!')) STORED,
        note TEXT,
        PRIMARY KEY (tenant, id),
        UNIQUE KEY uk_code (code),
        UNIQUE KEY uk_nullable (parent_id, tenant),
        UNIQUE KEY uk_prefix (note(20)),
        KEY idx_id (id),
        CONSTRAINT fk_parent FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE SET NULL
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
      CREATE TABLE child (id INT PRIMARY KEY, t INT UNSIGNED NOT NULL, i BIGINT NOT NULL, CONSTRAINT fk_child FOREIGN KEY (t, i) REFERENCES inspected (tenant, id));
      CREATE TRIGGER trg_ins BEFORE INSERT ON inspected FOR EACH ROW SET NEW.price = NEW.price;
      CREATE VIEW v_inspected AS SELECT tenant, id FROM inspected;
      INSERT INTO parent VALUES (1);
    `);
  });

  it('reads columns, keys, foreign keys both ways, triggers and views', async () => {
    const info = await engine.inspect(engine.tableRef('inspected'));
    const col = (n: string) => info.columns.find((c) => c.name === n)!;
    expect(info.columns.map((c) => c.name)).toEqual(['tenant', 'id', 'code', 'parent_id', 'price', 'doubled', 'label', 'note']);
    // MySQL 8 prints integer types without a display width.
    expect(col('tenant')).toMatchObject({ nullable: false, generated: null, identity: null });
    expect(col('tenant').type).toMatch(/^int(\(10\))? unsigned$/);
    expect(col('id')).toMatchObject({ identity: 'auto_increment' });
    expect(col('id').type).toMatch(/^bigint(\(20\))?$/);
    expect(col('code')).toMatchObject({ type: 'varchar(32)', collation: 'utf8mb4_bin' });
    expect(col('parent_id')).toMatchObject({ nullable: true, default: null });
    expect(col('price').default).toBe('1.50');
    expect(col('doubled')).toMatchObject({ generated: 'virtual' });
    expect(col('doubled').generationExpression).toMatch(/price/);
    expect(col('label')).toMatchObject({ generated: 'stored' });

    expect(info.primaryKey).toMatchObject({ name: 'PRIMARY', columns: ['tenant', 'id'], usableForCopy: true, primary: true });
    expect(info.copyKey?.name).toBe('PRIMARY');
    const uk = (n: string) => info.uniqueKeys.find((k) => k.name === n)!;
    expect(uk('uk_code')).toMatchObject({ columns: ['code'], usableForCopy: true, hasNullableColumn: false });
    expect(uk('uk_nullable')).toMatchObject({ usableForCopy: false, hasNullableColumn: true });
    expect(uk('uk_prefix')).toMatchObject({ usableForCopy: false, reason: 'prefix key part' });
    expect(info.indexes.map((i) => i.name)).toContain('idx_id');

    expect(info.foreignKeys).toEqual([
      { name: 'fk_parent', table: info.ref, columns: ['parent_id'], referencedTable: { schema: info.ref.schema, name: 'parent' }, referencedColumns: ['id'], onUpdate: 'RESTRICT', onDelete: 'SET NULL' },
    ]);
    expect(info.referencedBy).toHaveLength(1);
    expect(info.referencedBy[0]).toMatchObject({ name: 'fk_child', columns: ['t', 'i'], referencedColumns: ['tenant', 'id'] });
    expect(info.triggers).toMatchObject([{ name: 'trg_ins', timing: 'BEFORE', events: ['INSERT'] }]);
    expect(info.dependentViews).toEqual([`${info.ref.schema}.v_inspected`]);
    expect(info.partitioned).toBe(false);
    expect(info.extra).toMatchObject({ engine: 'InnoDB', charset: 'utf8mb4' });
  });

  it('picks the first usable unique key without a primary key', async () => {
    await engine.execute('CREATE TABLE nopk (a INT NULL, b VARCHAR(10) NOT NULL, c INT NOT NULL, UNIQUE KEY u_a (a), UNIQUE KEY u_bc (b, c))');
    const info = await engine.inspect(engine.tableRef('nopk'));
    expect(info.primaryKey).toBeNull();
    expect(info.copyKey).toMatchObject({ name: 'u_bc', columns: ['b', 'c'] });
    await engine.execute('CREATE TABLE nokey (a INT)');
    expect((await engine.inspect(engine.tableRef('nokey'))).copyKey).toBeNull();
  });

  it('lists partitions', async () => {
    await engine.execute('CREATE TABLE parted (id INT NOT NULL PRIMARY KEY, v INT) PARTITION BY HASH (id) PARTITIONS 3');
    const info = await engine.inspect(engine.tableRef('parted'));
    expect(info.partitioned).toBe(true);
    expect(info.partitions).toEqual(['p0', 'p1', 'p2']);
  });

  it('refuses a missing table or schema with E_NO_TABLE', async () => {
    for (const ref of [engine.tableRef('nope'), { schema: 'no_such_schema_x', name: 't' }, engine.tableRef('v_inspected')]) {
      const err = await engine.inspect(ref).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RefusedError);
      expect((err as RefusedError).code).toBe('E_NO_TABLE');
    }
  });
});

describe('doctor', () => {
  it('passes on the sandbox primary', async () => {
    const replicas = hasMysqlReplica() ? [parseConnectionUrl(withDatabase(mysqlReplicaUrl(), databaseOf(url)))] : [];
    const checks = await engine.doctor(replicas);
    const failed = checks.filter((c) => !c.ok && c.severity === 'error');
    expect(failed).toEqual([]);
    expect(checks.map((c) => c.id)).toEqual(expect.arrayContaining(['server-version', 'log-bin', 'binlog-format', 'binlog-row-image', 'binlog-row-metadata', 'server-id', 'gtid', 'privileges', 'lock-wait-timeout']));
    if (replicas.length) {
      const r = checks.find((c) => c.id.startsWith('replica:'))!;
      expect(r.detail).toMatch(/Seconds_Behind_Master=\d/);
    }
  });

  it('reports an unreachable replica as an error with a fix', async () => {
    const u = new URL(url);
    u.port = '1';
    const checks = await engine.doctor([parseConnectionUrl(u.toString())]);
    const r = checks.find((c) => c.id.startsWith('replica:'))!;
    expect(r).toMatchObject({ ok: false, severity: 'error' });
    expect(r.fix).toBeTruthy();
  });

  it('flags privileges a limited user lacks', async () => {
    const db = await sql(url);
    const name = databaseOf(url);
    try {
      await db.query("CREATE USER IF NOT EXISTS 'gw_limited'@'%' IDENTIFIED BY 'limitedpw'");
      await db.query(`GRANT SELECT, INSERT ON \`${name}\`.* TO 'gw_limited'@'%'`);
    } finally {
      await db.end();
    }
    const u = new URL(url);
    u.username = 'gw_limited';
    u.password = 'limitedpw';
    const limited = await createMysqlEngine(parseConnectionUrl(u.toString()), silentLogger);
    try {
      const checks = await limited.doctor([]);
      const p = checks.find((c) => c.id === 'privileges')!;
      expect(p.ok).toBe(false);
      expect(p.detail).toContain('REPLICATION SLAVE');
      expect(p.fix).toMatch(/GRANT .*LOCK TABLES/);
    } finally {
      await limited.close();
    }
  });

  it('fails on a server with binlog_format=STATEMENT, with the fix', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-mybad-'));
    const bad = await startMysql({ dir, overrides: { binlog_format: 'STATEMENT', binlog_row_image: 'MINIMAL' } });
    try {
      const e = await createMysqlEngine(parseConnectionUrl(bad.url), silentLogger);
      try {
        const checks = await e.doctor([]);
        const fmt = checks.find((c) => c.id === 'binlog-format')!;
        expect(fmt).toMatchObject({ ok: false, severity: 'error', detail: 'binlog_format=STATEMENT' });
        expect(fmt.fix).toContain('SET GLOBAL binlog_format=ROW');
        expect(checks.find((c) => c.id === 'binlog-row-image')).toMatchObject({ ok: false, severity: 'error' });
        expect(checks.find((c) => c.id === 'log-bin')?.ok).toBe(true);
      } finally {
        await e.close();
      }
    } finally {
      await bad.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
