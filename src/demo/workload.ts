/**
 * A sample table and a write load against it, for the demo and the benchmarks.
 *
 * The load writes every change to the table AND to a mirror table in the
 * same transaction, so the mirror holds exactly what committed (rolled-back
 * transactions included). After an online ALTER, the migrated table must
 * equal the mirror row for row: that is the "no write lost" verification.
 */
import type { Dialect, Engine, SqlSession } from '../engine/engine.js';

export interface Workload {
  table: string;
  mirror: string;
  columns: string[];
}

export function sampleWorkload(table = 'demo_orders'): Workload {
  return { table, mirror: `${table}_mirror`, columns: ['id', 'customer_id', 'amount', 'status', 'note', 'created_at'] };
}

function createSql(dialect: Dialect, q: (n: string) => string, name: string): string {
  return dialect === 'mysql'
    ? `CREATE TABLE ${q(name)} (id BIGINT NOT NULL PRIMARY KEY, customer_id INT NOT NULL, amount DECIMAL(12,2) NOT NULL, status VARCHAR(16) NOT NULL, note VARCHAR(64) NULL, created_at DATETIME(6) NOT NULL) ENGINE=InnoDB`
    : `CREATE TABLE ${q(name)} (id BIGINT NOT NULL PRIMARY KEY, customer_id INT NOT NULL, amount NUMERIC(12,2) NOT NULL, status VARCHAR(16) NOT NULL, note VARCHAR(64) NULL, created_at TIMESTAMP(6) NOT NULL)`;
}

/** Creates the table and its mirror with `rows` rows (~110 bytes each), generated on the server. */
export async function createSampleTable(engine: Engine, w: Workload, rows: number): Promise<void> {
  const q = (n: string) => engine.quoteIdent(n);
  for (const name of [w.table, w.mirror]) {
    await engine.execute(`DROP TABLE IF EXISTS ${q(name)}`);
    await engine.execute(createSql(engine.dialect, q, name));
  }
  const batch = 200_000;
  for (let from = 1; from <= rows; from += batch) {
    const to = Math.min(rows, from + batch - 1);
    if (engine.dialect === 'mysql') {
      // Row generator that works on MariaDB and MySQL 8 alike: a cross join of digits.
      await engine.execute(
        `INSERT INTO ${q(w.table)} (id, customer_id, amount, status, note, created_at)
         SELECT n, n % 9973, (n % 100000) / 100, ELT(1 + n % 4, 'new', 'paid', 'shipped', 'returned'),
                CONCAT('order note ', LPAD(n, 12, '0'), ' ', REPEAT('x', 20)), TIMESTAMP('2026-01-01') + INTERVAL n SECOND
         FROM (SELECT ? + a.d + 10 * b.d + 100 * c.d + 1000 * d.d + 10000 * e.d + 100000 * f.d AS n
               FROM (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) a,
                    (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) b,
                    (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) c,
                    (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) d,
                    (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) e,
                    (SELECT 0 d UNION ALL SELECT 1) f) g
         WHERE n <= ?`,
        [from, to],
      );
    } else {
      await engine.execute(
        `INSERT INTO ${q(w.table)} (id, customer_id, amount, status, note, created_at)
         SELECT n, n % 9973, (n % 100000) / 100.0, (ARRAY['new','paid','shipped','returned'])[1 + n % 4],
                'order note ' || lpad(n::text, 12, '0') || ' ' || repeat('x', 20), timestamp '2026-01-01' + n * interval '1 second'
         FROM generate_series($1::bigint, $2::bigint) AS n`,
        [from, to],
      );
    }
  }
  await engine.execute(`INSERT INTO ${q(w.mirror)} SELECT * FROM ${q(w.table)}`);
  await engine.execute(engine.dialect === 'mysql' ? `ANALYZE TABLE ${q(w.table)}` : `ANALYZE ${q(w.table)}`);
}

export interface LoadStats {
  committed: number;
  rolledBack: number;
  errors: number;
  latenciesMs: number[];
}

export interface RunningLoad {
  stats: LoadStats;
  stop(): Promise<LoadStats>;
}

/**
 * Starts `workers` sessions writing in a loop: inserts, updates (also of the
 * key), deletes, multi-row transactions, and one in ten rolled back. Each
 * transaction is paced to `tps` per worker (0 = as fast as possible).
 */
