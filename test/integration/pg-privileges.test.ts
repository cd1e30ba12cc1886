/**
 * A role that does not own the table: the cut-over (renames, sequences
 * moved with OWNED BY) is the owner's to do. Before, such a run copied the
 * whole table and failed only at cut-over ("sequence must have same owner as
 * table"). Preflight now refuses (exit 2) before anything is written, and
 * each fix it prints works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { runOnlineAlter } from '../../src/alter.js';
import { alterOptions } from '../../src/core/options.js';
import { databaseOf, dropDatabase, freshDatabase, pgUrl } from '../helpers/servers.js';

let url: string;
let admin: pg.Client;
const suffix = Math.random().toString(36).slice(2, 8);
const OWNER = `gw_owner_${suffix}`;
const RUNNER = `gw_runner_${suffix}`;
const OTHER = `gw_other_${suffix}`;

const as = (role: string): string => {
  const u = new URL(url);
  u.username = role;
  u.password = 'pw';
  return u.toString();
};

beforeAll(async () => {
  url = await freshDatabase('postgres', 'pg_priv');
  admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE ROLE ${OWNER} LOGIN PASSWORD 'pw'`);
  await admin.query(`CREATE ROLE ${OTHER}`);
  await admin.query(`GRANT CREATE, USAGE ON SCHEMA public TO ${OTHER}`);
  // Everything the copy and the stream need, and membership in the owner role (so renames would pass).
  await admin.query(`CREATE ROLE ${RUNNER} LOGIN PASSWORD 'pw' REPLICATION IN ROLE ${OWNER}`);
  await admin.query(`GRANT CREATE, USAGE ON SCHEMA public TO ${OWNER}, ${RUNNER}`);
  await admin.query(`GRANT CREATE ON DATABASE "${databaseOf(url)}" TO ${RUNNER}`);
  await admin.query(`CREATE TABLE owned (id serial PRIMARY KEY, v text NOT NULL)`);
  await admin.query(`INSERT INTO owned (v) SELECT 'v' || g FROM generate_series(1, 500) g`);
  await admin.query(`ALTER TABLE owned OWNER TO ${OWNER}`);
  await admin.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON owned TO ${RUNNER}`);
});

afterAll(async () => {
  await admin?.end();
  if (url) await dropDatabase(url);
  const c = new pg.Client({ connectionString: pgUrl() });
  await c.connect();
  for (const r of [RUNNER, OWNER, OTHER]) await c.query(`DROP ROLE IF EXISTS ${r}`).catch(() => undefined);
  await c.end();
});

const snapshot = async () => ({
  oid: (await admin.query(`SELECT 'owned'::regclass::oid::int AS o`)).rows[0].o,
  rows: (await admin.query(`SELECT md5(string_agg(id || ':' || v, ',' ORDER BY id)) AS h FROM owned`)).rows[0].h,
  helpers: (await admin.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname ~ '^_owned_'`)).rows[0].n,
  slots: (await admin.query(`SELECT count(*)::int AS n FROM pg_replication_slots WHERE database = current_database()`)).rows[0].n,
  pubs: (await admin.query(`SELECT count(*)::int AS n FROM pg_publication`)).rows[0].n,
});

describe('PostgreSQL: a role that does not own the table', () => {
  it('is refused in preflight (exit 2) with the exact fixes, before anything is written', async () => {
    const before = await snapshot();
    const started = Date.now();
    const report = await runOnlineAlter(alterOptions({ url: as(RUNNER), table: 'owned', alter: 'ADD COLUMN w int NOT NULL DEFAULT 1', execute: true, cutOverLockTimeoutMs: 2000 }));
    expect(report.status, JSON.stringify(report.error)).toBe('refused');
    expect(report.error?.code).toBe('E_PREFLIGHT_TABLE_OWNER');
    expect(report.error?.message).toContain(`public.owned is owned by ${OWNER}`);
    expect(report.error?.hint).toContain(`ALTER TABLE "public"."owned" OWNER TO "${RUNNER}";`);
    expect(report.error?.hint).toContain(`ALTER ROLE "${RUNNER}" IN DATABASE "${databaseOf(url)}" SET role = "${OWNER}";`);
    expect(report.error?.hint).toContain(`GRANT CREATE ON DATABASE "${databaseOf(url)}" TO "${OWNER}";`);
    expect(report.rowsCopied).toBe(0);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(await snapshot()).toEqual(before);
  });

  it("the printed SET ROLE fix works: the same run then completes and keeps the owner", async () => {
    await admin.query(`ALTER ROLE "${RUNNER}" IN DATABASE "${databaseOf(url)}" SET role = "${OWNER}"`);
    await admin.query(`ALTER ROLE "${OWNER}" REPLICATION`);
    await admin.query(`GRANT CREATE ON DATABASE "${databaseOf(url)}" TO "${OWNER}"`);
    try {
      const report = await runOnlineAlter(alterOptions({ url: as(RUNNER), table: 'owned', alter: 'ADD COLUMN w int NOT NULL DEFAULT 1', execute: true, cutOverLockTimeoutMs: 2000 }));
      expect(report.status, JSON.stringify(report.error)).toBe('done');
    } finally {
      await admin.query(`ALTER ROLE "${RUNNER}" IN DATABASE "${databaseOf(url)}" RESET role`);
    }
    const t = (await admin.query(`SELECT pg_get_userbyid(relowner) AS o FROM pg_class WHERE oid = 'owned'::regclass`)).rows[0];
    expect(t.o).toBe(OWNER);
    expect((await admin.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE w = 1)::int AS w FROM owned`)).rows[0]).toEqual({ n: 500, w: 500 });
    // the serial keeps counting on the new table
    await admin.query(`INSERT INTO owned (v) VALUES ('after')`);
    expect((await admin.query(`SELECT id FROM owned WHERE v = 'after'`)).rows[0].id).toBe(501);
  });

  it('a view on the table owned by a role we do not act for is refused with its ALTER VIEW ... OWNER TO', async () => {
    await admin.query(`CREATE TABLE viewed (id int PRIMARY KEY, v text); INSERT INTO viewed SELECT g, 'v' FROM generate_series(1, 50) g`);
    await admin.query(`ALTER TABLE viewed OWNER TO ${RUNNER}`);
    await admin.query(`CREATE VIEW viewed_v AS SELECT id, v FROM viewed; ALTER VIEW viewed_v OWNER TO ${OTHER}`);
    const report = await runOnlineAlter(alterOptions({ url: as(RUNNER), table: 'viewed', alter: 'ADD COLUMN w int', execute: true }));
    expect(report.status, JSON.stringify(report.error)).toBe('refused');
    expect(report.error?.code).toBe('E_PREFLIGHT_DEPENDENT_OWNER');
    expect(report.error?.hint).toContain(`ALTER VIEW public.viewed_v OWNER TO "${RUNNER}";`);
    expect(report.rowsCopied).toBe(0);
  });
});
