/**
 * The terminal view of a running migration (for people) and its JSON twin
 * (for machines), both on stderr so stdout stays free for --json reports.
 *
 *   bar   a cli-progress bar: percent, rows copied/estimated, rows/s, ETA,
 *         backlog, state (copying / throttled: reason / postponed / ...).
 *         Only on a terminal: when the stream is not a TTY (CI logs, files)
 *         it prints a plain progress line at most every plainIntervalMs.
 *   json  newline-delimited events: {"event":"progress",...} at most once per
 *         minIntervalMs, and at once whenever the state or throttle reason
 *         changes; {"event":"log","message":...} for log().
 *   none  progress is not shown; log() lines are still written.
 */
import cliProgress from 'cli-progress';
import { etaMs, rowsPerSecond, type LiveMigration } from '../core/live.js';
import { percent } from '../control/commands.js';
import { shareText } from '../core/share.js';

export type ProgressMode = 'bar' | 'json' | 'none';

export interface ProgressReporter {
  update(live: LiveMigration): void;
  log(line: string): void;
  stop(): void;
}

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressReporterOptions {
  /** json: minimum time between two progress events with the same state. Default 1000 ms. */
  minIntervalMs?: number;
  /** bar on a non-terminal: time between plain lines. Default 10 s. */
  plainIntervalMs?: number;
  now?: () => number;
}

export interface ProgressFields {
  state: string;
  table: string;
  percent: number;
  rowsCopied: number;
  rowsEstimated: number;
  rowsPerSecond: number;
  etaMs: number | null;
  backlog: number;
  eventsApplied: number;
  throttleReason: string | null;
  replicaLagMs: Record<string, number | null>;
  elapsedMs: number;
  /** The DBA's `max-share` (100: the copy may take the whole server). */
  maxSharePercent: number;
  /** Rows compared by the verification so far (state 'verifying'). */
  rowsVerified?: number;
}

export function progressFields(live: LiveMigration, now = Date.now()): ProgressFields {
  const p = live.progress;
  return {
    state: p.state,
    table: p.table,
    percent: percent(p.rowsCopied, p.rowsEstimated),
    rowsCopied: p.rowsCopied,
    rowsEstimated: p.rowsEstimated,
    rowsPerSecond: rowsPerSecond(p, now),
    etaMs: etaMs(p, now),
    backlog: p.backlog,
    eventsApplied: p.eventsApplied,
    throttleReason: p.throttleReason,
    replicaLagMs: { ...p.replicaLagMs },
    elapsedMs: now - p.startedAt,
    maxSharePercent: live.settings.maxSharePercent,
    ...(p.rowsVerified !== undefined ? { rowsVerified: p.rowsVerified } : {}),
  };
}

/** `copying`, `copying (share ≤50%)`, `throttled: lag: replica r1 1800ms > 1500ms`, `verifying: N rows compared`, `postponed`, `cutting over`. */
export function stateText(f: Pick<ProgressFields, 'state' | 'throttleReason'> & { maxSharePercent?: number; rowsVerified?: number }): string {
  if (f.state === 'throttled') return `throttled: ${f.throttleReason ?? 'unknown reason'}`;
  if (f.state === 'verifying') return `verifying: ${f.rowsVerified ?? 0} rows compared`;
  const share = f.state === 'copying' ? shareText(f.maxSharePercent ?? 100) : null;
  return `${f.state.replace(/-/g, ' ')}${share ? ` (${share})` : ''}`;
}

/** `1h02m`, `4m05s`, `12s`, `unknown`. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return 'unknown';
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}

/** One line for logs and non-terminals: `orders 45.2% 45200/100000 rows, 12345 rows/s, ETA 4s, backlog 12 | copying`. */
export function formatProgressLine(live: LiveMigration, now = Date.now()): string {
  const f = progressFields(live, now);
  return `${f.table} ${f.percent}% ${f.rowsCopied}/${f.rowsEstimated} rows, ${f.rowsPerSecond} rows/s, ETA ${formatDuration(f.etaMs)}, backlog ${f.backlog} | ${stateText(f)}`;
}

