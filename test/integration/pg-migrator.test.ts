/**
 * End to end through core's runOnlineAlter on PostgreSQL, under a concurrent
 * mirrored write load: after each ALTER every surviving column of every row
 * must equal the mirror (written in the same transactions as the load).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { runOnlineAlter } from '../../src/alter.js';
import { alterOptions } from '../../src/core/options.js';
import { silentLogger } from '../../src/log.js';
import { dropDatabase, freshDatabase } from '../helpers/servers.js';
import { MirroredLoad, diffDigests, rowDigests } from '../helpers/pg-load.js';

let url: string;
let db: pg.Client;
const N = 5000;

beforeAll(async () => {
  url = await freshDatabase('postgres', 'pg_e2e');
  db = new pg.Client({ connectionString: url });
  await db.connect();
});

afterAll(async () => {
  await db?.end();
  if (url) await dropDatabase(url);
});

interface Case {
  name: string;
  /** column list of CREATE TABLE (same for table and mirror) */
  columns: string;
  /** extra DDL for the table only (keys), `%` = table name */
  keys: (t: string) => string;
  fill?: (t: string) => string;
  alter: string;
  /** columns compared after the ALTER */
  compare: string[];
  key?: string;
  uuidKey?: boolean;
  check?: (t: string) => Promise<void>;
}

const BASE = 'id bigint NOT NULL, qty int NOT NULL, note varchar(300) NOT NULL, price numeric(14,4)';
const PK = (t: string) => `ALTER TABLE ${t} ADD PRIMARY KEY (id)`;
const FILL = (t: string) => `INSERT INTO ${t} (id, qty, note, price) SELECT g, g % 1000, 'note ' || g, g * 1.25 FROM generate_series(1, ${N}) g`;
const ALL = ['id', 'qty', 'note', 'price'];

const cases: Case[] = [
  { name: 'add column with default', columns: BASE, keys: PK, alter: 'ADD COLUMN flag boolean NOT NULL DEFAULT true', compare: ALL, check: async (t) => expect((await db.query(`SELECT count(*)::int AS n FROM ${t} WHERE flag IS NOT TRUE`)).rows[0].n).toBe(0) },
  {
    name: 'add column with a volatile default',
    columns: BASE,
    keys: PK,
    alter: 'ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid()',
    compare: ALL,
    check: async (t) => expect((await db.query(`SELECT count(*) = count(DISTINCT token) AS ok FROM ${t}`)).rows[0].ok).toBe(true),
  },
  { name: 'drop column', columns: BASE, keys: PK, alter: 'DROP COLUMN price', compare: ['id', 'qty', 'note'] },
  { name: 'int -> bigint', columns: BASE, keys: PK, alter: 'ALTER COLUMN qty TYPE bigint', compare: ALL, check: colType('qty', 'bigint') },
  { name: 'varchar -> text', columns: BASE, keys: PK, alter: 'ALTER COLUMN note TYPE text', compare: ALL, check: colType('note', 'text') },
  { name: 'drop and add NOT NULL', columns: BASE, keys: PK, alter: 'ALTER COLUMN qty DROP NOT NULL, ALTER COLUMN price SET NOT NULL', compare: ALL },
  { name: 'add CHECK', columns: BASE, keys: PK, alter: 'ADD CONSTRAINT qty_range CHECK (qty >= 0 AND qty < 1000)', compare: ALL },
  {
    name: 'composite primary key',
    columns: `tenant int NOT NULL DEFAULT 1, ${BASE}`,
    keys: (t) => `ALTER TABLE ${t} ADD PRIMARY KEY (tenant, id)`,
    fill: (t) => `INSERT INTO ${t} (tenant, id, qty, note, price) SELECT g % 3, g, g % 1000, 'n' || g, g FROM generate_series(1, ${N}) g`,
    alter: 'ADD COLUMN extra text',
    compare: ['tenant', ...ALL],
    key: `tenant::text || ':' || id::text`,
  },
  {
    name: 'uuid primary key',
    columns: `uid uuid NOT NULL, ${BASE}`,
    keys: (t) => `ALTER TABLE ${t} ADD PRIMARY KEY (uid)`,
    fill: (t) => `INSERT INTO ${t} (uid, id, qty, note, price) SELECT md5(g::text)::uuid, g, g % 1000, 'n' || g, g FROM generate_series(1, ${N}) g`,
    alter: 'ALTER COLUMN qty TYPE bigint',
    compare: ['uid', ...ALL],
    key: 'uid',
    uuidKey: true,
  },
  { name: 'unique NOT NULL key only (no primary key)', columns: BASE, keys: (t) => `CREATE UNIQUE INDEX ${t}_id_uq ON ${t} (id)`, alter: 'ADD COLUMN extra int DEFAULT 1', compare: ALL },
];

