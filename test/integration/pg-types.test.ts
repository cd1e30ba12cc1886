/**
 * Type fidelity through BOTH paths of the PostgreSQL online ALTER: rows copied
 * by chunks and rows changed while the stream runs (applied from the keys the
 * stream delivered). Every change is mirrored in the same transaction; after
 * the cut-over each row's md5 must equal its mirror's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { Engine } from '../../src/engine/engine.js';
import { openPgFixture, type PgFixture } from '../helpers/pg-fixture.js';
import { diffDigests, driveAlter, rowDigests } from '../helpers/pg-load.js';

let url: string;
let engine: Engine;
let db: pg.Client;
let fixture: PgFixture | undefined;

beforeAll(async () => {
  fixture = await openPgFixture('pg_types');
  ({ url, engine, db } = fixture);
});

afterAll(async () => {
  await fixture?.close();
});

const COLS = ['id', 'n', 'b', 'f', 'r', 'ts', 'iv', 'd', 'by', 'tx', 'j', 'ai', 'at', 'e', 'c', 'ip', 'net', 'big', 'other', 'gen'];

/** One row of exotic values, as SQL expressions; `i` varies them. */
const VALUES = (i: number): string[] => [
  String(i),
  i % 2 ? `(repeat('9', 1000) || '.' || repeat('1', 50))::numeric` : `-0.000000000000000000000000000001`,
  i % 2 ? `9223372036854775807` : `-9223372036854775808`,
  [`'NaN'`, `'Infinity'`, `'-Infinity'`, `1.7976931348623157e308`, `5e-324`, `0.1`][i % 6]!,
  [`'NaN'::real`, `3.4028235e38::real`, `1.4e-45::real`][i % 3]!,
  [`'2024-03-10 02:30:00.123456 America/New_York'`, `'1999-12-31 23:59:59.999999+14'`, `'infinity'`, `'0044-03-15 12:00:00.000001 BC'`][i % 4]!,
  `'1 year 2 mons 3 days 04:05:06.789012'::interval * ${i}`,
  [`'infinity'`, `'-infinity'`, `'2000-02-29'`][i % 3]!,
  `(SELECT decode(string_agg(lpad(to_hex((g + ${i}) % 256), 2, '0'), ''), 'hex') FROM generate_series(0, 255) g)`,
  `E'😀 h\\u00e9llo\\n\\t "q" \\\\ back ' || ${i}`,
  `'{"big": 123456789012345678901234567890, "neg": -9223372036854775809, "f": 1.000000000000000000001, "s": "\\u00e9"}'::jsonb`,
  `ARRAY[${i}, NULL, -2147483648]::int[]`,
  `ARRAY['a,b', NULL, '"q"', '{x}', 'NULL']::text[]`,
  [`'happy'`, `'sad'`, `'ok'`][i % 3]!,
  `ROW(${i}, 'x"y,z')::pair`,
  `'2001:db8::ff00:42:8329/64'::inet`,
  `'10.${i % 256}.0.0/16'::cidr`,
  `(SELECT string_agg(md5((g * ${i + 1})::text), '') FROM generate_series(1, 5000) g)`,
  `${i}`,
];

async function both(sql: (table: string) => string): Promise<void> {
  await db.query('BEGIN');
  try {
    for (const t of ['exotic', 'exotic_mirror']) await db.query(sql(t));
    await db.query('COMMIT');
  } catch (err) {
    await db.query('ROLLBACK');
    throw err;
  }
}

const insert = (i: number) => (t: string) => `INSERT INTO ${t} (${COLS.slice(0, -1).join(', ')}) VALUES (${VALUES(i).join(', ')})`;

