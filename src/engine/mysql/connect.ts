/**
 * Connections to MySQL/MariaDB. Every connection keeps values exact:
 * dates as strings, BIGINT/DECIMAL as strings (supportBigNumbers +
 * bigNumberStrings), so a key read from one statement can be bound into the
 * next without rounding.
 */
import mysql from 'mysql2/promise';
import type { Pool, PoolConnection, Connection, ConnectionOptions, RowDataPacket, ResultSetHeader } from 'mysql2/promise';
import { endpoint, redactedUrl, redactUrlText, type ConnectionSpec } from '../../connection.js';
import { isUnreachable, RefusedError, UnreachableError, type GhostwrightError } from '../../errors.js';

export type Queryable = Pool | PoolConnection | Connection;
export type Row = Record<string, unknown>;

export function connectionOptions(spec: ConnectionSpec, extra: Partial<ConnectionOptions> = {}): ConnectionOptions {
  const opts: ConnectionOptions = {
    host: spec.host,
    port: spec.port,
    user: spec.user,
    database: spec.database,
    dateStrings: true,
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: true,
    charset: 'utf8mb4_general_ci',
    connectTimeout: 10_000,
    ...extra,
  };
  // A socket file wins over host and port (mysql2 and zongji's mysql both read socketPath).
  if (spec.socketPath) opts.socketPath = spec.socketPath;
  if (spec.password !== undefined) opts.password = spec.password;
  if (spec.tls) {
    const ssl: Record<string, unknown> = { rejectUnauthorized: spec.tls.rejectUnauthorized };
    if (spec.tls.ca) ssl.ca = spec.tls.ca;
    if (spec.tls.cert) ssl.cert = spec.tls.cert;
    if (spec.tls.key) ssl.key = spec.tls.key;
    opts.ssl = ssl;
  }
  return opts;
}

/**
 * Session settings of every connection we open. NO_BACKSLASH_ESCAPES is
 * removed because the driver escapes bound values with backslashes;
 * max_error_count is raised so SHOW WARNINGS after a chunk lists them all.
 */
const SESSION_SETUP = [
  withoutSqlModes(['NO_BACKSLASH_ESCAPES']),
  // Copying or applying a row whose AUTO_INCREMENT column is 0 must keep 0:
  // without this mode the server hands it a fresh id (the row is duplicated
  // under a new key, and the copy later collides with that id).
  "SET SESSION sql_mode = TRIM(BOTH ',' FROM CONCAT(@@SESSION.sql_mode, ',NO_AUTO_VALUE_ON_ZERO'))",
  'SET SESSION max_error_count = 65535',
];

/** `SET SESSION sql_mode` to the current modes minus `modes` (names are constants, not input). */
export function withoutSqlModes(modes: readonly string[]): string {
  let expr = "CONCAT(',', @@SESSION.sql_mode, ',')";
  for (const m of modes) expr = `REPLACE(${expr}, ',${m},', ',')`;
  return `SET SESSION sql_mode = TRIM(BOTH ',' FROM ${expr})`;
}

/**
 * The sessions that copy and apply rows (the pool of an online ALTER, and the
 * cut-over's locking session, which applies the last changes).
 *
 * READ COMMITTED: each chunk's INSERT ... SELECT reads a fresh snapshot
 * without shared locks on the original's rows (core/copy-window.ts covers the race).
 *
 * Not strict: a row the server would reject must not abort a whole chunk
 * statement; it becomes a warning, and every warning is inspected (any that
 * changes data fails the run). A blocking ALTER fills a new NOT NULL column
 * without default with its implicit default; so do we.
 */
export const ROW_SESSION_SETUP: readonly string[] = ['SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', withoutSqlModes(['STRICT_TRANS_TABLES', 'STRICT_ALL_TABLES'])];

/**
 * Warning codes that are not a change of data: 1364 "Field doesn't have a
 * default value" means the column took its implicit default, which is what
 * a blocking ALTER ... ADD COLUMN c INT NOT NULL does to existing rows.
 */
export const BENIGN_WARNINGS = new Set([1364]);

export async function setupSession(conn: Queryable): Promise<void> {
  for (const s of SESSION_SETUP) await conn.query(s);
}

export function createPool(spec: ConnectionSpec, size = 6, extraSetup: readonly string[] = [], extra: Partial<ConnectionOptions> = {}): Pool {
  const pool = mysql.createPool({ ...connectionOptions(spec, extra), connectionLimit: size, waitForConnections: true, enableKeepAlive: true });
  // Queued on the new connection before anything the pool hands out runs on it.
  pool.pool.on('connection', (c) => {
    for (const s of [...SESSION_SETUP, ...extraSetup]) {
      // These SETs can't fail on a supported server; a callback keeps a
      // surprise from becoming an unhandled 'error' event.
      c.query(s, (err: unknown) => {
        if (err) c.destroy();
      });
    }
  });
  return pool;
}

export async function openConnection(spec: ConnectionSpec, extra: Partial<ConnectionOptions> = {}): Promise<Connection> {
  try {
    const conn = await mysql.createConnection(connectionOptions(spec, extra));
    await setupSession(conn);
    return conn;
  } catch (err) {
    throw connectError(spec, err);
  }
}