function colType(col: string, type: string) {
  return async (t: string) => expect((await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2`, [t, col])).rows[0].t).toBe(type);
}

describe('runOnlineAlter on PostgreSQL under load', () => {
  cases.forEach((c, i) => {
    it(c.name, async () => {
      const t = `e2e_${i}`;
      const m = `${t}_mirror`;
      for (const tab of [t, m]) {
        await db.query(`CREATE TABLE ${tab} (${c.columns})`);
        await db.query((c.fill ?? FILL)(tab));
      }
      await db.query(c.keys(t));
      await db.query(`ALTER TABLE ${m} ADD PRIMARY KEY (${c.key === 'uid' ? 'uid' : c.key ? 'tenant, id' : 'id'})`);
      await db.query(`ANALYZE ${t}`);
      const load = new MirroredLoad({ url, table: t, mirror: m, workers: 2, firstNewId: N + 1, maxExistingId: N, pauseMs: 3, uuidKey: c.uuidKey ?? false });
      load.start();
      const report = await runOnlineAlter(alterOptions({ url, table: t, alter: c.alter, execute: true, chunkSize: 500, dropOldTable: true, cutOverLockTimeoutMs: 2000 }), { log: silentLogger });
      await new Promise((r) => setTimeout(r, 100));
      await load.stop();
      expect(report.error).toBeUndefined();
      expect(report.status).toBe('done');
      expect(report.oldTable).toBeNull();
      expect(load.stats.commits).toBeGreaterThan(10);
      const key = c.key ?? 'id';
      const a = await rowDigests(db, t, key, c.compare);
      const b = await rowDigests(db, m, key, c.compare);
      expect(diffDigests(a, b)).toEqual([]);
      expect(a.size).toBe(b.size);
      await c.check?.(t);
      const left = await db.query(`SELECT (SELECT count(*)::int FROM pg_replication_slots WHERE slot_name LIKE 'ghostwright%' AND database = current_database()) AS s,
        (SELECT count(*)::int FROM pg_publication WHERE pubname LIKE 'ghostwright%') AS p, (SELECT count(*)::int FROM pg_class WHERE relname LIKE $1) AS h`, [`\\_${t}\\_%`]);
      expect(left.rows[0]).toEqual({ s: 0, p: 0, h: 0 });
    });
  });

  it('text -> jsonb USING (the expression is applied by copy and apply)', async () => {
    for (const tab of ['docs', 'docs_mirror']) {
      await db.query(`CREATE TABLE ${tab} (id int PRIMARY KEY, doc text NOT NULL)`);
      await db.query(`INSERT INTO ${tab} SELECT g, json_build_object('n', g, 'big', 12345678901234567890, 'tags', ARRAY['a', 'b'])::text FROM generate_series(1, 2000) g`);
    }
    const writer = (async () => {
      for (let i = 0; i < 50; i++) {
        await db.query('BEGIN');
        for (const tab of ['docs', 'docs_mirror']) {
          // an untyped parameter takes the column's type: text before the swap, jsonb after
          await db.query(`UPDATE ${tab} SET doc = $1 WHERE id = $2`, [JSON.stringify({ n: i, v: 'x'.repeat(i) }), 1 + ((i * 37) % 2000)]);
          await db.query(`INSERT INTO ${tab} VALUES ($1, '{"new": true, "x": 1.000000000000000000001}')`, [3000 + i]);
        }
        await db.query('COMMIT');
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const report = await runOnlineAlter(alterOptions({ url, table: 'docs', alter: 'ALTER COLUMN doc TYPE jsonb USING doc::jsonb', execute: true, chunkSize: 200, cutOverLockTimeoutMs: 2000 }), { log: silentLogger });
    await writer;
    expect(report.error).toBeUndefined();
    expect(report.status).toBe('done');
    expect((await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'docs'::regclass AND attname = 'doc'`)).rows[0].t).toBe('jsonb');
    const diff = await db.query(`SELECT count(*)::int AS n FROM docs d FULL JOIN docs_mirror m USING (id) WHERE d.doc IS DISTINCT FROM m.doc::jsonb`);
    expect(diff.rows[0].n).toBe(0);
    expect((await db.query(`SELECT count(*)::int AS n FROM docs`)).rows[0].n).toBe(2050);
  });

  it('dry run creates nothing and reports the plan', async () => {
    await db.query(`CREATE TABLE dry (id int PRIMARY KEY, v text)`);
    const report = await runOnlineAlter(alterOptions({ url, table: 'dry', alter: 'ADD COLUMN w int', execute: false }), { log: silentLogger });
    expect(report.status).toBe('dry-run');
    expect(report.plan?.key).toEqual({ name: 'dry_pkey', columns: ['id'] });
    // Every index is built after the copy but a unique one the ALTER adds (its data could break it: the first chunk says so).
    await db.query(`CREATE INDEX dry_v ON dry (v)`);
    const keyed = await runOnlineAlter(alterOptions({ url, table: 'dry', alter: 'ADD COLUMN w int, ADD CONSTRAINT dry_w_key UNIQUE (w)', execute: false }), { log: silentLogger });
    expect(keyed.plan?.indexesAfterCopy).toEqual(['_dry_gho_pkey', '_dry_gho_v_idx']);
    expect((await runOnlineAlter(alterOptions({ url, table: 'dry', alter: 'ADD COLUMN w int', execute: false, deferIndexes: false }), { log: silentLogger })).plan?.indexesAfterCopy).toEqual([]);
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE '\\_dry\\_%'`)).rows[0].n).toBe(0);
  });
});
