import { describe, expect, it } from 'vitest';
import { checkGrants, parseGrant } from '../../src/engine/mysql/grants.js';
import { binlogChecks, parseVersion } from '../../src/engine/mysql/checks.js';
import { isDdlOnTable, keyNormalizer } from '../../src/engine/mysql/binlog-decode.js';
import { comparePositions, withoutSqlModes } from '../../src/engine/mysql/connect.js';

describe('SHOW GRANTS parsing', () => {
  it('parses global and schema grants', () => {
    const g = parseGrant("GRANT SELECT, INSERT, UPDATE (a, b), REPLICATION SLAVE ON *.* TO `u`@`%`")!;
    expect([...g.privileges]).toEqual(['SELECT', 'INSERT', 'UPDATE', 'REPLICATION SLAVE']);
    expect(g.database).toBe('*');
    const s = parseGrant('GRANT ALL PRIVILEGES ON `shop\\_db`.* TO `u`@`localhost` WITH GRANT OPTION')!;
    expect(s.database).toBe('shop\\_db');
    expect(s.privileges.has('ALL PRIVILEGES')).toBe(true);
  });

  it('reports what is missing, per flavor', () => {
    const lines = ['GRANT USAGE ON *.* TO `u`@`%`', 'GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP ON `shop`.* TO `u`@`%`'];
    expect(checkGrants(lines, 'shop', 'mariadb')).toEqual({ missingGlobal: ['REPLICATION SLAVE', 'BINLOG MONITOR'], missingSchema: ['ALTER', 'LOCK TABLES'] });
    expect(checkGrants(lines, 'other', 'mysql').missingSchema).toHaveLength(8);
    const ok = ['GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `u`@`%`', 'GRANT ALL PRIVILEGES ON `sh%`.* TO `u`@`%`'];
    expect(checkGrants(ok, 'shop', 'mysql')).toEqual({ missingGlobal: [], missingSchema: [] });
    // An escaped underscore is literal: shop_db matches, shopXdb doesn't.
    const esc = ['GRANT ALL ON *.* TO x', 'GRANT ALL PRIVILEGES ON `shop\\_db`.* TO `u`@`%`'];
    expect(checkGrants(esc.slice(1), 'shopXdb', 'mysql').missingSchema.length).toBe(8);
    expect(checkGrants(esc.slice(1), 'shop_db', 'mysql').missingSchema.length).toBe(0);
    expect(checkGrants(['GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost`'], 'any', 'mariadb')).toEqual({ missingGlobal: [], missingSchema: [] });
  });
});

describe('binlog checks', () => {
  const info = { dialect: 'mysql' as const, flavor: 'mariadb', version: '10.11.6-MariaDB', versionNumber: 101106 };
  it('parses versions', () => {
    expect(parseVersion('10.11.19-MariaDB-0+deb12u1')).toEqual({ flavor: 'mariadb', versionNumber: 101119 });
    expect(parseVersion('8.0.36')).toEqual({ flavor: 'mysql', versionNumber: 80036 });
  });
  it('fails STATEMENT format with the exact fix', () => {
    const checks = binlogChecks(info, { log_bin: 'ON', binlog_format: 'STATEMENT', binlog_row_image: 'FULL', binlog_row_metadata: 'FULL', server_id: '1' });
    const fmt = checks.find((c) => c.id === 'binlog-format')!;
    expect(fmt.ok).toBe(false);
    expect(fmt.severity).toBe('error');
    expect(fmt.fix).toContain('SET GLOBAL binlog_format=ROW');
    expect(checks.filter((c) => !c.ok).map((c) => c.id)).toEqual(['binlog-format']);
  });
  it('warns (not errors) when the server has no binlog_row_metadata', () => {
    const checks = binlogChecks(info, { log_bin: 'ON', binlog_format: 'ROW', binlog_row_image: 'MINIMAL', binlog_row_metadata: null, server_id: '0' });
    expect(checks.filter((c) => !c.ok).map((c) => `${c.id}:${c.severity}`)).toEqual(['binlog-row-image:error', 'binlog-row-metadata:warn', 'server-id:error']);
  });
});

describe('stream helpers', () => {
  it('re-pads BINARY(n) keys', () => {
    const [f] = keyNormalizer(['binary(4)']);
    expect(f!(Buffer.from([1]))).toEqual(Buffer.from([1, 0, 0, 0]));
    const [v] = keyNormalizer(['varbinary(4)']);
    expect(v!(Buffer.from([1]))).toEqual(Buffer.from([1]));
  });
  it('detects DDL on the table only', () => {
    expect(isDdlOnTable('ALTER TABLE `orders` ADD x INT', 'orders')).toBe(true);
    expect(isDdlOnTable('alter table shop.orders add x int', 'orders')).toBe(true);
    expect(isDdlOnTable('TRUNCATE TABLE orders', 'orders')).toBe(true);
    expect(isDdlOnTable('TRUNCATE orders', 'orders')).toBe(true);
    expect(isDdlOnTable('ALTER TABLE items ADD COLUMN orders INT', 'orders')).toBe(false);
    expect(isDdlOnTable('DROP TABLE IF EXISTS `_orders_gho`', 'orders')).toBe(false);
    expect(isDdlOnTable('RENAME TABLE orders TO x', 'orders')).toBe(true);
    expect(isDdlOnTable('INSERT INTO orders VALUES (1)', 'orders')).toBe(false);
  });
  it('orders binlog positions across files', () => {
    expect(comparePositions({ file: 'b.000010', position: 4 }, { file: 'b.000009', position: 9999 })).toBeGreaterThan(0);
    expect(comparePositions({ file: 'b.000002', position: 100 }, { file: 'b.000002', position: 200 })).toBeLessThan(0);
  });
});

describe('session sql_mode', () => {
  it('removes modes as whole comma-separated items', () => {
    expect(withoutSqlModes(['STRICT_TRANS_TABLES', 'NO_BACKSLASH_ESCAPES'])).toBe(
      "SET SESSION sql_mode = TRIM(BOTH ',' FROM REPLACE(REPLACE(CONCAT(',', @@SESSION.sql_mode, ','), ',STRICT_TRANS_TABLES,', ','), ',NO_BACKSLASH_ESCAPES,', ','))",
    );
  });
});
