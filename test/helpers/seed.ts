/** Test tables filled the same way on both engines, and waiting for a condition. */
import type { TestDialect, TestSql } from './servers.js';

/** Creates `table` (id primary key, v = 'v<id>') holding ids 1..rows; on PostgreSQL analyzed, so the row estimate is right. */
export async function seedIdTable(db: TestSql, dialect: TestDialect, table: string, rows: number): Promise<void> {
  if (dialect === 'mysql') {
    await db.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v VARCHAR(30) NOT NULL) ENGINE=InnoDB`);
    for (let start = 1; start <= rows; start += 2000) {
      const ids = Array.from({ length: 2000 }, (_, i) => start + i);
      await db.query(`INSERT INTO ${table} (id, v) VALUES ${ids.map(() => '(?, ?)').join(',')}`, ids.flatMap((id) => [id, `v${id}`]));
    }
  } else {
    await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v text NOT NULL)`);
    await db.query(`INSERT INTO ${table} (id, v) SELECT g, 'v' || g FROM generate_series(1, $1::int) g`, [rows]);
    await db.query(`ANALYZE ${table}`);
  }
}

/** Polls `fn` every 20 ms until it holds; throws naming `what` after `ms`. */
export async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
