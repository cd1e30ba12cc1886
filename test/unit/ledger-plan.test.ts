import { beforeAll, describe, expect, it } from 'vitest';
import { classifyAlter, splitAlterHead } from '../../src/ledger/alter-class.js';
import { mustRunOutsideTransaction } from '../../src/ledger/non-transactional.js';
import { loadParsers } from '../../src/ledger/parsers.js';
import { decideAlterPath, planStatements } from '../../src/ledger/plan.js';
import { splitStatements } from '../../src/ledger/splitter.js';
import type { TableInfo, TableRef } from '../../src/engine/engine.js';
import { parseTableRef as mysqlTableRef, quoteIdent as mysqlQuote } from '../../src/engine/mysql/ident.js';
import { parseTableRef as pgTableRef, quoteIdent as pgQuote } from '../../src/engine/postgres/ident.js';

beforeAll(loadParsers);

const cost = (sql: string, d: 'mysql' | 'postgres') => classifyAlter(sql, d)?.cost;

describe('ALTER classification (PostgreSQL, libpg_query)', () => {
  it('metadata-only changes', () => {
    for (const sql of [
      'ALTER TABLE t ADD COLUMN a int',
      "ALTER TABLE t ADD COLUMN a jsonb DEFAULT '{}'",
      'ALTER TABLE t ADD COLUMN a timestamptz NOT NULL DEFAULT now()',
      'ALTER TABLE t DROP COLUMN a',
      'ALTER TABLE t ALTER COLUMN a SET DEFAULT 1, ALTER COLUMN b DROP DEFAULT',
      'ALTER TABLE t ALTER COLUMN a DROP NOT NULL',
      'ALTER TABLE t RENAME COLUMN a TO b',
      'ALTER TABLE t RENAME TO u',
      'ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES u(id) NOT VALID',
      'ALTER TABLE t VALIDATE CONSTRAINT fk',
    ]) expect(cost(sql, 'postgres'), sql).toBe('metadata');
  });
  it('rewrites and locking scans', () => {
    expect(cost('ALTER TABLE t ALTER COLUMN a TYPE bigint', 'postgres')).toBe('rewrite');
    expect(cost('ALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid()', 'postgres')).toBe('rewrite');
    expect(cost('ALTER TABLE t ADD COLUMN id2 bigserial', 'postgres')).toBe('rewrite');
    expect(cost('ALTER TABLE t SET TABLESPACE x', 'postgres')).toBe('rewrite');
    expect(cost('ALTER TABLE t ALTER COLUMN a SET NOT NULL', 'postgres')).toBe('locking');
    expect(cost('ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0)', 'postgres')).toBe('locking');
    expect(cost('ALTER TABLE t ADD COLUMN a int, ALTER COLUMN b TYPE text', 'postgres')).toBe('rewrite');
    expect(cost('CREATE INDEX i ON t (a)', 'postgres')).toBeUndefined();
  });
  it('keeps the schema and the clause text for the online engine', () => {
    const c = classifyAlter('ALTER TABLE ONLY "s"."Big" ALTER COLUMN a TYPE bigint USING a::bigint, ADD COLUMN b int', 'postgres')!;
    expect(c).toMatchObject({ schema: 's', table: 'Big', clauses: 'ALTER COLUMN a TYPE bigint USING a::bigint, ADD COLUMN b int' });
    expect(c.parts.map((p) => p.cost)).toEqual(['rewrite', 'metadata']);
    expect(splitAlterHead('-- c\nALTER TABLE IF EXISTS `db`.`t` ADD x int', 'mysql')).toEqual({ schema: 'db', table: 't', clauses: 'ADD x int' });
  });
});

describe('the ALTER TABLE head, read by the dialect lexer', () => {
  it('unquotes and folds names as the server does; comments and a missing space are no obstacle', () => {
    expect(splitAlterHead('ALTER TABLE "My Table" ADD COLUMN c int', 'postgres')).toEqual({ schema: null, table: 'My Table', clauses: 'ADD COLUMN c int' });
    expect(splitAlterHead('ALTER TABLE Sales.BigOrders ADD COLUMN c int', 'postgres')).toEqual({ schema: 'sales', table: 'bigorders', clauses: 'ADD COLUMN c int' });
    expect(splitAlterHead('ALTER TABLE "x;y"."a""b"ADD COLUMN c int;', 'postgres')).toEqual({ schema: 'x;y', table: 'a"b', clauses: 'ADD COLUMN c int' });
    expect(splitAlterHead('ALTER TABLE ONLY /* c */ "T" ADD COLUMN c int', 'postgres')).toEqual({ schema: null, table: 'T', clauses: 'ADD COLUMN c int' });
    expect(splitAlterHead('ALTER TABLE MyDb.MyTable ADD c int', 'mysql')).toEqual({ schema: 'MyDb', table: 'MyTable', clauses: 'ADD c int' });
    expect(splitAlterHead('ALTER TABLE `a``b` ALTER COLUMN c SET DEFAULT 1', 'mysql')).toEqual({ schema: null, table: 'a`b', clauses: 'ALTER COLUMN c SET DEFAULT 1' });
    expect(splitAlterHead('ALTER TABLE `t`ADD c int # note', 'mysql')).toEqual({ schema: null, table: 't', clauses: 'ADD c int' });
    expect(splitAlterHead('ALTER TABLE t', 'mysql')).toBeNull();
    expect(splitAlterHead('ALTER TABLE "unterminated ADD c int', 'postgres')).toBeNull();
    expect(splitAlterHead('ALTER VIEW v AS SELECT 1', 'postgres')).toBeNull();
  });
  it('classifies a mixed-case or quoted table under its real name', () => {
    expect(classifyAlter('ALTER TABLE `My Table` MODIFY a BIGINT', 'mysql')).toMatchObject({ schema: null, table: 'My Table', cost: 'rewrite' });
    expect(classifyAlter('ALTER TABLE "My Table" ALTER COLUMN a TYPE bigint', 'postgres')).toMatchObject({ schema: null, table: 'My Table', cost: 'rewrite' });
  });
});

