/**
 * A concurrent write load for MySQL online-ALTER tests, with a mirror: every
 * transaction writes the same change to `t` and to `t_mirror`, so after the
 * run `t_mirror` is exactly what committed to `t` (rolled-back transactions
 * roll back on both). Values come from pools of edge cases for every type of
 * FIDELITY_TABLE. Each worker owns its own id range, so workers never wait on
 * each other's rows.
 */
import mysql from 'mysql2/promise';

/** Columns the load writes (must exist before and after the test ALTERs). */
export const LOAD_COLUMNS = ['id', 'u', 'i', 'd', 'f', 'dbl', 'dt', 'ts', 'tm', 'yr', 'bt', 'bin', 'vb', 'bl', 'txt', 'en', 'st', 'js'] as const;

export function fidelityTable(name: string): string {
  return `CREATE TABLE \`${name}\` (
    id BIGINT UNSIGNED NOT NULL,
    u BIGINT UNSIGNED NULL,
    i INT NOT NULL DEFAULT 0,
    d DECIMAL(65,30) NULL,
    f FLOAT NULL,
    dbl DOUBLE NULL,
    dt DATETIME(6) NULL,
    ts TIMESTAMP(6) NULL DEFAULT NULL,
    tm TIME(6) NULL,
    yr YEAR NULL,
    bt BIT(64) NULL,
    bin BINARY(16) NULL,
    vb VARBINARY(300) NULL,
    bl BLOB NULL,
    txt VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL,
    en ENUM('a,b', 'c''d', 'plain') NULL,
    st SET('red', 'green', 'blue') NULL,
    js JSON NULL,
    gv BIGINT AS (i * 2) VIRTUAL,
    gs VARCHAR(120) AS (CONCAT('s:', txt)) STORED,
    drop_me INT NULL,
    PRIMARY KEY (id)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;
}

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

export const POOLS: Record<(typeof LOAD_COLUMNS)[number], unknown[]> = {
  id: [],
  u: ['18446744073709551615', '9007199254740993', '0', null, '42'],
  i: [2147000000, -2147000000, 0, 7],
  d: ['99999999999999999999999999999999999.999999999999999999999999999999', '-0.000000000000000000000000000001', '0', null, '12345.678'],
  f: [3.40282e38, -1.17549e-38, 0, 1.5, null, 0.1],
  dbl: [1.7976931348623157e308, -2.2250738585072014e-308, 0.1, -0, null],
  dt: ['1000-01-01 00:00:00.000000', '9999-12-31 23:59:59.999999', '2024-02-29 12:34:56.123456', null],
  ts: ['1970-01-01 05:30:01.000001', '2038-01-19 08:44:07.999999', '2024-03-10 02:30:00.500000', null],
  tm: ['-838:59:59.000000', '838:59:59.000000', '-00:00:01.500000', '12:00:00.000001', null],
  yr: [1901, 2155, 2000, null],
  bt: [Buffer.from('ffffffffffffffff', 'hex'), Buffer.from('0000000000000001', 'hex'), Buffer.from('8000000000000000', 'hex'), null],
  bin: [Buffer.alloc(16), Buffer.from('00ff00ff000000000000000000000000', 'hex'), Buffer.from('ffffffffffffffffffffffffffffffff', 'hex'), null],
  vb: [ALL_BYTES, Buffer.from([0]), Buffer.from([0x27, 0x5c, 0x00, 0x22]), Buffer.alloc(0), null],
  bl: [ALL_BYTES, Buffer.concat([ALL_BYTES, ALL_BYTES]), Buffer.alloc(0), null],
  txt: ['🦄👩‍💻 ünïcødé', "quote ' and \\ backslash", '', 'trailing space  ', null, '中文'],
  en: ['a,b', "c'd", 'plain', null],
  st: ['red,blue', '', 'green', 'red,green,blue', null],
  js: ['{"a": 1, "big": 18446744073709551615, "s": "x\\"y", "arr": [1.5, null]}', '[]', '"🦄"', 'null', null],
};

function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)]!;
}

/** Deterministic PRNG (mulberry32) so a failing run can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomRow(rnd: () => number, id: bigint): unknown[] {
  return LOAD_COLUMNS.map((c) => (c === 'id' ? id.toString() : pick(rnd, POOLS[c])));
}

/** Initial rows, written to both tables. Even ids 2..2n (odd ids stay free for key moves), plus the BIGINT UNSIGNED extremes. */
export async function seedRows(url: string, table: string, mirror: string, n: number, seed = 1): Promise<bigint[]> {
  const conn = await connect(url);
  const rnd = prng(seed);
  const ids: bigint[] = [];
  try {
    const cols = LOAD_COLUMNS.map((c) => `\`${c}\``).join(', ');
    const all = [...Array.from({ length: n }, (_, i) => BigInt(2 * (i + 1))), 9007199254740993n, 18446744073709551615n];
    for (let off = 0; off < all.length; off += 500) {
      const batch = all.slice(off, off + 500);
      const rows = batch.map((id) => randomRow(rnd, id));
      const ph = rows.map((r) => `(${r.map(() => '?').join(', ')}, ?)`).join(', ');
      const params = rows.flatMap((r, k) => [...r, Number(batch[k]! % 1000n)]);
      await conn.query('START TRANSACTION');
      for (const t of [table, mirror]) await conn.query(`INSERT INTO \`${t}\` (${cols}, drop_me) VALUES ${ph}`, params);
      await conn.query('COMMIT');
      ids.push(...batch);
    }
  } finally {
    await conn.end();
  }
  return ids;
}