export function createProgressReporter(mode: ProgressMode, stream: ProgressStream = process.stderr, options: ProgressReporterOptions = {}): ProgressReporter {
  switch (mode) {
    case 'json':
      return jsonReporter(stream, options);
    case 'bar':
      return stream.isTTY ? barReporter(stream as NodeJS.WritableStream) : plainReporter(stream, options);
    case 'none':
      return { update() {}, log: (line) => void stream.write(`${line}\n`), stop() {} };
    default: {
      const never: never = mode;
      throw new Error(`unknown progress mode ${String(never)}`);
    }
  }
}

/** Migration states after which nothing changes any more: reported once. */
const FINAL_STATES = new Set(['done', 'failed']);

function jsonReporter(stream: ProgressStream, o: ProgressReporterOptions): ProgressReporter {
  const now = o.now ?? Date.now;
  const minInterval = o.minIntervalMs ?? 1000;
  let lastAt = -Infinity;
  let lastKey = '';
  let lastSeen = '';
  let finished = false;
  let pending: LiveMigration | null = null;
  // What an event says, without its clock: an unchanged state is not written again at stop.
  const seen = (f: ProgressFields): string => JSON.stringify([f.state, f.throttleReason, f.percent, f.rowsCopied, f.rowsEstimated, f.backlog, f.eventsApplied, f.rowsVerified ?? null]);
  const emit = (live: LiveMigration): void => {
    const t = now();
    const f = progressFields(live, t);
    stream.write(`${JSON.stringify({ event: 'progress', time: new Date(t).toISOString(), ...f })}\n`);
    lastAt = t;
    lastKey = `${f.state}|${f.throttleReason ?? ''}`;
    lastSeen = seen(f);
    finished = FINAL_STATES.has(f.state);
    pending = null;
  };
  return {
    update(live) {
      if (finished) return;
      const key = `${live.progress.state}|${live.progress.throttleReason ?? ''}`;
      if (key !== lastKey || now() - lastAt >= minInterval) emit(live);
      else pending = live;
    },
    log(line) {
      stream.write(`${JSON.stringify({ event: 'log', time: new Date(now()).toISOString(), message: line })}\n`);
    },
    stop() {
      if (pending && !finished && seen(progressFields(pending, now())) !== lastSeen) emit(pending);
      pending = null;
    },
  };
}

function plainReporter(stream: ProgressStream, o: ProgressReporterOptions): ProgressReporter {
  const now = o.now ?? Date.now;
  const interval = o.plainIntervalMs ?? 10_000;
  let lastAt = -Infinity;
  let lastState = '';
  return {
    update(live) {
      const t = now();
      if (live.progress.state === lastState && t - lastAt < interval) return;
      lastAt = t;
      lastState = live.progress.state;
      stream.write(`${formatProgressLine(live, t)}\n`);
    },
    log: (line) => void stream.write(`${line}\n`),
    stop() {},
  };
}

function barReporter(stream: NodeJS.WritableStream): ProgressReporter {
  // MultiBar (with one bar) because only it can print log lines above the bar.
  const multi = new cliProgress.MultiBar(
    {
      stream,
      format: '{table} [{bar}] {percentage}% | {value}/{total} rows | {rate} rows/s | ETA {etaText} | backlog {backlog} | {stateText}',
      hideCursor: true,
      // stop() clears the bar, which the terminal cuts to its width, and leaves the whole line.
      clearOnComplete: true,
      stopOnComplete: false,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  let bar: cliProgress.SingleBar | null = null;
  let last: LiveMigration | null = null;
  return {
    update(live) {
      last = live;
      const f = progressFields(live);
      const payload = { table: f.table, rate: f.rowsPerSecond, etaText: formatDuration(f.etaMs), backlog: f.backlog, stateText: stateText(f) };
      const total = Math.max(f.rowsEstimated, f.rowsCopied, 1);
      if (!bar) bar = multi.create(total, f.rowsCopied, payload);
      else {
        bar.setTotal(total);
        bar.update(f.rowsCopied, payload);
      }
    },
    log(line) {
      multi.log(`${line}\n`);
    },
    stop() {
      multi.stop();
      if (last) stream.write(`${formatProgressLine(last)}\n`);
      last = null;
    },
  };
}
