import { beforeAll, describe, expect, it } from 'vitest';
import { catalogue, lintText, type LintRuleId } from '../../src/ledger/lint/index.js';
import { loadParsers } from '../../src/ledger/parsers.js';

beforeAll(loadParsers);

type D = 'mysql' | 'postgres';
const LT_PG = "SET lock_timeout = '5s';\n";
const LT_MY = 'SET SESSION lock_wait_timeout = 5;\n';
const ids = (sql: string, dialect: D) => lintText(sql, 'V1__x.sql', { dialect }).map((f) => f.id);

/** [rule, dialect, positive, negative] — lock timeout set first so only the rule under test fires. */
const CASES: [LintRuleId, D, string, string][] = [
  ['add-not-null-without-default', 'postgres', 'ALTER TABLE users ADD COLUMN priority int NOT NULL;', 'ALTER TABLE users ADD COLUMN priority int NOT NULL DEFAULT 0;'],
  ['add-not-null-without-default', 'mysql', 'ALTER TABLE users ADD COLUMN priority int NOT NULL;', 'ALTER TABLE users ADD COLUMN priority int NULL;'],
  ['drop-column', 'postgres', 'ALTER TABLE orders DROP COLUMN legacy_field;', 'ALTER TABLE orders ADD COLUMN tracking_number varchar(100);'],
  ['drop-column', 'mysql', 'ALTER TABLE orders DROP COLUMN legacy_field;', 'ALTER TABLE orders DROP INDEX ix_legacy;'],
  ['drop-table', 'postgres', 'DROP TABLE old_orders;', 'DROP VIEW old_orders_v;'],
  ['drop-table', 'mysql', 'DROP TABLE old_orders;', 'DROP VIEW old_orders_v;'],
  ['rename-column', 'postgres', 'ALTER TABLE orders RENAME COLUMN total TO order_total;', 'ALTER TABLE orders RENAME CONSTRAINT c1 TO c2;'],
  ['rename-column', 'mysql', 'ALTER TABLE orders RENAME COLUMN total TO order_total;', 'ALTER TABLE orders CHANGE total total bigint;'],
  ['rename-table', 'postgres', 'ALTER TABLE orders RENAME TO purchases;', 'ALTER INDEX ix RENAME TO ix2;'],
  ['rename-table', 'mysql', 'RENAME TABLE orders TO purchases;', 'ALTER TABLE orders ADD COLUMN c int;'],
  ['change-column-type', 'postgres', 'ALTER TABLE orders ALTER COLUMN total TYPE numeric(12,2);', 'ALTER TABLE orders ALTER COLUMN total SET DEFAULT 0;'],
  ['change-column-type', 'mysql', 'ALTER TABLE orders MODIFY COLUMN total decimal(12,2);', 'ALTER TABLE orders ALTER COLUMN total SET DEFAULT 0;'],
  ['table-rewrite', 'postgres', 'ALTER TABLE orders SET TABLESPACE fast;', 'ALTER TABLE orders SET (fillfactor = 90);'],
  ['table-rewrite', 'mysql', 'ALTER TABLE orders ENGINE=InnoDB;', 'ALTER TABLE orders COMMENT = "x";'],
  ['create-index-not-concurrently', 'postgres', 'CREATE INDEX idx_users_status ON users(status);', 'CREATE INDEX CONCURRENTLY idx_users_status ON users(status);'],
  ['foreign-key-not-valid', 'postgres', 'ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users(id);', 'ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users(id) NOT VALID;'],
  ['check-not-valid', 'postgres', 'ALTER TABLE orders ADD CONSTRAINT pos CHECK (total >= 0);', 'ALTER TABLE orders ADD CONSTRAINT pos CHECK (total >= 0) NOT VALID;'],
  ['set-not-null', 'postgres', 'ALTER TABLE users ALTER COLUMN status SET NOT NULL;', 'ALTER TABLE users ALTER COLUMN status DROP NOT NULL;'],
  ['vacuum-full-cluster', 'postgres', 'VACUUM FULL orders;', 'VACUUM ANALYZE orders;'],
  ['vacuum-full-cluster', 'postgres', 'CLUSTER orders USING orders_pkey;', 'ANALYZE orders;'],
  ['truncate', 'postgres', 'TRUNCATE orders;', 'DELETE FROM orders WHERE id < 10;'],
  ['truncate', 'mysql', 'TRUNCATE TABLE orders;', 'DELETE FROM orders WHERE id < 10;'],
  ['unbatched-backfill', 'postgres', "UPDATE users SET status = 'active';", "UPDATE users SET status = 'active' WHERE id BETWEEN 1 AND 1000;"],
  ['unbatched-backfill', 'mysql', "UPDATE users SET status = 'active';", "UPDATE users SET status = 'active' WHERE id < 1000;"],
  ['expand-contract', 'postgres', 'ALTER TABLE users ADD COLUMN full_name text;\nALTER TABLE users DROP COLUMN first_name;', 'ALTER TABLE users ADD COLUMN full_name text;\nALTER TABLE accounts DROP COLUMN first_name;'],
  ['expand-contract', 'mysql', 'ALTER TABLE users ADD COLUMN full_name text, DROP COLUMN first_name;', 'ALTER TABLE users ADD COLUMN full_name text;'],
];

