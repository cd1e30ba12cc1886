/**
 * What PostgreSQL binds to a table's OID must follow the swap: foreign keys
 * both ways, views (and views on views), sequences (serial and identity),
 * triggers, grants, owner, comment, storage options, RLS policies,
 * publication membership, index and constraint names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { Engine } from '../../src/engine/engine.js';
import { pgUrl } from '../helpers/servers.js';
import { openPgFixture, type PgFixture } from '../helpers/pg-fixture.js';
import { driveAlter } from '../helpers/pg-load.js';

let url: string;
let engine: Engine;
let db: pg.Client;
let fixture: PgFixture | undefined;
const role = `gw_reader_${process.pid}`;

beforeAll(async () => {
  fixture = await openPgFixture('pg_deps');
  ({ url, engine, db } = fixture);
  await db.query(`DROP ROLE IF EXISTS ${role}; CREATE ROLE ${role}`);
});

afterAll(async () => {
  await fixture?.close();
  // The test database is gone now: drop the role from the server's own test database.
  const c = new pg.Client({ connectionString: pgUrl() });
  await c.connect().then(() => c.query(`DROP ROLE IF EXISTS ${role}`)).catch(() => undefined);
  await c.end().catch(() => undefined);
});

const one = async (sql: string, params: unknown[] = []) => (await db.query(sql, params)).rows[0];

describe('dependents follow the swap', () => {
  it('carries FKs, views, sequences, triggers, grants, RLS, publication, names', async () => {
    await db.query(`
      CREATE TABLE regions (code text PRIMARY KEY);
      INSERT INTO regions VALUES ('eu'), ('us');
      CREATE TABLE accounts (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        ticket serial NOT NULL,
        region text NOT NULL REFERENCES regions(code),
        parent_id bigint REFERENCES accounts(id),
        balance int NOT NULL DEFAULT 0,
        email text NOT NULL
      ) WITH (fillfactor = 80);
      CREATE UNIQUE INDEX accounts_email_uq ON accounts (lower(email));
      CREATE INDEX accounts_region_idx ON accounts (region);
      ALTER TABLE accounts ALTER COLUMN email SET STATISTICS 500;
      COMMENT ON TABLE accounts IS 'customer accounts, it''s important';
      INSERT INTO accounts (region, balance, email) SELECT CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, g * 10, 'u' || g || '@x' FROM generate_series(1, 300) g;
      DELETE FROM accounts WHERE id > 290; -- the identity has served 300 values
      UPDATE accounts SET parent_id = 1 WHERE id BETWEEN 2 AND 10;
      CREATE TABLE orders (id serial PRIMARY KEY, account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE);
      INSERT INTO orders (account_id) SELECT g FROM generate_series(1, 50) g;
      CREATE TABLE audit (account_id bigint, at timestamptz DEFAULT now());
      CREATE FUNCTION audit_fn() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit (account_id) VALUES (NEW.id); RETURN NEW; END $$;
      CREATE TRIGGER accounts_audit AFTER INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION audit_fn();
      CREATE VIEW rich AS SELECT id, email, balance FROM accounts WHERE balance > 1000;
      CREATE VIEW rich_eu AS SELECT * FROM rich WHERE email LIKE '%x';
      GRANT SELECT, UPDATE ON accounts TO ${role};
      GRANT SELECT ON rich TO ${role};
      GRANT INSERT (email) ON accounts TO ${role};
      ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
      CREATE POLICY eu_only ON accounts FOR SELECT TO ${role} USING (region = 'eu');
      CREATE PUBLICATION app_pub FOR TABLE accounts;
    `);
    const before = await one(`SELECT 'accounts'::regclass::oid::int AS oid`);
    const { result } = await driveAlter(url, { table: { schema: 'public', name: 'accounts' }, alter: `ADD COLUMN note text DEFAULT 'n/a'`, cutOverLockTimeoutMs: 2000, dropOldTable: true, maxBacklogEvents: 1000 }, { chunkSize: 50 });
    expect(result.cutOver.oldTable).toBeNull(); // dropped: nothing still depended on it
    const after = await one(`SELECT 'accounts'::regclass::oid::int AS oid`);
    expect(after.oid).not.toBe(before.oid);
    expect(await one(`SELECT count(*)::int AS n FROM accounts`)).toEqual({ n: 290 });

    // FKs: both directions point at the new table and are validated
    const fks = (await db.query(`SELECT conname, conrelid::regclass::text AS tab, confrelid::regclass::text AS ref, convalidated FROM pg_constraint WHERE contype = 'f' ORDER BY conname`)).rows;
    expect(fks).toEqual([
      { conname: 'accounts_parent_id_fkey', tab: 'accounts', ref: 'accounts', convalidated: true },
      { conname: 'accounts_region_fkey', tab: 'accounts', ref: 'regions', convalidated: true },
      { conname: 'orders_account_id_fkey', tab: 'orders', ref: 'accounts', convalidated: true },
    ]);
    await expect(db.query(`INSERT INTO orders (account_id) VALUES (99999)`)).rejects.toThrow(/orders_account_id_fkey/);
    await db.query(`DELETE FROM accounts WHERE id = 50`);
    expect(await one(`SELECT count(*)::int AS n FROM orders WHERE account_id = 50`)).toEqual({ n: 0 }); // ON DELETE CASCADE kept

    // identity continues after the original's last value (300), serial too; trigger fires
    const ins = await one(`INSERT INTO accounts (region, balance, email) VALUES ('eu', 5000, 'new@x') RETURNING id, ticket, note`);
    expect(ins).toEqual({ id: '301', ticket: 301, note: 'n/a' });
    expect(await one(`SELECT count(*)::int AS n FROM audit WHERE account_id = 301`)).toEqual({ n: 1 });
    expect(await one(`SELECT pg_get_serial_sequence('accounts', 'id') AS s`)).toEqual({ s: 'public.accounts_id_seq' });
    expect(await one(`SELECT pg_get_serial_sequence('accounts', 'ticket') AS s`)).toEqual({ s: 'public.accounts_ticket_seq' });

    // views read the new table (the nested one too), grants kept
    expect(await one(`SELECT count(*)::int AS n FROM rich WHERE id = 301`)).toEqual({ n: 1 });
    expect(await one(`SELECT count(*)::int AS n FROM rich_eu WHERE id = 301`)).toEqual({ n: 1 });
    expect(await one(`SELECT has_table_privilege($1, 'rich', 'SELECT') AS p`, [role])).toEqual({ p: true });

    // table-level properties
    expect(await one(`SELECT has_table_privilege($1, 'accounts', 'UPDATE') AS u, has_table_privilege($1, 'accounts', 'DELETE') AS d`, [role])).toEqual({ u: true, d: false });
    expect(await one(`SELECT obj_description('accounts'::regclass, 'pg_class') AS c`)).toEqual({ c: "customer accounts, it's important" });
    expect(await one(`SELECT has_column_privilege($1, 'accounts', 'email', 'INSERT') AS e, has_column_privilege($1, 'accounts', 'region', 'INSERT') AS r`, [role])).toEqual({ e: true, r: false });
    expect(await one(`SELECT reloptions, relrowsecurity FROM pg_class WHERE oid = 'accounts'::regclass`)).toEqual({ reloptions: ['fillfactor=80'], relrowsecurity: true });
    expect(await one(`SELECT polname, pg_get_expr(polqual, polrelid) AS q FROM pg_policy WHERE polrelid = 'accounts'::regclass`)).toEqual({ polname: 'eu_only', q: "(region = 'eu'::text)" });
    expect(await one(`SELECT count(*)::int AS n FROM pg_publication_tables WHERE pubname = 'app_pub' AND tablename = 'accounts'`)).toEqual({ n: 1 });
    expect(await one(`SELECT attstattarget FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attname = 'email'`)).toEqual({ attstattarget: 500 });
    const idx = (await db.query(`SELECT indexrelid::regclass::text AS n FROM pg_index WHERE indrelid = 'accounts'::regclass ORDER BY 1`)).rows.map((r) => r.n);
    expect(idx).toEqual(['accounts_email_uq', 'accounts_pkey', 'accounts_region_idx']);
    // nothing of ours is left
    expect(await one(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE '\\_accounts\\_%'`)).toEqual({ n: 0 });
    expect(await one(`SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name LIKE 'ghostwright%' AND database = current_database()`)).toEqual({ n: 0 });
  });

  it('recreates a view whose column type changed, with its grants', async () => {
    await db.query(`
      CREATE TABLE prices (id int PRIMARY KEY, amount int NOT NULL);
      INSERT INTO prices SELECT g, g FROM generate_series(1, 100) g;
      CREATE VIEW cheap AS SELECT id, amount FROM prices WHERE amount < 10;
      GRANT SELECT ON cheap TO ${role};
      COMMENT ON VIEW cheap IS 'cheap ones';
    `);
    await driveAlter(url, { table: { schema: 'public', name: 'prices' }, alter: `ALTER COLUMN amount TYPE numeric(10,2)`, cutOverLockTimeoutMs: 2000, dropOldTable: true, maxBacklogEvents: 1000 });
    expect(await one(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'cheap'::regclass AND attname = 'amount'`)).toEqual({ t: 'numeric(10,2)' });
    expect(await one(`SELECT count(*)::int AS n FROM cheap`)).toEqual({ n: 9 });
    expect(await one(`SELECT has_table_privilege($1, 'cheap', 'SELECT') AS p`, [role])).toEqual({ p: true });
    expect(await one(`SELECT obj_description('cheap'::regclass, 'pg_class') AS c`)).toEqual({ c: 'cheap ones' });
  });

  it('lets the ALTER name the original constraints: drop a unique key, move the primary key', async () => {
    await db.query(`
      CREATE TABLE tags (id int NOT NULL, code text NOT NULL, v int, CONSTRAINT tags_pkey PRIMARY KEY (id), CONSTRAINT tags_code_key UNIQUE (code), CONSTRAINT tags_v_uq UNIQUE (v));
      INSERT INTO tags SELECT g, 'c' || g, g FROM generate_series(1, 200) g;
    `);
    await driveAlter(url, { table: { schema: 'public', name: 'tags' }, alter: 'DROP CONSTRAINT tags_v_uq, DROP CONSTRAINT tags_pkey, ADD PRIMARY KEY (code)', cutOverLockTimeoutMs: 2000, dropOldTable: true, maxBacklogEvents: 1000 }, {
      chunkSize: 30,
      betweenChunks: async (n) => {
        if (n === 1) await db.query(`UPDATE tags SET code = code || 'x', v = -v WHERE id % 10 = 0`);
      },
    });
    const cons = (await db.query(`SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'tags'::regclass ORDER BY conname`)).rows;
    expect(cons).toEqual([
      { conname: 'tags_code_key', def: 'UNIQUE (code)' },
      { conname: 'tags_pkey', def: 'PRIMARY KEY (code)' },
    ]);
    expect(await one(`SELECT count(*)::int AS n, count(*) FILTER (WHERE code LIKE '%x' AND v < 0)::int AS changed FROM tags`)).toEqual({ n: 200, changed: 20 });
    expect(await one(`SELECT relreplident FROM pg_class WHERE oid = 'tags'::regclass`)).toEqual({ relreplident: 'd' });
  });
});