describe('ALTER classification (MySQL, node-sql-parser + keyword fallback)', () => {
  it('INSTANT candidates, metadata, rewrites', () => {
    expect(cost('ALTER TABLE t ADD COLUMN a int', 'mysql')).toBe('instant');
    expect(cost('ALTER TABLE t ADD COLUMN a int, DROP COLUMN b, RENAME COLUMN c TO d', 'mysql')).toBe('instant');
    expect(cost('ALTER TABLE t ALTER COLUMN f SET DEFAULT 3', 'mysql')).toBe('instant');
    expect(cost('ALTER TABLE t DROP INDEX ix', 'mysql')).toBe('metadata');
    expect(cost('ALTER TABLE t MODIFY COLUMN b bigint', 'mysql')).toBe('rewrite');
    expect(cost('ALTER TABLE t ADD INDEX ix (a)', 'mysql')).toBe('locking');
    expect(cost('ALTER TABLE t ADD COLUMN a int, ENGINE=InnoDB', 'mysql')).toBe('rewrite');
    expect(cost('ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES u(id)', 'mysql')).toBe('rewrite');
    expect(classifyAlter('ALTER TABLE shop.orders ADD COLUMN a int', 'mysql')).toMatchObject({ schema: 'shop', table: 'orders', clauses: 'ADD COLUMN a int' });
  });
});

describe('path decision', () => {
  const cls = (sql: string, d: 'mysql' | 'postgres') => classifyAlter(sql, d)!;
  it('metadata runs directly whatever the size', () => {
    expect(decideAlterPath({ dialect: 'postgres', cls: cls('ALTER TABLE t ADD COLUMN a int', 'postgres'), estimatedRows: 5e9, threshold: 1e6 })).toMatchObject({ path: 'direct' });
  });
  it('rewrites above the threshold go online, below run directly', () => {
    const c = cls('ALTER TABLE t ALTER COLUMN a TYPE bigint', 'postgres');
    const big = decideAlterPath({ dialect: 'postgres', cls: c, estimatedRows: 2_000_000, threshold: 1_000_000 });
    expect(big.path).toBe('online');
    expect(big.why).toBe('~2000000 rows > online threshold 1000000; ALTER COLUMN TYPE rewrites the table and its indexes under ACCESS EXCLUSIVE');
    expect(decideAlterPath({ dialect: 'postgres', cls: c, estimatedRows: 1_000_000, threshold: 1_000_000 }).path).toBe('direct');
  });
  it('MySQL tries INSTANT first with a size-based fallback', () => {
    const c = cls('ALTER TABLE t ADD COLUMN a int', 'mysql');
    expect(decideAlterPath({ dialect: 'mysql', cls: c, estimatedRows: 10, threshold: 5 })).toMatchObject({ path: 'instant', fallback: 'online' });
    expect(decideAlterPath({ dialect: 'mysql', cls: c, estimatedRows: 1, threshold: 5 })).toMatchObject({ path: 'instant', fallback: 'direct' });
  });
});

describe('statements that cannot run in a transaction', () => {
  it('detects them', () => {
    for (const sql of ['CREATE INDEX CONCURRENTLY i ON t(a)', 'create unique index concurrently i on t(a)', 'DROP INDEX CONCURRENTLY i', 'REINDEX INDEX CONCURRENTLY i', 'VACUUM ANALYZE t', '/* x */ VACUUM t']) {
      expect(mustRunOutsideTransaction(sql, 150000), sql).toBe(true);
    }
    expect(mustRunOutsideTransaction("ALTER TYPE mood ADD VALUE 'meh'", 110000)).toBe(true);
    expect(mustRunOutsideTransaction("ALTER TYPE mood ADD VALUE 'meh'", 150000)).toBe(false);
    expect(mustRunOutsideTransaction('CREATE INDEX i ON t(a)', 150000)).toBe(false);
    expect(mustRunOutsideTransaction("INSERT INTO t VALUES ('VACUUM')", 150000)).toBe(false);
  });
});