describe('lint catalogue', () => {
  it('has stable ids with one doc line, a severity and a fix each', () => {
    const rules = catalogue();
    expect(rules.length).toBeGreaterThanOrEqual(15);
    for (const r of rules) {
      expect(r.id).toMatch(/^[a-z-]+$/);
      expect(r.doc).not.toContain('\n');
      expect(['refuse', 'warn', 'delegate']).toContain(r.severity);
      expect(r.fix.length).toBeGreaterThan(10);
    }
    const covered = new Set(CASES.map((c) => c[0]));
    for (const r of rules) if (r.id !== 'missing-lock-timeout') expect(covered.has(r.id as LintRuleId), r.id).toBe(true);
  });

  for (const [id, dialect, positive, negative] of CASES) {
    const prefix = dialect === 'postgres' ? LT_PG : LT_MY;
    it(`${id} (${dialect}): flags "${positive.split('\n')[0]}"`, () => {
      expect(ids(prefix + positive, dialect)).toContain(id);
    });
    it(`${id} (${dialect}): passes "${negative.split('\n')[0]}"`, () => {
      expect(ids(prefix + negative, dialect)).not.toContain(id);
    });
  }

  it('missing-lock-timeout: once per file, not after SET lock_timeout / lock_wait_timeout', () => {
    expect(ids('ALTER TABLE a ADD COLUMN b int;\nALTER TABLE c ADD COLUMN d int;', 'postgres').filter((i) => i === 'missing-lock-timeout')).toHaveLength(1);
    expect(ids(LT_PG + 'ALTER TABLE a ADD COLUMN b int;', 'postgres')).not.toContain('missing-lock-timeout');
    expect(ids('ALTER TABLE a ADD COLUMN b int;', 'mysql')).toContain('missing-lock-timeout');
    expect(ids(LT_MY + 'ALTER TABLE a ADD COLUMN b int;', 'mysql')).not.toContain('missing-lock-timeout');
    expect(ids('SET lock_wait_timeout = 5;\nALTER TABLE a ADD COLUMN b int;', 'mysql')).not.toContain('missing-lock-timeout');
  });

  it('placeholders do not hide findings', () => {
    expect(ids(LT_PG + 'ALTER TABLE ${schema}.users DROP COLUMN x;', 'postgres')).toEqual(['drop-column']);
    expect(ids(LT_MY + 'ALTER TABLE ${prefix}users DROP COLUMN x;', 'mysql')).toEqual(['drop-column']);
  });

  it('tables created in the same file are not flagged', () => {
    expect(ids('CREATE TABLE t (id int, a int);\nCREATE INDEX i ON t (a);\nALTER TABLE t ALTER COLUMN a SET NOT NULL;', 'postgres')).toEqual([]);
    expect(ids('CREATE TABLE t (id int);\nALTER TABLE t ADD COLUMN a int NOT NULL;', 'mysql')).toEqual([]);
  });

  it('reports id, severity, file:line, why and fix; ignore comments suppress', () => {
    const sql = `${LT_PG}\nCREATE INDEX i ON users (a);\n-- ghostwright:ignore drop-column\nALTER TABLE t DROP COLUMN x;\nDROP TABLE z; -- ghostwright:ignore drop-table, truncate\n`;
    const f = lintText(sql, 'V3__x.sql', { dialect: 'postgres' });
    expect(f).toEqual([
      expect.objectContaining({ id: 'create-index-not-concurrently', severity: 'refuse', file: 'V3__x.sql', line: 3, statement: 'CREATE INDEX i ON users (a)' }),
    ]);
    expect(f[0]!.why).toMatch(/SHARE lock/);
    expect(f[0]!.fix).toMatch(/CONCURRENTLY/);
  });
});
