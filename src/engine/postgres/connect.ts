/**
 * Connections. Every pool and client here parses every column as TEXT with a
 * client-local `types` override (never the global pg.types): node-pg's default
 * parsers lose timestamptz microseconds, bigints inside jsonb and numeric
 * precision. Values travel as text and are cast explicitly when written.
 */
import pg from 'pg';
import { endpoint, redactedUrl, redactUrlText, type ConnectionSpec } from '../../connection.js';
import { isConnectionLost, isUnreachable, RefusedError, UnreachableError, type GhostwrightError } from '../../errors.js';

const asText = (value: string): string => value;
export const TEXT_TYPES = { getTypeParser: () => asText } as unknown as pg.CustomTypesConfig;

export function clientConfig(spec: ConnectionSpec, extra: Partial<pg.ClientConfig> = {}): pg.ClientConfig {
  const cfg: pg.ClientConfig = {
    host: spec.host,
    port: spec.port,
    user: spec.user,
    database: spec.database,
    types: TEXT_TYPES,
    application_name: 'ghostwright',
    ...extra,
  };
  if (spec.password !== undefined) cfg.password = spec.password;
  if (spec.tls) cfg.ssl = { ...spec.tls };
  return cfg;
}

/**
 * Every pooled session commits synchronously, whatever the server's default:
 * a copy chunk or apply batch counts as done (its range progress moves, its
 * stream position is acknowledged) once COMMIT returns, and with
 * synchronous_commit=off a crash can lose a commit that already returned.
 * A run that rides out the restart (sessions idle at the crash) would then
 * go on with holes in the ghost.
 */
export const DURABLE = '-c synchronous_commit=on';

export function createPool(spec: ConnectionSpec, max = 4, extra: Partial<pg.ClientConfig> = {}): pg.Pool {
  return survivingLostConnections(new pg.Pool({ options: DURABLE, ...clientConfig(spec, extra), max, idleTimeoutMillis: 10_000, allowExitOnIdle: true }));
}

/**
 * A client losing its connection must not crash the process. pg-pool listens
 * for errors of IDLE clients only: a checked-out client whose backend ends
 * (pg_terminate_backend, a server restart) emits an 'error' event nobody
 * hears, and Node ends the process (seen when a slot's creating backend was
 * terminated). The query in flight is rejected with the error anyway; the
 * event itself can be ignored.
 */
