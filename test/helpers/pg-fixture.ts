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
