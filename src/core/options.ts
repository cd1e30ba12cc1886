/**
 * The validated, frozen options of one online ALTER. The CLI, the ledger and
 * library callers all build this one object; parts get the slice they need.
 */
export interface ThrottleOptions {
  /** e.g. { Threads_running: 25 }: above any, copying pauses. */
  maxLoad: Record<string, number>;
  /** Above any (for criticalLoadHibernateMs, or at once when 0), abort. */
  criticalLoad: Record<string, number>;
  criticalLoadIntervalMs: number;
  maxLagMs: number;
  /** PG: pause copying while our slot retains more WAL than this. */
  maxRetainedWalBytes: number;
  throttleFlagFile: string | null;
  panicFlagFile: string | null;
  throttleQuery: string | null;
  heartbeatIntervalMs: number;
}

export interface AlterOptions {
  url: string;
  /** From --password-file / --ask-pass: for the URL and replica URLs without one (never logged). */
  password?: string;
  table: string;
  alter: string;
  execute: boolean;
  chunkSize: number;
  /** Target time per chunk; the chunk size adapts towards it. */
  chunkTimeMs: number;
  threads: number;
  dropOldTable: boolean;
  cutOverLockTimeoutMs: number;
  cutOverRetries: number;
  postponeCutOverFlagFile: string | null;
  replicas: string[];
  throttle: ThrottleOptions;
  socketPath: string | null;
  hooksPath: string | null;
  statusIntervalMs: number;
  /** 'bar' for a terminal, 'json' for newline-delimited JSON on stderr, 'none'. */
  progress: 'bar' | 'json' | 'none';
  maxBacklogEvents: number;
  /** PG: how long the slot creation may wait for transactions already running. */
  streamStartTimeoutMs: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = Object.freeze({
  maxLoad: {},
  criticalLoad: {},
  criticalLoadIntervalMs: 0,
  maxLagMs: 1500,
  maxRetainedWalBytes: 1024 * 1024 * 1024,
  throttleFlagFile: null,
  panicFlagFile: null,
  throttleQuery: null,
  heartbeatIntervalMs: 100,
});

export function alterOptions(partial: Partial<AlterOptions> & Pick<AlterOptions, 'url' | 'table' | 'alter'>): AlterOptions {
  return Object.freeze({
    execute: false,
    chunkSize: 5000,
    chunkTimeMs: 500,
    threads: 1,
    dropOldTable: false,
    cutOverLockTimeoutMs: 3000,
    cutOverRetries: 5,
    postponeCutOverFlagFile: null,
    replicas: [],
    socketPath: null,
    hooksPath: null,
    statusIntervalMs: 10_000,
    progress: 'none' as const,
    maxBacklogEvents: 50_000,
    streamStartTimeoutMs: 60_000,
    ...partial,
    throttle: Object.freeze({ ...DEFAULT_THROTTLE, ...(partial.throttle ?? {}) }),
  });
}
