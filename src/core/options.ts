/**
 * The validated, frozen options of one online ALTER. The CLI, the ledger and
 * library callers all build this one object; parts get the slice they need.
 */
import { availableParallelism } from 'node:os';
import { parseConnectionUrl } from '../connection.js';
import { RefusedError } from '../errors.js';
import { autoThreads } from './auto-threads.js';
export interface ThrottleOptions {
  /** e.g. { Threads_running: 25 }: above any, copying pauses. */
  maxLoad: Record<string, number>;
  /** Above any (for criticalLoadHibernateMs, or at once when 0), abort. */
  criticalLoad: Record<string, number>;
  criticalLoadIntervalMs: number;
  /** gh-ost's --critical-load-hibernate-seconds: > 0 hibernates this long instead of aborting (0: abort). */
  criticalLoadHibernateMs?: number;
  /** gh-ost's --throttle-http: throttle while a HEAD request to this URL does not answer 200. */
  throttleHttp?: string | null;
  maxLagMs: number;
  /** PG: pause copying while our slot retains more WAL than this. */
  maxRetainedWalBytes: number;
  throttleFlagFile: string | null;
  panicFlagFile: string | null;
  throttleQuery: string | null;
  heartbeatIntervalMs: number;
  /** Each copy worker is busy at most this % of the wall time (100: no rest); see share.ts. */
  maxSharePercent: number;
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
  /** Copy workers; alterOptions() fills in autoThreads() when not given (see auto-threads.ts). */
  threads: number;
  dropOldTable: boolean;
  cutOverLockTimeoutMs: number;
  cutOverRetries: number;
  postponeCutOverFlagFile: string | null;
  replicas: string[];
  /** Ask the primary for its replicas/standbys and throttle on their lag; false with `--replica none`. */
  replicaDiscovery: boolean;
  throttle: ThrottleOptions;
  socketPath: string | null;
  hooksPath: string | null;
  statusIntervalMs: number;
  /** 'bar' for a terminal, 'json' for newline-delimited JSON on stderr, 'none'. */
  progress: 'bar' | 'json' | 'none';
  maxBacklogEvents: number;
  /** --no-defer-indexes: false builds the new table's indexes during the copy instead of once after it. */
  deferIndexes?: boolean;
  /** PG: how long the slot creation may wait for transactions already running. */
  streamStartTimeoutMs: number;
  /** Compare the ghost with the original at one consistent point before the cut-over (core/verify.ts). */
  verify: boolean;
  /** gh-ost --exact-rowcount: count the rows in the background at the start of the copy; the progress total becomes exact. */
  exactRowcount: boolean;
  /** gh-ost --timestamp-old-table: keep the old table as `_t_<UTC stamp>_del`. */
  timestampOldTable: boolean;
  /** gh-ost --initially-drop-ghost-table: drop a leftover ghost (and changelog) of this table first (core/initial-drop.ts). */
  initiallyDropGhostTable: boolean;
  /** gh-ost --initially-drop-old-table: drop a kept `_t_del` of this table first. */
  initiallyDropOldTable: boolean;
  /** --resume: continue the interrupted run on this table from its checkpoint (core/checkpoint.ts); 'auto' (migrate): when there is one. */
  resume: boolean | 'auto';
  /** How often the checkpoint is written while the run goes on (and at each phase change). */
  checkpointIntervalMs: number;
  /** PG --revert-window: keep the slot after the cut-over this long, so `alter --revert` can swap back (null: drop it). */
  revertWindowMs: number | null;
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
  maxSharePercent: 100,
});

export function alterOptions(partial: Partial<AlterOptions> & Pick<AlterOptions, 'url' | 'table' | 'alter'>): AlterOptions {
  return Object.freeze({
    execute: false,
    chunkSize: 5000,
    chunkTimeMs: 500,
    dropOldTable: false,
    cutOverLockTimeoutMs: 3000,
    cutOverRetries: 5,
    verify: true,
    exactRowcount: false,
    timestampOldTable: false,
    initiallyDropGhostTable: false,
    initiallyDropOldTable: false,
    resume: false,
    checkpointIntervalMs: 2000,
    revertWindowMs: null,
    postponeCutOverFlagFile: null,
    replicas: [],
    replicaDiscovery: true,
    socketPath: null,
    hooksPath: null,
    statusIntervalMs: 10_000,
    progress: 'none' as const,
    maxBacklogEvents: 50_000,
    streamStartTimeoutMs: 60_000,
    ...partial,
    threads: partial.threads ?? autoThreadsFor(partial.url),
    throttle: Object.freeze({ ...DEFAULT_THROTTLE, ...(partial.throttle ?? {}) }),
  });
}

/** `--threads auto` for this URL; an unparsable URL counts as remote (it is refused later, where it is used). */
export function autoThreadsFor(url: string): number {
  let host: string | null = null;
  try {
    host = parseConnectionUrl(url).host;
  } catch {
    host = null;
  }
  return autoThreads({ host }, availableParallelism());
}

/** `--replica none` turns discovery off (pt-osc's --recursion-method=none); URLs name the only replicas watched. */
export function replicaChoice(values: string[]): { replicas: string[]; replicaDiscovery: boolean } {
  const none = values.filter((v) => v.trim().toLowerCase() === 'none');
  if (none.length === 0) return { replicas: values, replicaDiscovery: true };
  if (none.length !== values.length) {
    throw new RefusedError('E_BAD_FLAG', '--replica none cannot be combined with replica URLs', { hint: 'give either --replica none (watch no replica) or one --replica URL per replica to watch' });
  }
  return { replicas: [], replicaDiscovery: false };
}