export function survivingLostConnections(pool: pg.Pool): pg.Pool {
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** How often in a row one piece of work (a copy chunk, an apply batch) is redone after its session was ended. */
export const SESSION_LOSS_RETRIES = 5;

/** When the server last started: a lost session with a different answer afterwards was a restart. */
export async function serverStartTime(pool: pg.Pool): Promise<string> {
  return (await pool.query<{ t: string }>('SELECT pg_postmaster_start_time()::text AS t')).rows[0]!.t;
}

/**
 * True when `err` is a lost session while the server itself stayed up (a
 * new session answers, and the server has not restarted since `startedAt`):
 * pg_terminate_backend, an idle or statement kill. The work is redone on a
 * new session. A restart is not ridden out here: a fast shutdown waits for
 * our walsender, which waits for an acknowledgement of work the run cannot
 * apply then; the run fails and keeps its state for --resume.
 */
export async function sessionLostServerUp(pool: pg.Pool, err: unknown, startedAt: string): Promise<boolean> {
  if (!isConnectionLost(err)) return false;
  try {
    return (await serverStartTime(pool)) === startedAt;
  } catch {
    return false;
  }
}

/** Turns a failed connect into a refusal a DBA can act on; never shows the password. */
export function connectError(spec: ConnectionSpec, err: unknown): GhostwrightError {
  const e = err as { code?: string; message?: string };
  const where = redactedUrl(spec);
  const msg = redactUrlText(String(e?.message ?? err));
  let hint = spec.host.startsWith('/') ? `check that PostgreSQL listens on ${endpoint(spec)} (unix_socket_directories, port)` : `check that PostgreSQL runs at ${endpoint(spec)} and accepts TCP connections`;
  if (e?.code === '28P01' || e?.code === '28000') hint = `check the user and password for ${spec.user} (and pg_hba.conf)`;
  else if (e?.code === '3D000') hint = `create the database "${spec.database}" or fix the URL`;
  else if (e?.code === 'ENOTFOUND' || e?.code === 'EAI_AGAIN') hint = `the host ${spec.host} does not resolve`;
  const safe = spec.password ? msg.split(spec.password).join('***') : msg;
  // No answer at all: exit 3 (a retry may help); the server saying no: exit 2 (fix the input).
  if (isUnreachable(err)) return new UnreachableError(`cannot reach ${where}: ${safe}`, { hint, cause: err });
  return new RefusedError('E_CONNECT', `cannot connect to ${where}: ${safe}`, { hint, cause: err });
}

/** A session the server ended: going down (admin_shutdown, crash_shutdown, cannot_connect_now), or pg_terminate_backend. */
export const SESSION_ENDED_CODES: ReadonlySet<string> = new Set(['57P01', '57P02', '57P03']);

/** pg's SQLSTATE of an error, if any. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Runs a catalog query and returns its rows as parsed JSON: booleans, numbers
 * and arrays keep their types without any driver type parser.
 */
/** The last catalog read queued on each single client (see catalog). */
const clientQueues = new WeakMap<pg.ClientBase, Promise<unknown>>();

/**
 * Catalog rows as JSON. On a pool, reads run side by side (inspectTable
 * starts eight at once); on one client (a transaction) they queue here,
 * one after another: pg would queue them too, but warns on stderr that
 * pg@9 will refuse a query sent while another runs.
 */
export async function catalog<T>(db: pg.Pool | pg.ClientBase, sql: string, params: unknown[] = []): Promise<T[]> {
  const read = () => db.query<{ j: string }>(`SELECT coalesce(json_agg(q), '[]')::text AS j FROM (${sql}) q`, params);
  let res: pg.QueryResult<{ j: string }>;
  if (db instanceof pg.Pool) res = await read();
  else {
    const run = (clientQueues.get(db) ?? Promise.resolve()).then(read);
    clientQueues.set(db, run.catch(() => undefined));
    res = await run;
  }
  return JSON.parse(res.rows[0]!.j) as T[];
}

/**
 * Settings of a transaction that asks for a lock writers then queue behind
 * (the cut-over's ACCESS EXCLUSIVE, the replica identity change). lock_timeout
 * bounds the wait. client_connection_check_interval (PostgreSQL 14+, settable
 * by any user) bounds it when we are gone: a backend waiting on a lock never
 * reads its socket, so after a kill -9 of the tool its request stayed queued,
 * and every writer behind it, until lock_timeout or the blocker ended
 * (measured 17.9 s). With the check the server polls the socket every second
 * while the statement runs and ends the orphaned session.
 */
export async function boundLockWait(client: pg.ClientBase, lockTimeoutMs: number): Promise<void> {
  await client.query(`SELECT set_config('lock_timeout', $1, true), set_config('client_connection_check_interval', '1000', true)`, [`${Math.max(1, Math.round(lockTimeoutMs))}ms`]);
}

/**
 * A query that runs one statement only, for SQL built from user text. A
 * simple-protocol query runs every statement in its text; the extended
 * protocol (Parse/Bind/Execute) refuses a second one with 42601 "cannot
 * insert multiple commands into a prepared statement". node-pg uses it for
 * a query without parameters only when asked (queryMode, pg >= 8.12; not in
 * @types/pg).
 */
export function oneStatement(text: string): pg.QueryConfig {
  return { text, queryMode: 'extended' } as pg.QueryConfig;
}

/** Runs fn in one transaction on a client of the pool: COMMIT when it resolves, ROLLBACK when it throws. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/**
 * Runs fn again while it fails with 55006 (object in use): a slot or
 * replication origin stays held for a moment by a session that just ended
 * (ours, or a killed run's). Gives up after `attempts` tries.
 */
export async function whileInUse<T>(fn: () => Promise<T>, attempts = 100, delayMs = 50): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (sqlState(err) !== '55006' || attempt >= attempts) throw err;
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}
