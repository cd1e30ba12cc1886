/**
 * End to end through core/migrator.ts runOnlineAlter on MySQL/MariaDB, one
 * table per ALTER kind, each under a concurrent write load that mirrors every
 * change into `<t>_mirror` in the same transaction.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mysql from 'mysql2/promise';
import { runOnlineAlter } from '../../src/alter.js';
import { alterOptions } from '../../src/core/options.js';
import { helpersOf, dropDatabase, freshDatabase, sql } from '../helpers/servers.js';
import { prng } from '../helpers/mysql-load.js';

let url: string;

beforeAll(async () => {
  url = await freshDatabase('mysql', 'mysql_e2e');
});

afterAll(async () => {
  if (url) await dropDatabase(url);
});

type KeyGen = (n: number) => unknown[];

interface Case {
  name: string;
  create: string;
  keyCols: string[];
  key: KeyGen;
  alter: string;
  /** Columns compared between the new table and the mirror. */
  compare: string[];
  /** The same columns' names in the new table, when the ALTER renames some. */
  compareNew?: string[];
  /** The load writes key columns only (their other columns change names mid-run). */
  keyOnlyLoad?: boolean;
  extraCheck?: (db: Awaited<ReturnType<typeof sql>>) => Promise<void>;
}

const intKey: KeyGen = (n) => [n];
const cases: Case[] = [
  { name: 'add_col', create: 'id INT NOT NULL PRIMARY KEY, v INT NOT NULL, s VARCHAR(40) NULL', keyCols: ['id'], key: intKey, alter: "ADD COLUMN c VARCHAR(8) NOT NULL DEFAULT 'x'", compare: ['id', 'v', 's'], extraCheck: async (db) => expect(await db.value("SELECT COUNT(*) FROM add_col WHERE c <> 'x'")).toBe('0') },
  { name: 'drop_col', create: "id INT NOT NULL PRIMARY KEY, v INT NOT NULL, d VARCHAR(10) NULL DEFAULT 'gone', s VARCHAR(40) NULL", keyCols: ['id'], key: intKey, alter: 'DROP COLUMN d', compare: ['id', 'v', 's'] },
  { name: 'widen', create: 'id INT NOT NULL PRIMARY KEY, v INT NOT NULL, s VARCHAR(40) NULL', keyCols: ['id'], key: intKey, alter: 'MODIFY v BIGINT NOT NULL', compare: ['id', 'v', 's'] },
  { name: 'add_idx', create: 'id INT NOT NULL PRIMARY KEY, v INT NOT NULL, s VARCHAR(40) NULL', keyCols: ['id'], key: intKey, alter: 'ADD INDEX idx_v_s (v, s)', compare: ['id', 'v', 's'] },
  {
    name: 'charset',
    create: 'id INT NOT NULL PRIMARY KEY, v INT NOT NULL, s VARCHAR(40) CHARACTER SET latin1 NULL',
    keyCols: ['id'],
    key: intKey,
    alter: 'CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci',
    compare: ['id', 'v', 's'],
    extraCheck: async (db) => expect(await db.value("SELECT CHARACTER_SET_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'charset' AND COLUMN_NAME = 's'")).toBe('utf8mb4'),
  },
  { name: 'composite', create: 'a INT NOT NULL, b VARCHAR(10) NOT NULL, v INT NOT NULL, s VARCHAR(40) NULL, PRIMARY KEY (a, b)', keyCols: ['a', 'b'], key: (n) => [n % 97, `b${Math.floor(n / 97)}`], alter: 'ADD COLUMN c INT NULL, ADD INDEX (s)', compare: ['a', 'b', 'v', 's'] },
  {
    name: 'varchar_pk',
    create: 'k VARCHAR(20) COLLATE utf8mb4_general_ci NOT NULL PRIMARY KEY, v INT NOT NULL, s VARCHAR(40) NULL',
    keyCols: ['k'],
    key: (n) => [`Key-${n}-é`],
    alter: 'ADD COLUMN c INT NULL',
    compare: ['k', 'v', 's'],
  },
  {
    name: 'renamed',
    create: 'id INT NOT NULL PRIMARY KEY, v INT NOT NULL DEFAULT 0, s VARCHAR(40) NULL',
    keyCols: ['id'],
    key: intKey,
    alter: 'CHANGE COLUMN v v2 INT NOT NULL DEFAULT 0, RENAME COLUMN s TO s2',
    compare: ['id', 'v', 's'],
    compareNew: ['id', 'v2', 's2'],
    keyOnlyLoad: true,
  },
  { name: 'uniq_only', create: 'u BIGINT NOT NULL, v INT NOT NULL, s VARCHAR(40) NULL, UNIQUE KEY uk_u (u)', keyCols: ['u'], key: (n) => [String(9007199254740993n + BigInt(n))], alter: 'ADD COLUMN c INT NULL', compare: ['u', 'v', 's'] },
];