describe('PostgreSQL type fidelity', () => {
  it('keeps every value exact through copy and apply, TOASTed values included', async () => {
    await db.query(`CREATE TYPE mood AS ENUM ('happy', 'sad', 'ok'); CREATE TYPE pair AS (x int, y text)`);
    for (const t of ['exotic', 'exotic_mirror']) {
      await db.query(`CREATE TABLE ${t} (id int PRIMARY KEY, n numeric, b bigint, f float8, r real, ts timestamptz, iv interval, d date, by bytea, tx text,
        j jsonb, ai int[], at text[], e mood, c pair, ip inet, net cidr, big text, other int, gen text GENERATED ALWAYS AS (tx || '!') STORED)`);
    }
    for (let i = 1; i <= 30; i++) await both(insert(i));
    await both((t) => `INSERT INTO ${t} (id) VALUES (1000)`); // all NULLs
    await db.query(`SET TimeZone = 'Asia/Kathmandu'`); // writes below come from a +05:45 session

    const { result } = await driveAlter(url, { table: { schema: 'public', name: 'exotic' }, alter: 'ADD COLUMN added int', cutOverLockTimeoutMs: 2000, dropOldTable: true, maxBacklogEvents: 1000 }, {
      chunkSize: 4,
      betweenChunks: async (chunk) => {
        if (chunk === 1) {
          // Through the stream: new rows, rows the copy has not reached yet, and rows it has passed.
          for (let i = 101; i <= 110; i++) await both(insert(i));
          await both((t) => `UPDATE ${t} SET other = other + 1000 WHERE id IN (2, 25)`); // big (TOASTed) unchanged: must stay intact
          await both((t) => `UPDATE ${t} SET ts = '2030-01-01 00:00:00.000007+00', n = n * 3, j = j || '{"more": 18446744073709551615}' WHERE id IN (3, 28)`);
          await both((t) => `DELETE FROM ${t} WHERE id IN (4, 29)`);
          await both((t) => `UPDATE ${t} SET id = id + 500 WHERE id IN (5, 27)`);
        }
      },
      afterCopy: async () => {
        await both((t) => `UPDATE ${t} SET other = -1 WHERE id IN (1, 30, 101)`);
      },
    });
    expect(result.cutOver.oldTable).toBeNull();
    expect(result.eventsApplied).toBeGreaterThan(15);
    const cols = COLS.map((c) => (c === 'by' ? 'md5("by")' : c === 'big' ? 'md5(big)' : `"${c}"`));
    const a = await rowDigests(db, 'exotic', 'id', [...cols]);
    const b = await rowDigests(db, 'exotic_mirror', 'id', [...cols]);
    expect(a.size).toBe(39); // 30 + all-NULL row + 10 streamed inserts - 2 deletes
    expect(diffDigests(a, b)).toEqual([]);
    // spot checks in plain text, so a failure shows the value
    const row = (await db.query(`SELECT n::text, j::text, length(big) AS len, ts::text FROM exotic WHERE id = 3`)).rows[0];
    expect(row.n).toBe((await db.query(`SELECT n::text FROM exotic_mirror WHERE id = 3`)).rows[0].n);
    expect(row.j).toContain('18446744073709551615');
    expect(row.ts).toBe('2030-01-01 05:45:00.000007+05:45');
    expect((await db.query(`SELECT length(big) AS len FROM exotic WHERE id = 2`)).rows[0].len).toBe(160_000);
  });

  it('streams keys of any type exactly: timestamptz + numeric composite primary key', async () => {
    for (const t of ['kt', 'kt_mirror']) {
      await db.query(`CREATE TABLE ${t} (ts timestamptz, n numeric, v text, PRIMARY KEY (ts, n))`);
      await db.query(`INSERT INTO ${t} SELECT '2024-01-01'::timestamptz + g * interval '1.000001 second', g / 7.0, 'v' || g FROM generate_series(1, 200) g`);
    }
    const both2 = async (sql: (t: string) => string) => {
      await db.query('BEGIN');
      for (const t of ['kt', 'kt_mirror']) await db.query(sql(t));
      await db.query('COMMIT');
    };
    const { result } = await driveAlter(url, { table: { schema: 'public', name: 'kt' }, alter: 'ALTER COLUMN v TYPE varchar(100)', cutOverLockTimeoutMs: 2000, dropOldTable: false, maxBacklogEvents: 1000 }, {
      chunkSize: 20,
      betweenChunks: async (chunk) => {
        if (chunk === 2) {
          await both2((t) => `UPDATE ${t} SET v = v || '+' WHERE n > 20`);
          await both2((t) => `UPDATE ${t} SET ts = ts + interval '0.000001 s' WHERE n < 3`); // key change, µs
          await both2((t) => `DELETE FROM ${t} WHERE n BETWEEN 10 AND 11`);
          await both2((t) => `INSERT INTO ${t} VALUES ('2020-02-29 23:59:59.999999-12', 1e-30, 'tiny')`);
        }
      },
    });
    expect(result.eventsApplied).toBeGreaterThan(10);
    const a = await rowDigests(db, 'kt', `ts::text || '|' || n::text`, ['ts', 'n', 'v']);
    const b = await rowDigests(db, 'kt_mirror', `ts::text || '|' || n::text`, ['ts', 'n', 'v']);
    expect(diffDigests(a, b)).toEqual([]);
    expect(a.size).toBe(b.size);
  });

  it('streams text keys with quotes, commas, backslashes, braces, "NULL" and the empty string', async () => {
    const keys = ['', 'NULL', 'null', 'a"b', 'c,d', 'e\\f', '{g}', ' h ', "i'j", '😀', 'k\nl'];
    await db.query(`CREATE TABLE tk (k text PRIMARY KEY, v int)`);
    for (const [i, k] of keys.entries()) await db.query(`INSERT INTO tk VALUES ($1, $2)`, [k, i]);
    await db.query(`INSERT INTO tk SELECT 'z' || g, g FROM generate_series(1, 100) g`);
    await driveAlter(url, { table: { schema: 'public', name: 'tk' }, alter: 'ALTER COLUMN v TYPE bigint', cutOverLockTimeoutMs: 2000, dropOldTable: true, maxBacklogEvents: 1000 }, {
      chunkSize: 10,
      betweenChunks: async (chunk) => {
        if (chunk === 1) {
          await db.query(`UPDATE tk SET v = v + 1000 WHERE k = ANY($1::text[])`, [keys]);
          await db.query(`DELETE FROM tk WHERE k IN ('a"b', '')`);
          await db.query(`UPDATE tk SET k = k || '!' WHERE k IN ('c,d', 'NULL')`);
        }
      },
    });
    const rows = (await db.query(`SELECT k, v::int AS v FROM tk WHERE k NOT LIKE 'z%' ORDER BY k COLLATE "C"`)).rows;
    const expected = keys
      .map((k, i) => ({ k, v: i + 1000 }))
      .filter((r) => r.k !== 'a"b' && r.k !== '')
      .map((r) => (r.k === 'c,d' || r.k === 'NULL' ? { k: `${r.k}!`, v: r.v } : r))
      .sort((a, b) => (Buffer.compare(Buffer.from(a.k), Buffer.from(b.k))));
    expect(rows).toEqual(expected);
  });
});
