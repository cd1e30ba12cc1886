/**
 * Live state of one running migration: the settings a DBA can change while it
 * runs (socket, flag files) and the progress everyone reads (progress line,
 * hooks, status command). One plain object owned by the migrator; the
 * throttler and the control socket read and write it, nothing else does.
 */
export type MigrationState =
  | 'starting'
  | 'copying'
  | 'throttled'
  | 'catching-up'
  | 'postponed'
  | 'cutting-over'
  | 'cleaning-up'
  | 'done'
  | 'failed';

export interface LiveSettings {
  chunkSize: number;
  maxLagMs: number;
  maxLoad: Record<string, number>;
  criticalLoad: Record<string, number>;
  /** Set by the `throttle` command; cleared by `no-throttle`. */
  forcedThrottle: boolean;
  /** Set by `postpone-cut-over`, cleared by `unpostpone`. */
  postponeCutOver: boolean;
  /** Set by `cut-over`: proceed now even if a postpone flag file exists. */
  cutOverNow: boolean;
  /** Set by `panic`: abort at once, cleanly. */
  panic: boolean;
}

export interface LiveProgress {
  state: MigrationState;
  table: string;
  engine: string;
  startedAt: number;
  copyStartedAt: number | null;
  rowsCopied: number;
  rowsEstimated: number;
  eventsApplied: number;
  backlog: number;
  throttleReason: string | null;
  /** Last measured lag per replica, ms. */
  replicaLagMs: Record<string, number | null>;
}

export interface LiveMigration {
  settings: LiveSettings;
  progress: LiveProgress;
}

export function etaMs(p: LiveProgress, now = Date.now()): number | null {
  if (!p.copyStartedAt || p.rowsCopied === 0) return null;
  const rate = p.rowsCopied / Math.max(1, now - p.copyStartedAt);
  const left = Math.max(0, p.rowsEstimated - p.rowsCopied);
  return Math.round(left / rate);
}

export function rowsPerSecond(p: LiveProgress, now = Date.now()): number {
  if (!p.copyStartedAt) return 0;
  return Math.round((p.rowsCopied * 1000) / Math.max(1, now - p.copyStartedAt));
}