/** Writes the same random changes to t and t_mirror in one transaction per change set. */
function startLoad(c: Case, existing: number[], firstNew: number) {
  let stop = false;
  let committed = 0;
  const where = c.keyCols.map((k) => `\`${k}\` = ?`).join(' AND ');
  const run = (async () => {
    const conn = await mysql.createConnection({ uri: url, supportBigNumbers: true, bigNumberStrings: true });
    const rnd = prng(c.name.length * 31);
    let next = firstNew;
    const ids = [...existing];
    try {
      while (!stop) {
        const r = rnd();
        const rollback = rnd() < 0.1;
        const ops: Array<[string, unknown[]]> = [];
        const after = [...ids];
        const keyList = c.keyCols.map((k) => `\`${k}\``).join(', ');
        if (r < 0.3) {
          const n = next++;
          if (c.keyOnlyLoad) ops.push([`INSERT INTO {t} (${keyList}) VALUES (${c.keyCols.map(() => '?').join(', ')})`, c.key(n)]);
          else ops.push([`INSERT INTO {t} (${keyList}, v, s) VALUES (${c.keyCols.map(() => '?').join(', ')}, ?, ?)`, [...c.key(n), n, `new ${n} ü`]]);
          after.push(n);
        } else if (r < 0.7 && !c.keyOnlyLoad) {
          const n = after[Math.floor(rnd() * after.length)]!;
          ops.push([`UPDATE {t} SET v = v + 1, s = ? WHERE ${where}`, [`upd ${rnd().toFixed(4)} é`, ...c.key(n)]]);
        } else if (r < 0.85) {
          const i = Math.floor(rnd() * after.length);
          const n = next++;
          ops.push([`UPDATE {t} SET ${c.keyCols.map((k) => `\`${k}\` = ?`).join(', ')} WHERE ${where}`, [...c.key(n), ...c.key(after[i]!)]]);
          after[i] = n;
        } else {
          const i = Math.floor(rnd() * after.length);
          ops.push([`DELETE FROM {t} WHERE ${where}`, c.key(after[i]!)]);
          after.splice(i, 1);
        }
        await conn.query('START TRANSACTION');
        for (const [q, p] of ops) for (const t of [c.name, `${c.name}_mirror`]) await conn.query(q.replace('{t}', `\`${t}\``), p);
        await conn.query(rollback ? 'ROLLBACK' : 'COMMIT');
        if (!rollback) {
          committed++;
          ids.length = 0;
          ids.push(...after);
        }
        await new Promise((res) => setTimeout(res, 2));
      }
    } finally {
      await conn.end();
    }
  })();
  let failure: unknown = null;
  const settled = run.catch((err: unknown) => {
    failure = err;
  });
  return {
    async stop() {
      stop = true;
      await settled;
      if (failure) throw failure;
      return committed;
    },
  };
}

