/**
 * Server URLs for integration tests (from global setup), a fresh database per
 * test file so files never collide, and a tiny query helper.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { ProvidedContext } from 'vitest';
import { helperNames, type HelperNames } from '../../src/core/names.js';

export type TestDialect = 'mysql' | 'postgres';

const ENV: Record<keyof ProvidedContext & string, string> = {
  ghostwrightMysqlUrl: 'GHOSTWRIGHT_TEST_MYSQL_URL',
  ghostwrightMysqlReplicaUrl: 'GHOSTWRIGHT_TEST_MYSQL_REPLICA_URL',
  ghostwrightPgUrl: 'GHOSTWRIGHT_TEST_PG_URL',
  ghostwrightPgStandbyUrl: 'GHOSTWRIGHT_TEST_PG_STANDBY_URL',
};

function provided(key: keyof ProvidedContext & string): string | undefined {
  let value: string | undefined;
  try {
    value = inject(key);
  } catch {
    /* not inside a vitest worker */
  }
  return value || process.env[ENV[key]] || undefined;
}

function required(key: keyof ProvidedContext & string): string {
  const url = provided(key);
  if (!url) {
    throw new Error(`no ${ENV[key]}: servers were not started (GHOSTWRIGHT_TEST_SKIP_SERVERS?) and none was given`);
  }
  return url;
}

export const hasMysql = (): boolean => provided('ghostwrightMysqlUrl') !== undefined;
export const hasMysqlReplica = (): boolean => provided('ghostwrightMysqlReplicaUrl') !== undefined;
export const hasPostgres = (): boolean => provided('ghostwrightPgUrl') !== undefined;
export const hasPgStandby = (): boolean => provided('ghostwrightPgStandbyUrl') !== undefined;

export const mysqlUrl = (): string => required('ghostwrightMysqlUrl');
export const mysqlReplicaUrl = (): string => required('ghostwrightMysqlReplicaUrl');
export const pgUrl = (): string => required('ghostwrightPgUrl');
export const pgStandbyUrl = (): string => required('ghostwrightPgStandbyUrl');

export function serverUrl(dialect: TestDialect): string {
  return dialect === 'mysql' ? mysqlUrl() : pgUrl();
}

/** The same server and credentials, another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

export function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

/** A unique, valid (lowercase, <= 63 bytes) database name starting with `prefix`. */
export function uniqueName(prefix: string): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 40) || 'gw';
  return `${clean}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

/**
 * Creates an empty, uniquely named database on the test server of `dialect`
 * and returns its URL. On a MySQL replica / PG standby the same name appears
 * through replication: `withDatabase(mysqlReplicaUrl(), databaseOf(url))`.
 */
export async function freshDatabase(dialect: TestDialect, prefix = 'gw'): Promise<string> {
  const base = serverUrl(dialect);
  const name = uniqueName(prefix);
  const db = await sql(base);
  try {
    await db.query(dialect === 'mysql' ? `CREATE DATABASE \`${name}\`` : `CREATE DATABASE "${name}"`);
  } finally {
    await db.end();
  }
  return withDatabase(base, name);
}

/** Drops a database made by freshDatabase (connects to the server's default test database to do it). */
export async function dropDatabase(url: string): Promise<void> {
  const name = databaseOf(url);
  const dialect: TestDialect = url.startsWith('postgres') ? 'postgres' : 'mysql';
  const db = await sql(serverUrl(dialect));
  try {
    await db.query(dialect === 'mysql' ? `DROP DATABASE IF EXISTS \`${name}\`` : `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await db.end();
  }
}

export interface TestSql {
  readonly dialect: TestDialect;
  /** Rows of a query (`?` placeholders on MySQL, `$1` on PostgreSQL). */
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** First column of the first row, or undefined. */
  value<T = unknown>(text: string, params?: unknown[]): Promise<T | undefined>;
  end(): Promise<void>;
}

/** One connection to `url` with just enough API for tests. MySQL allows multi-statement text. */
export async function sql(url: string): Promise<TestSql> {
  if (url.startsWith('mysql:') || url.startsWith('mariadb:')) {
    const conn = await mysql.createConnection({
      uri: url.replace(/^mariadb:/, 'mysql:'),
      multipleStatements: true,
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      timezone: 'Z',
    });
    const query = async <T>(text: string, params?: unknown[]): Promise<T[]> => {
      const [rows] = await conn.query(text, params);
      return (Array.isArray(rows) ? rows : []) as T[];
    };
    return {
      dialect: 'mysql',
      query,
      async value<T>(text: string, params?: unknown[]) {
        const row = (await query<Record<string, unknown>>(text, params))[0];
        return (row ? Object.values(row)[0] : undefined) as T | undefined;
      },
      end: () => conn.end(),
    };
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const query = async <T>(text: string, params?: unknown[]): Promise<T[]> => (await client.query(text, params)).rows as T[];
  return {
    dialect: 'postgres',
    query,
    async value<T>(text: string, params?: unknown[]) {
      const row = (await query<Record<string, unknown>>(text, params))[0];
      return (row ? Object.values(row)[0] : undefined) as T | undefined;
    },
    end: () => client.end(),
  };
}

/** The helper tables (ghost, old, changelog) a migration of `table` uses on `dialect`. */
export function helpersOf(dialect: TestDialect, table: string): HelperNames {
  return helperNames(dialect, table);
}

export interface TestDatabase {
  url: string;
  db: TestSql;
  /** Ends the client and drops the database. */
  close(): Promise<void>;
}

/** A fresh database with `setup` run in it, and a client on it. */
export async function openTestDatabase(dialect: TestDialect, prefix: string, setup: readonly string[] = []): Promise<TestDatabase> {
  const url = await freshDatabase(dialect, prefix);
  const db = await sql(url);
  for (const statement of setup) await db.query(statement);
  return {
    url,
    db,
    async close() {
      await db.end();
      await dropDatabase(url);
    },
  };
}