export async function startLoad(engine: Engine, w: Workload, opts: { workers?: number; tps?: number; maxId: number }): Promise<RunningLoad> {
  const q = (n: string) => engine.quoteIdent(n);
  const ph = engine.dialect === 'mysql' ? () => '?' : (i: number) => `$${i}`;
  const stats: LoadStats = { committed: 0, rolledBack: 0, errors: 0, latenciesMs: [] };
  let running = true;
  let nextId = opts.maxId + 1 + Math.floor(Math.random() * 1000);
  const workers = opts.workers ?? 2;
  const pace = opts.tps ? 1000 / opts.tps : 0;
  const sessions: SqlSession[] = [];
  for (let i = 0; i < workers; i++) sessions.push(await engine.openSession());
  const both = async (s: SqlSession, sql: (t: string) => string, params: unknown[]) => {
    for (const t of [w.table, w.mirror]) await s.query(sql(q(t)), params);
  };
  const randomId = () => 1 + Math.floor(Math.random() * opts.maxId);
  const step = async (s: SqlSession) => {
    const ops = 1 + Math.floor(Math.random() * 3);
    await s.query(engine.dialect === 'mysql' ? 'START TRANSACTION' : 'BEGIN');
    for (let i = 0; i < ops; i++) {
      const r = Math.random();
      if (r < 0.35) {
        const id = nextId++;
        // One timestamp for both tables: NOW(6) would differ between the two statements.
        const at = new Date().toISOString().replace('T', ' ').replace('Z', '');
        await both(s, (t) => `INSERT INTO ${t} (id, customer_id, amount, status, note, created_at) VALUES (${ph(1)}, ${ph(2)}, ${ph(3)}, 'new', ${ph(4)}, ${ph(5)})`, [id, id % 9973, '12.34', `inserted ${id}`, at]);
      } else if (r < 0.75) {
        const id = randomId();
        await both(s, (t) => `UPDATE ${t} SET amount = amount + 1, status = 'paid', note = ${ph(1)} WHERE id = ${ph(2)}`, [`updated ${Date.now()}`, id]);
      } else if (r < 0.9) {
        const id = randomId();
        await both(s, (t) => `DELETE FROM ${t} WHERE id = ${ph(1)}`, [id]);
      } else {
        // Key update: the row moves; the ghost must lose the old key and gain the new one.
        const id = randomId();
        const to = nextId++;
        await both(s, (t) => `UPDATE ${t} SET id = ${ph(1)} WHERE id = ${ph(2)}`, [to, id]);
      }
    }
    if (Math.random() < 0.1) {
      await s.query('ROLLBACK');
      stats.rolledBack++;
    } else {
      await s.query('COMMIT');
      stats.committed++;
    }
  };
  const loops = sessions.map(async (s) => {
    while (running) {
      const t0 = performance.now();
      try {
        await step(s);
      } catch {
        stats.errors++;
        await s.query('ROLLBACK').catch(() => undefined);
      }
      const took = performance.now() - t0;
      stats.latenciesMs.push(took);
      if (pace > took) await new Promise((r) => setTimeout(r, pace - took));
    }
  });
  return {
    stats,
    async stop() {
      running = false;
      await Promise.all(loops);
      await Promise.all(sessions.map((s) => s.close()));
      return stats;
    },
  };
}

export interface Verification {
  ok: boolean;
  rows: number;
  mirrorRows: number;
  missing: number;
  extra: number;
  different: number;
}

/** Compares the migrated table with the mirror over the workload's columns, row by row. */
export async function verifyAgainstMirror(engine: Engine, w: Workload): Promise<Verification> {
  const q = (n: string) => engine.quoteIdent(n);
  const cols = w.columns.map(q);
  const t = q(w.table);
  const m = q(w.mirror);
  const count = async (sql: string) => Number(Object.values((await engine.execute(sql)).rows[0] ?? { n: 0 })[0] ?? 0);
  const rows = await count(`SELECT COUNT(*) FROM ${t}`);
  const mirrorRows = await count(`SELECT COUNT(*) FROM ${m}`);
  const missing = await count(`SELECT COUNT(*) FROM ${m} x WHERE NOT EXISTS (SELECT 1 FROM ${t} y WHERE y.id = x.id)`);
  const extra = await count(`SELECT COUNT(*) FROM ${t} x WHERE NOT EXISTS (SELECT 1 FROM ${m} y WHERE y.id = x.id)`);
  const same = engine.dialect === 'mysql' ? cols.map((c) => `x.${c} <=> y.${c}`).join(' AND ') : cols.map((c) => `x.${c} IS NOT DISTINCT FROM y.${c}`).join(' AND ');
  const different = await count(`SELECT COUNT(*) FROM ${t} x JOIN ${m} y ON y.id = x.id WHERE NOT (${same})`);
  return { ok: rows === mirrorRows && missing === 0 && extra === 0 && different === 0, rows, mirrorRows, missing, extra, different };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