/** Wrong host/password/database: a refusal with a hint, never the password. */
export function connectError(spec: ConnectionSpec, err: unknown): GhostwrightError {
  const e = err as { code?: string; errno?: number; message?: string };
  const where = redactedUrl(spec);
  const raw = redactUrlText(String(e?.message ?? err));
  const safe = spec.password ? raw.split(spec.password).join('***') : raw;
  let hint = 'check host, port, user, password and database in the URL';
  switch (e?.code) {
    case 'ER_ACCESS_DENIED_ERROR':
    case 'ER_DBACCESS_DENIED_ERROR':
      hint = 'the user/password was rejected: check them (MYSQL_PWD can hold the password) and that the user may connect from this host';
      break;
    case 'ER_BAD_DB_ERROR':
      hint = `database "${spec.database}" does not exist: create it or fix the URL path`;
      break;
    case 'ECONNREFUSED':
      hint = `nothing listens on ${endpoint(spec)}: is the server running, is the ${spec.socketPath ? 'socket path' : 'port'} right?`;
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      hint = `host "${spec.host}" does not resolve`;
      break;
    case 'ETIMEDOUT':
      hint = `no answer from ${endpoint(spec)} (firewall?)`;
      break;
    case 'HANDSHAKE_NO_SSL_SUPPORT':
      hint = 'the server does not offer TLS: enable it on the server or drop ssl/sslmode from the URL';
      break;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      hint = "the server's TLS certificate was not accepted: pass its CA with sslca=/path/ca.pem, or use ssl=require (encrypts without verifying)";
      break;
    case 'ENOENT':
      hint = `no socket file ${spec.socketPath ?? ''}: check the path (SELECT @@socket on the server shows it)`;
      break;
    default:
      break;
  }
  // No answer at all: exit 3 (a retry may help); the server saying no: exit 2 (fix the input).
  if (isUnreachable(err)) return new UnreachableError(`cannot reach ${where}: ${safe}`, { hint, cause: err });
  return new RefusedError('E_CONNECT', `cannot connect to ${where}: ${safe}`, { hint, cause: err });
}

export async function queryRows(conn: Queryable, sql: string, params: unknown[] = []): Promise<Row[]> {
  const [rows] = await conn.query<RowDataPacket[]>(sql, params);
  return rows as Row[];
}

export async function queryExec(conn: Queryable, sql: string, params: unknown[] = []): Promise<ResultSetHeader> {
  const [res] = await conn.query<ResultSetHeader>(sql, params);
  return res;
}

/** Reads a server variable (global or session), null when the server doesn't have it. */
export async function variable(conn: Queryable, name: string): Promise<string | null> {
  const rows = await queryRows(conn, 'SHOW VARIABLES WHERE Variable_name = ?', [name]);
  const v = rows[0]?.Value;
  return v === undefined || v === null ? null : String(v);
}

export async function globalVariable(conn: Queryable, name: string): Promise<string | null> {
  const rows = await queryRows(conn, 'SHOW GLOBAL VARIABLES WHERE Variable_name = ?', [name]);
  const v = rows[0]?.Value;
  return v === undefined || v === null ? null : String(v);
}

// ---------------------------------------------------------------- binlog positions

export interface BinlogPosition {
  file: string;
  position: number;
}

export function formatPosition(p: BinlogPosition): string {
  return `${p.file}:${p.position}`;
}

/** Binlog files are `<base>.<sequence>`; compare the sequence numerically, then the offset. */
export function comparePositions(a: BinlogPosition, b: BinlogPosition): number {
  const seq = (f: string) => Number(/\.(\d+)$/.exec(f)?.[1] ?? 0);
  const d = seq(a.file) - seq(b.file);
  if (d !== 0) return d;
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  return a.position - b.position;
}

/** The primary's current binlog end: SHOW MASTER STATUS, renamed SHOW BINARY LOG STATUS in MySQL 8.2+. */
export async function currentBinlogPosition(conn: Queryable): Promise<BinlogPosition> {
  let rows: Row[];
  try {
    rows = await queryRows(conn, 'SHOW MASTER STATUS');
  } catch (err) {
    // MySQL 8.4 removed the old spelling; anything else (privileges) is the real error.
    if ((err as { code?: string }).code !== 'ER_PARSE_ERROR') throw err;
    rows = await queryRows(conn, 'SHOW BINARY LOG STATUS');
  }
  const r = rows[0];
  if (!r || !r.File) {
    throw new RefusedError('E_NO_BINLOG', 'the server has no binary log (SHOW MASTER STATUS is empty)', {
      hint: 'enable it: log_bin=ON in my.cnf (needs a restart), with binlog_format=ROW',
    });
  }
  return { file: String(r.File), position: Number(r.Position) };
}

/**
 * Refuses, with the caller's error, unless the server still has the binlog
 * file a stream must start in (SHOW BINARY LOGS): the changes of a purged
 * file can never be read again. `refuse` gets the oldest file left.
 */
export async function requireBinlogFile(conn: Queryable, file: string, refuse: (oldest: string | null) => Error): Promise<void> {
  const files = (await queryRows(conn, 'SHOW BINARY LOGS')).map((r) => String(r.Log_name));
  if (!files.includes(file)) throw refuse(files[0] ?? null);
}
