/**
 * Connecting (with retries for databases still starting, as in a compose
 * file or a Kubernetes Job racing its database) and the migration lock.
 *
 * The lock lives on its own dedicated session so that it is held for the
 * whole run whatever the work session does (commits, errors, reconnects):
 * PostgreSQL `pg_advisory_lock` (session-scoped, per database), MySQL
 * `GET_LOCK` (session-scoped, server-wide name, so it includes the database).
 * Both are released by the server if our process dies.
 */
import { redactedUrl, type ConnectionSpec } from '../connection.js';
import { connectEngine } from '../engine/index.js';
import type { Engine, SqlSession } from '../engine/engine.js';
import { GhostwrightError, isGhostwrightError } from '../errors.js';
import type { Logger } from '../log.js';
import { acquireLock, ledgerDialect, releaseLock } from './dialect-sql.js';
import { checkInterrupted } from './guard.js';
import { asBool } from './history-store.js';

export type EngineConnector = (spec: ConnectionSpec, log: Logger) => Promise<Engine>;

/** Delay before retry n (0-based): 1 s, 2 s, 4 s, ... capped. */
export function retryDelayMs(attempt: number, maxMs = 10_000): number {
  return Math.min(1000 * 2 ** attempt, maxMs);
}

/** Resolves after ms, or at once when the signal aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

const NOTHING_CHANGED = 'nothing was changed; run the command again';

/** SQLSTATE / driver codes of a server that answered "not now": starting up, shutting down, full. */
const NOT_NOW = new Set(['57P03', '57P01', '53300', 'ER_CON_COUNT_ERROR', 'ER_SERVER_SHUTDOWN']);

/**
 * Only a server that did not answer (yet), or said "not now", is worth
 * another attempt. A wrong password, a missing database or a TLS mismatch
 * (E_CONNECT) or a bad URL gets the same answer every time: fail at once.
 */
export function worthRetrying(err: unknown): boolean {
  if (isGhostwrightError(err) && err.code === 'E_UNREACHABLE') return true;
  for (let e: unknown = err; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    if (NOT_NOW.has(String((e as { code?: unknown }).code))) return true;
  }
  return false;
}

export async function connectWithRetries(spec: ConnectionSpec, log: Logger, retries: number, connect: EngineConnector = connectEngine, signal?: AbortSignal): Promise<Engine> {
  for (let attempt = 0; ; attempt++) {
    checkInterrupted(signal, 'while connecting', NOTHING_CHANGED);
    try {
      return await connect(spec, log);
    } catch (err) {
      if (!worthRetrying(err) || attempt >= retries || signal?.aborted) throw err;
      const delay = retryDelayMs(attempt);
      log.warn({ url: redactedUrl(spec), attempt: attempt + 1, retries, delayMs: delay, err }, 'database not reachable yet; retrying');
      await pause(delay, signal);
    }
  }
}

export interface MigrationLock {
  release(): Promise<void>;
}

/** One attempt of at most `seconds`: true when the lock is ours. */
async function tryLock(engine: Engine, session: SqlSession, database: string, seconds: number): Promise<boolean> {
  try {
    let acquired = true;
    const answers = ledgerDialect(engine.dialect).lockAnswers;
    for (const q of acquireLock(engine.dialect, database, seconds)) {
      const { rows } = await session.query(q.sql, q.params);
      if (answers) acquired = asBool(rows[0]?.acquired);
    }
    return acquired;
  } catch (err) {
    if (isLockTimeout(err)) return false;
    throw err;
  }
}

function isLockTimeout(err: unknown): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: string }).code === '55P03') return true;
  }
  return false;
}

/**
 * Waits for the lock in attempts of at most a second, so that a signal is
 * obeyed within a second even while another runner holds the lock.
 */
export async function acquireMigrationLock(engine: Engine, database: string, timeoutSeconds: number, log: Logger, signal?: AbortSignal): Promise<MigrationLock> {
  const session: SqlSession = await engine.openSession();
  const deadline = Date.now() + timeoutSeconds * 1000;
  try {
    log.debug({ timeoutSeconds }, 'acquiring the migration lock');
    for (;;) {
      checkInterrupted(signal, 'while waiting for the migration lock', NOTHING_CHANGED);
      const wait = Date.now() < deadline ? 1 : 0;
      if (await tryLock(engine, session, database, wait)) break;
      if (wait === 0 || Date.now() >= deadline) throw new Error('GET_LOCK timed out');
    }
  } catch (err) {
    await session.close().catch(() => undefined);
    if (err instanceof Error && err.message === 'GET_LOCK timed out') {
      throw new GhostwrightError('E_LOCK_TIMEOUT', `another migration run held the migration lock for more than ${timeoutSeconds} s`, {
        hint: 'wait for the other run to finish, or raise --lock-timeout',
        cause: err,
      });
    }
    throw err;
  }
  return {
    async release() {
      try {
        for (const q of releaseLock(engine.dialect, database)) await session.query(q.sql, q.params);
      } finally {
        await session.close().catch(() => undefined);
      }
    },
  };
}