async function rows(table: string, cols: string[], keyCols: string[]): Promise<string[]> {
  const db = await mysql.createConnection({ uri: url, supportBigNumbers: true, bigNumberStrings: true, dateStrings: true });
  try {
    const [r] = await db.query(`SELECT ${cols.map((c) => `\`${c}\``).join(', ')} FROM \`${table}\` ORDER BY ${keyCols.map((k) => `\`${k}\``).join(', ')}`);
    return (r as Record<string, unknown>[]).map((row) => cols.map((c) => String(row[c])).join('|'));
  } finally {
    await db.end();
  }
}

describe('runOnlineAlter on MySQL/MariaDB', () => {
  for (const [i, c] of cases.entries()) {
    it(`${c.name}: ${c.alter}${i % 2 === 0 ? ' (2 copy threads)' : ''}`, async () => {
      const db = await sql(url);
      try {
        await db.query(`CREATE TABLE \`${c.name}\` (${c.create}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4; CREATE TABLE \`${c.name}_mirror\` LIKE \`${c.name}\``);
        const n = 3000;
        const values = Array.from({ length: n }, (_, i) => [...c.key(i), i, i % 7 === 0 ? null : `row ${i} ä`]);
        for (const t of [c.name, `${c.name}_mirror`]) {
          await db.query(`INSERT INTO \`${t}\` (${c.keyCols.map((k) => `\`${k}\``).join(', ')}, v, s) VALUES ?`, [values]);
        }
        const load = startLoad(c, Array.from({ length: n }, (_, i) => i), n);
        const report = await runOnlineAlter(alterOptions({ url, table: c.name, alter: c.alter, execute: true, chunkSize: 400, cutOverLockTimeoutMs: 2000, threads: i % 2 === 0 ? 2 : 1 }));
        await new Promise((r) => setTimeout(r, 150));
        const committed = await load.stop();
        expect(report.error).toBeUndefined();
        expect(report.status).toBe('done');
        expect(report.rowsCopied).toBeGreaterThan(n * 0.9);
        expect(committed).toBeGreaterThan(5);
        const expected = await rows(`${c.name}_mirror`, c.compare, c.keyCols);
        expect(expected.length).toBeGreaterThan(n * 0.9);
        expect(await rows(c.name, c.compareNew ?? c.compare, c.keyCols)).toEqual(expected);
        await c.extraCheck?.(db);
        const h = helpersOf('mysql', c.name);
        const left = await db.query<{ t: string }>(`SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?, ?, ?)`, [h.ghost, h.changelog, h.old]);
        expect(left.map((r) => r.t)).toEqual([h.old]);
      } finally {
        await db.end();
      }
    });
  }

  it('adding a unique key over duplicates fails cleanly and leaves the original intact', async () => {
    const db = await sql(url);
    try {
      await db.query("CREATE TABLE dups (id INT PRIMARY KEY, email VARCHAR(40) NOT NULL); INSERT INTO dups VALUES (1, 'a@x'), (2, 'b@x'), (3, 'A@x'), (4, 'c@x')");
      const report = await runOnlineAlter(alterOptions({ url, table: 'dups', alter: 'ADD UNIQUE KEY uk_email (email)', execute: true }));
      expect(report.status).toBe('failed');
      expect(report.error?.code).toBe('E_APPLY_UNIQUE');
      expect(await db.query('SELECT id, email FROM dups ORDER BY id')).toEqual([
        { id: 1, email: 'a@x' },
        { id: 2, email: 'b@x' },
        { id: 3, email: 'A@x' },
        { id: 4, email: 'c@x' },
      ]);
      expect(await db.value("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '\\_dups\\_%'")).toBe('0');
    } finally {
      await db.end();
    }
  });

  it('refuses a table with triggers (exit 2) without writing anything', async () => {
    const db = await sql(url);
    try {
      await db.query('CREATE TABLE trg (id INT PRIMARY KEY, v INT); CREATE TRIGGER trg_t BEFORE UPDATE ON trg FOR EACH ROW SET NEW.v = NEW.v');
      const report = await runOnlineAlter(alterOptions({ url, table: 'trg', alter: 'ADD COLUMN w INT', execute: true }));
      expect(report.status).toBe('refused');
      expect(report.error?.code).toMatch(/^E_PREFLIGHT_TRIGGERS/);
      expect(await db.value("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '\\_trg\\_%'")).toBe('0');
    } finally {
      await db.end();
    }
  });

  it('dry run leaves nothing behind and reports the plan', async () => {
    const db = await sql(url);
    try {
      await db.query('CREATE TABLE dry (id INT PRIMARY KEY, v INT)');
      const report = await runOnlineAlter(alterOptions({ url, table: 'dry', alter: 'ADD COLUMN w INT' }));
      expect(report.status).toBe('dry-run');
      expect(report.plan?.key).toEqual({ name: 'PRIMARY', columns: ['id'] });
      expect(await db.value("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '\\_dry\\_%'")).toBe('0');
    } finally {
      await db.end();
    }
  });
});
