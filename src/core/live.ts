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
  | 'verifying'
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
  /** `max-share`: each copy worker busy at most this % of the time (100: no rest). */
  maxSharePercent: number;
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
  /** Rows compared so far by the verification (state 'verifying'). */
  rowsVerified?: number;
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

/**
 * A live state at its start: nothing forced, postponed or copied yet. The
 * migrator builds it from the options; tests and embedding applications pass
 * what they want to differ.
 */
export function newLiveMigration(
  settings: Pick<LiveSettings, 'chunkSize' | 'maxLagMs'> & Partial<LiveSettings>,
  progress: Partial<LiveProgress> = {},
): LiveMigration {
  return {
    settings: { maxLoad: {}, criticalLoad: {}, maxSharePercent: 100, forcedThrottle: false, postponeCutOver: false, cutOverNow: false, panic: false, ...settings },
    progress: {
      state: 'starting',
      table: '',
      engine: '',
      startedAt: Date.now(),
      copyStartedAt: null,
      rowsCopied: 0,
      rowsEstimated: 0,
      eventsApplied: 0,
      backlog: 0,
      throttleReason: null,
      replicaLagMs: {},
      ...progress,
    },
  };
}