describe('planStatements', () => {
  const engine = (dialect: 'mysql' | 'postgres', rows: Record<string, number>) => ({
    dialect,
    capabilities: { transactionalDdl: dialect === 'postgres', instantAddColumn: true, maxIdentifierBytes: 63, identifierLimit: { max: 63, unit: 'bytes' as const }, schemas: dialect === 'postgres' },
    // The engines' own quoting and --table reading: the plan's table text must survive that round trip.
    tableRef: (name: string): TableRef => (dialect === 'postgres' ? pgTableRef(name, 'public') : mysqlTableRef(name, 'app')),
    quoteIdent: dialect === 'postgres' ? pgQuote : mysqlQuote,
    inspect: async (ref: TableRef) => {
      const n = rows[ref.name];
      if (n === undefined) throw new Error('no table');
      return { estimatedRows: n } as TableInfo;
    },
  });
  it('decides each statement of a PostgreSQL file', async () => {
    const text = 'CREATE TABLE n (id int);\nALTER TABLE big ALTER COLUMN a TYPE bigint;\nALTER TABLE small ALTER COLUMN a TYPE bigint;\nCREATE INDEX CONCURRENTLY i ON big (a);\nALTER TABLE n ALTER COLUMN id TYPE bigint;';
    const plan = await planStatements({ engine: engine('postgres', { big: 5000, small: 10 }), serverVersion: 150000, onlineThreshold: 1000 }, splitStatements(text, 'postgres'));
    expect(plan.map((p) => p.path)).toEqual(['direct', 'online', 'direct', 'no-transaction', 'direct']);
    expect(plan[1]!.alter).toEqual({ table: '"big"', ref: { schema: 'public', name: 'big' }, clauses: 'ALTER COLUMN a TYPE bigint', estimatedRows: 5000 });
    expect(plan[4]!.alter?.estimatedRows).toBe(0);
  });
  it('keeps quoted and mixed-case names as the dialect reads them (the online engine gets them quoted)', async () => {
    const pgText = 'ALTER TABLE "My Table" ALTER COLUMN a TYPE bigint;\nALTER TABLE "Sales"."BigOrders" ALTER COLUMN a TYPE bigint;\nALTER TABLE BigOrders ALTER COLUMN a TYPE bigint;\nALTER TABLE "a""b" ALTER COLUMN a TYPE bigint;';
    const pgPlan = await planStatements({ engine: engine('postgres', { 'My Table': 5000, BigOrders: 5000, bigorders: 5000, 'a"b': 5000 }), serverVersion: 150000, onlineThreshold: 1000 }, splitStatements(pgText, 'postgres'));
    expect(pgPlan.map((p) => p.alter && { table: p.alter.table, ref: p.alter.ref })).toEqual([
      { table: '"My Table"', ref: { schema: 'public', name: 'My Table' } },
      { table: '"Sales"."BigOrders"', ref: { schema: 'Sales', name: 'BigOrders' } },
      { table: '"bigorders"', ref: { schema: 'public', name: 'bigorders' } },
      { table: '"a""b"', ref: { schema: 'public', name: 'a"b' } },
    ]);
    const myText = 'ALTER TABLE `My Table` MODIFY a BIGINT;\nALTER TABLE `shop`.`BigOrders` MODIFY a BIGINT;\nALTER TABLE `a``b` MODIFY a BIGINT;\nALTER TABLE /* c */ `t`MODIFY a BIGINT;';
    const myPlan = await planStatements({ engine: engine('mysql', { 'My Table': 5000, BigOrders: 5000, 'a`b': 5000, t: 5000 }), serverVersion: 0, onlineThreshold: 1000 }, splitStatements(myText, 'mysql'));
    expect(myPlan.map((p) => p.alter && { table: p.alter.table, ref: p.alter.ref, clauses: p.alter.clauses })).toEqual([
      { table: '`My Table`', ref: { schema: 'app', name: 'My Table' }, clauses: 'MODIFY a BIGINT' },
      { table: '`shop`.`BigOrders`', ref: { schema: 'shop', name: 'BigOrders' }, clauses: 'MODIFY a BIGINT' },
      { table: '`a``b`', ref: { schema: 'app', name: 'a`b' }, clauses: 'MODIFY a BIGINT' },
      { table: '`t`', ref: { schema: 'app', name: 't' }, clauses: 'MODIFY a BIGINT' },
    ]);
  });
  it('refuses BEGIN/COMMIT in a file where the file already runs in a transaction', async () => {
    const ctx = { engine: engine('postgres', {}), serverVersion: 150000, onlineThreshold: 1000 };
    await expect(planStatements(ctx, splitStatements('BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;', 'postgres'))).rejects.toMatchObject({ code: 'E_TRANSACTION_CONTROL', exitCode: 2 });
    const plan = await planStatements({ ...ctx, engine: engine('mysql', {}) }, splitStatements('START TRANSACTION;\nINSERT INTO a VALUES (1);\nCOMMIT;', 'mysql'));
    expect(plan.map((p) => p.path)).toEqual(['direct', 'direct', 'direct']);
    expect((await planStatements(ctx, splitStatements('DO $$ BEGIN PERFORM 1; END $$;', 'postgres'))).length).toBe(1);
  });
});
