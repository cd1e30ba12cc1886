/**
 * The per-file PostgreSQL fixture of the pg-* integration tests: a fresh
 * database, an engine on it and a plain client, torn down together.
 */
import pg from 'pg';
import { parseConnectionUrl } from '../../src/connection.js';
import type { Engine } from '../../src/engine/engine.js';
import { createPostgresEngine } from '../../src/engine/postgres/index.js';
import { silentLogger } from '../../src/log.js';
import { dropDatabase, freshDatabase } from './servers.js';

export interface PgFixture {
  url: string;
  engine: Engine;
  db: pg.Client;
  close(): Promise<void>;
}

export async function openPgFixture(prefix: string): Promise<PgFixture> {
  const url = await freshDatabase('postgres', prefix);
  const engine = await createPostgresEngine(parseConnectionUrl(url), silentLogger);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  return {
    url,
    engine,
    db,
    async close() {
      await db.end();
      await engine.close();
      await dropDatabase(url);
    },
  };
}

export interface PgDatabase {
  url: string;
  db: pg.Client;
  close(): Promise<void>;
}

/**
 * A fresh database and a plain client, for files whose cases drive the CLI
 * (and kill it on purpose). A killed run leaves its slot behind, inactive,
 * and a database a slot points into cannot be dropped: close() drops those
 * slots first.
 */
export async function openPgDatabase(prefix: string): Promise<PgDatabase> {
  const url = await freshDatabase('postgres', prefix);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  return {
    url,
    db,
    async close() {
      await db.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database() AND NOT active`).catch(() => undefined);
      await db.end();
      await dropDatabase(url);
    },
  };
}
