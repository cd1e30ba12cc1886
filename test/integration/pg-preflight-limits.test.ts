/**
 * Two PostgreSQL preflight refusals left over from issue #5, through the
 * runbook (runOnlineAlter) as the CLI calls it: --max-retained-wal-mb is the
 * limit preflight applies to the WAL other runs' slots retain, and a
 * materialized view over the table is refused up front (it would stay bound
 * to the old table after the swap, in silence).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { runOnlineAlter } from '../../src/alter.js';
import { alterOptions } from '../../src/core/options.js';
import type { AlterRequest } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/log.js';
import { openPgFixture, type PgFixture } from '../helpers/pg-fixture.js';
import { chooseSharedKey, mapColumns } from '../../src/core/columns.js';
import { renamesOf } from '../../src/core/alter-text.js';
import { loadAlterParser } from '../../src/engine/index.js';

let fixture: PgFixture;
let db: pg.Client;
let url: string;

const tablesOf = async (prefix: string): Promise<string[]> =>
  (await db.query(`SELECT relname FROM pg_class WHERE relname LIKE $1 AND relkind IN ('r', 'm') ORDER BY 1`, [`%${prefix}%`])).rows.map((r) => r.relname as string);

beforeAll(async () => {
  fixture = await openPgFixture('pg_limits');
  ({ db, url } = fixture);
});

afterAll(async () => {
  await fixture?.close();
});

describe('preflight limits', () => {
  it('--max-retained-wal-mb is the limit preflight holds other running slots to', async () => {
    // Another migration is running, its stream active; a transaction it must wait for holds its slot's WAL.
    await db.query(`CREATE TABLE other (id int PRIMARY KEY, v text)`);
    await db.query(`CREATE TABLE target (id int PRIMARY KEY, v text)`);
    await db.query(`INSERT INTO target SELECT g, 'v' FROM generate_series(1, 100) g`);
    const request: AlterRequest = { table: { schema: 'public', name: 'other' }, alter: 'ADD COLUMN w int', cutOverLockTimeoutMs: 2000, dropOldTable: false, maxBacklogEvents: 10_000 };
    const running = fixture.engine.onlineAlter(request, { replicas: [], log: silentLogger });
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      const original = await fixture.engine.inspect(request.table);
      await running.preflight(original);
      const ghost = await running.createGhost();
      await ghost.startStream(chooseSharedKey(original, ghost.shape, mapColumns(original, ghost.shape, renamesOf((await loadAlterParser('postgres')).parseAlter(request.alter))))!);
      await holder.query(`BEGIN`);
      await holder.query(`INSERT INTO other VALUES (1, 'held open')`);
      await db.query(`CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 100000) g`);
      const retained = Number((await db.query(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 AS b FROM pg_replication_slots WHERE active AND slot_name LIKE 'ghostwright%' AND database = current_database()`)).rows[0].b);
      expect(retained).toBeGreaterThan(2 * 1024 * 1024);

      const refused = await runOnlineAlter(alterOptions({ url, table: 'target', alter: 'ADD COLUMN w int', execute: true, throttle: { maxRetainedWalBytes: 1024 * 1024 } as never }), {});
      expect(refused.status).toBe('refused');
      expect(refused.error?.code).toBe('E_PREFLIGHT_RETAINED_WAL');
      expect(await tablesOf('target')).toEqual(['target']);

      const allowed = await runOnlineAlter(alterOptions({ url, table: 'target', alter: 'ADD COLUMN w int', execute: false, throttle: { maxRetainedWalBytes: 1024 * 1024 * 1024 } as never }), {});
      expect(allowed.status, JSON.stringify(allowed.error)).not.toBe('refused');
    } finally {
      await holder.query(`ROLLBACK`).catch(() => undefined);
      await holder.end();
      await running.abort();
    }
  });

  it('a materialized view over the table is refused up front, with the way out, and nothing is changed', async () => {
    await db.query(`CREATE TABLE sales (id int PRIMARY KEY, amount int NOT NULL)`);
    await db.query(`INSERT INTO sales SELECT g, g FROM generate_series(1, 500) g`);
    await db.query(`CREATE MATERIALIZED VIEW sales_total AS SELECT sum(amount) AS total FROM sales`);
    const report = await runOnlineAlter(alterOptions({ url, table: 'sales', alter: 'ALTER COLUMN amount TYPE bigint', execute: true }), {});
    expect(report.status).toBe('refused');
    expect(report.error?.code).toBe('E_PREFLIGHT_MATERIALIZED_VIEWS');
    expect(report.error?.message).toMatch(/public\.sales_total/);
    expect(report.error?.hint).toMatch(/DROP MATERIALIZED VIEW public\.sales_total/);
    expect(await tablesOf('sales')).toEqual(['sales', 'sales_total']);
    expect((await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'sales'::regclass AND attname = 'amount'`)).rows[0].t).toBe('integer');
  });
});