async function connect(url: string): Promise<mysql.Connection> {
  const conn = await mysql.createConnection({ uri: url, dateStrings: true, supportBigNumbers: true, bigNumberStrings: true, timezone: 'Z' });
  // A session time zone other than UTC: TIMESTAMP values must still round-trip.
  await conn.query("SET time_zone = '+05:30'");
  return conn;
}

export interface LoadStats {
  committed: number;
  rolledBack: number;
  statements: number;
  retries: number;
}

export interface LoadHandle {
  stats: LoadStats;
  stop(): Promise<LoadStats>;
}

/**
 * Starts `workers` loops of random transactions on `table` + `mirror`:
 * inserts, updates, primary key updates, deletes, multi-row statements and
 * rolled-back transactions, with a pause of `pauseMs` between transactions.
 */
export function startLoad(opts: {
  url: string;
  table: string;
  mirror: string;
  workers: number;
  existing: bigint[];
  seed?: number;
  pauseMs?: number;
  /** A later load on the same tables (after a restart): n > 0 takes fresh and odd ids no earlier load used. */
  generation?: number;
}): LoadHandle {
  const stats: LoadStats = { committed: 0, rolledBack: 0, statements: 0, retries: 0 };
  let stopping = false;
  const loops: Promise<void>[] = [];
  for (let w = 0; w < opts.workers; w++) {
    // Worker w owns the seeded even ids with id/2 = w (mod workers), the odd ids
    // with (id-1)/2 = w (mod workers), and a fresh range above 10^12.
    const mine = opts.existing.filter((id) => id < 10n ** 12n && Number((id / 2n) % BigInt(opts.workers)) === w);
    loops.push(worker(w, mine));
  }

  async function worker(w: number, ids: bigint[]): Promise<void> {
    const rnd = prng((opts.seed ?? 7) * 1000 + w);
    const conn = await connect(opts.url);
    const gen = BigInt(opts.generation ?? 0);
    let next = 10n ** 12n * (1n + gen) + BigInt(w) * 10n ** 9n;
    // Odd ids sweep upwards from 1: early moves land in ranges the copy has already passed.
    let odd = 1n + 2n * BigInt(w) + gen * 2n * BigInt(opts.workers) * 10n ** 6n;
    const cols = LOAD_COLUMNS.map((c) => `\`${c}\``).join(', ');
    try {
      while (!stopping) {
        const ops: Array<{ sql: string; params: unknown[] }> = [];
        const after = [...ids];
        const n = 1 + Math.floor(rnd() * 3);
        for (let k = 0; k < n; k++) {
          const r = rnd();
          if (r < 0.3 || after.length < 10) {
            const rows = Array.from({ length: rnd() < 0.3 ? 3 : 1 }, () => randomRow(rnd, next++));
            ops.push({ sql: `INSERT INTO {t} (${cols}) VALUES ${rows.map((x) => `(${x.map(() => '?').join(', ')})`).join(', ')}`, params: rows.flat() });
            for (const x of rows) after.push(BigInt(x[0] as string));
          } else if (r < 0.6) {
            const id = pick(rnd, after);
            const col = pick(rnd, LOAD_COLUMNS.slice(1));
            ops.push({ sql: `UPDATE {t} SET \`${col}\` = ?, i = i + 1 WHERE id = ?`, params: [pick(rnd, POOLS[col]), id.toString()] });
          } else if (r < 0.7) {
            const a = pick(rnd, after);
            const b = pick(rnd, after);
            ops.push({ sql: 'UPDATE {t} SET i = i - 1, txt = ? WHERE id IN (?, ?)', params: [pick(rnd, POOLS.txt), a.toString(), b.toString()] });
          } else if (r < 0.82) {
            // Primary key update: the old key must disappear from the new table.
            const idx = Math.floor(rnd() * after.length);
            const old = after[idx]!;
            let nu: bigint;
            if (rnd() < 0.5) nu = next++;
            else {
              nu = odd;
              odd += 2n * BigInt(opts.workers);
            }
            ops.push({ sql: 'UPDATE {t} SET id = ? WHERE id = ?', params: [nu.toString(), old.toString()] });
            after[idx] = nu;
          } else {
            const idx = Math.floor(rnd() * after.length);
            ops.push({ sql: 'DELETE FROM {t} WHERE id = ?', params: [after[idx]!.toString()] });
            after.splice(idx, 1);
          }
        }
        const rollback = rnd() < 0.1;
        for (let attempt = 0; ; attempt++) {
          try {
            await conn.query('START TRANSACTION');
            for (const op of ops) {
              for (const t of [opts.table, opts.mirror]) {
                await conn.query(op.sql.replace('{t}', `\`${t}\``), op.params);
                stats.statements++;
              }
            }
            await conn.query(rollback ? 'ROLLBACK' : 'COMMIT');
            break;
          } catch (err) {
            await conn.query('ROLLBACK').catch(() => undefined);
            const code = (err as { code?: string }).code;
            if ((code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT') && attempt < 5) {
              stats.retries++;
              continue;
            }
            throw err;
          }
        }
        if (rollback) stats.rolledBack++;
        else {
          stats.committed++;
          ids.length = 0;
          ids.push(...after);
        }
        if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
      }
    } finally {
      await conn.end().catch(() => undefined);
    }
  }

  return {
    stats,
    async stop() {
      stopping = true;
      await Promise.all(loops);
      return stats;
    },
  };
}

/**
 * Row signatures over `columns`: one text per row, exact for every type
 * (bytes as hex, character data converted to utf8mb4 first so a charset
 * change compares by characters, numbers/temporals as the server prints them).
 */
export async function rowSignatures(url: string, table: string, columns: ReadonlyArray<{ name: string; type: string }>, key = 'id'): Promise<Map<string, string>> {
  const conn = await mysql.createConnection({ uri: url, dateStrings: true, supportBigNumbers: true, bigNumberStrings: true });
  try {
    const expr = columns.map(({ name, type }) => {
      const c = `\`${name}\``;
      if (/binary|blob|bit/i.test(type)) return `IFNULL(HEX(${c}), 'N')`;
      if (/char|text|enum|set|json/i.test(type)) return `IFNULL(HEX(CONVERT(${c} USING utf8mb4)), 'N')`;
      if (/timestamp/i.test(type)) return `IFNULL(CAST(UNIX_TIMESTAMP(${c}) AS CHAR), 'N')`;
      return `IFNULL(CAST(${c} AS CHAR), 'N')`;
    });
    const [rows] = await conn.query(`SELECT CAST(\`${key}\` AS CHAR) AS k, CONCAT_WS('|', ${expr.join(', ')}) AS sig FROM \`${table}\` ORDER BY \`${key}\``);
    return new Map((rows as Array<{ k: string; sig: string }>).map((r) => [r.k, r.sig]));
  } finally {
    await conn.end();
  }
}

/** Differences between two signature maps, at most `max` described. */
export function diffSignatures(expected: Map<string, string>, actual: Map<string, string>, max = 5): string[] {
  const out: string[] = [];
  for (const [k, v] of expected) {
    if (!actual.has(k)) out.push(`missing ${k}`);
    else if (actual.get(k) !== v) out.push(`differs ${k}: expected ${v.slice(0, 200)} got ${actual.get(k)!.slice(0, 200)}`);
    if (out.length >= max) return out;
  }
  for (const k of actual.keys()) {
    if (!expected.has(k)) out.push(`extra ${k}`);
    if (out.length >= max) break;
  }
  return out;
}
