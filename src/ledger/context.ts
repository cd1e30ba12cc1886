/**
 * One ledger run's resources: the engine, the history store, the migration
 * lock and the work session, opened in that order and closed in reverse.
 */
import { parseConnectionUrl, type ConnectionSpec } from '../connection.js';
import type { Engine, SqlSession } from '../engine/engine.js';
import { silentLogger, type Logger } from '../log.js';
import type { AlterOptions } from '../core/options.js';
import type { OnlineRunner } from './apply.js';
import { HISTORY_TABLE } from './dialect-sql.js';
import { EngineHistoryStore } from './history-store.js';
import { acquireMigrationLock, connectWithRetries, type EngineConnector } from './session.js';
import { DEFAULT_ONLINE_THRESHOLD } from './plan.js';

export interface LedgerOptions {
  url: string;
  /** Migrations directory; default ./migrations. */
  dir?: string;
  log?: Logger;
  placeholders?: Record<string, string>;
  /** Replace `${...}` placeholders (default true). */
  placeholderReplacement?: boolean;
  target?: string;
  outOfOrder?: boolean;
  baselineOnMigrate?: boolean;
  baselineVersion?: string;
  baselineDescription?: string;
  /** Rows above which a rewriting ALTER goes to the online engine (default 1,000,000). */
  onlineThreshold?: number;
  /** Settings passed to the online engine for delegated ALTERs (throttle, chunk size, ...). */
  onlineOptions?: Partial<AlterOptions>;
  connectRetries?: number;
  lockTimeoutSeconds?: number;
  cleanEnabled?: boolean;
  dryRun?: boolean;
  validateOnMigrate?: boolean;
  installedBy?: string;
  /** History table name (default ghostwright_schema_history). */
  table?: string;
  /** From --password-file / --ask-pass: for URLs without a password (never logged). */
  password?: string;
  /** Aborted by SIGINT/SIGTERM: the run stops at the next safe point (see guard.ts). */
  signal?: AbortSignal;
  /** Injection points for tests and embedding. */
  online?: OnlineRunner;
  connect?: EngineConnector;
}

export interface LedgerRun {
  spec: ConnectionSpec;
  engine: Engine;
  store: EngineHistoryStore;
  log: Logger;
  serverVersion: number;
}

export function resolved(opts: LedgerOptions) {
  return {
    dir: opts.dir ?? 'migrations',
    log: opts.log ?? silentLogger,
    onlineThreshold: opts.onlineThreshold ?? DEFAULT_ONLINE_THRESHOLD,
    lockTimeoutSeconds: opts.lockTimeoutSeconds ?? 600,
    connectRetries: opts.connectRetries ?? 0,
    table: opts.table ?? HISTORY_TABLE,
    baselineVersion: opts.baselineVersion ?? '1',
    baselineDescription: opts.baselineDescription ?? '<< ghostwright baseline >>',
  };
}

/** Opens the engine (with retries), runs fn, closes. */
export async function withEngine<T>(opts: LedgerOptions, fn: (run: LedgerRun) => Promise<T>): Promise<T> {
  const r = resolved(opts);
  const spec = parseConnectionUrl(opts.url, process.env, opts.password !== undefined ? { password: opts.password } : {});
  const engine = await connectWithRetries(spec, r.log, r.connectRetries, opts.connect, opts.signal);
  try {
    const info = await engine.serverInfo();
    return await fn({ spec, engine, store: new EngineHistoryStore(engine, r.table), log: r.log, serverVersion: info.versionNumber });
  } finally {
    await engine.close().catch(() => undefined);
  }
}

/** withEngine + the migration lock held for the whole of fn. */
export async function withLock<T>(opts: LedgerOptions, fn: (run: LedgerRun) => Promise<T>): Promise<T> {
  const r = resolved(opts);
  return withEngine(opts, async (run) => {
    const lock = await acquireMigrationLock(run.engine, run.spec.database, r.lockTimeoutSeconds, run.log, opts.signal);
    try {
      return await fn(run);
    } finally {
      await lock.release().catch((err: unknown) => run.log.warn({ err }, 'releasing the migration lock failed (the server drops it with the session)'));
    }
  });
}

/** A dedicated work session for fn (transactions live on it). */
export async function withSession<T>(engine: Engine, fn: (session: SqlSession) => Promise<T>): Promise<T> {
  const session = await engine.openSession();
  try {
    return await fn(session);
  } finally {
    await session.close().catch(() => undefined);
  }
}
