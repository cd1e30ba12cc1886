/**
 * Load thresholds as gh-ost spells them: `--max-load Threads_running=25,Threads_connected=500`.
 *
 * The names are whatever the engine's `measure(names)` reports:
 *
 * - MySQL/MariaDB: any `SHOW GLOBAL STATUS` variable with a numeric value
 *   (`Threads_running`, `Threads_connected`, `Innodb_row_lock_current_waits`, ...).
 *   Counters that only grow (`Questions`, `Com_insert`) make poor thresholds:
 *   they never come back down, so copying would stay paused for good.
 * - PostgreSQL, counted from `pg_stat_activity` (client backends only, our own
 *   sessions excluded):
 *   - `active_sessions`      state = 'active'
 *   - `waiting_sessions`     wait_event_type = 'Lock' (blocked on a heavyweight lock)
 *   - `idle_in_transaction`  state like 'idle in transaction%' (holds snapshots and locks)
 *   - `total_sessions`       every client backend
 *   - `longest_transaction_seconds`  age of the oldest open transaction (extra)
 *
 * A threshold is reached when the measured value is >= the limit (gh-ost's rule).
 * Names match case-insensitively. A --max-load name the server doesn't report
 * throttles (safe side); a --critical-load name it doesn't report is ignored.
 */
import { RefusedError } from '../errors.js';

export type LoadSpec = Record<string, number>;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const VALUE = /^\d+(\.\d+)?$/;

const HINT = 'write name=value pairs separated by commas, e.g. Threads_running=25,Threads_connected=500';

/** Parses `a=1,b=2`; an empty or blank text is the empty spec (no thresholds). */
export function parseLoadSpec(text: string): LoadSpec {
  const spec: LoadSpec = {};
  const trimmed = text.trim();
  if (trimmed === '') return spec;
  for (const part of trimmed.split(',')) {
    const item = part.trim();
    const eq = item.indexOf('=');
    if (eq <= 0) throw bad(text, `"${item}" is not name=value`);
    const name = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (!NAME.test(name)) throw bad(text, `"${name}" is not a valid status name`);
    if (!VALUE.test(value)) throw bad(text, `"${value}" is not a non-negative number (for ${name})`);
    if (Object.hasOwn(spec, name)) throw bad(text, `${name} is given twice`);
    spec[name] = Number(value);
  }
  return spec;
}

/** The inverse of parseLoadSpec, for status output and logs. */
export function formatLoadSpec(spec: LoadSpec): string {
  return Object.entries(spec)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/**
 * Refuses names the server does not report (a typo would otherwise throttle
 * forever, or never abort). Call once before the copy with a first
 * measurement: `assertLoadNamesKnown({ ...maxLoad, ...criticalLoad }, (await measure(names)).load)`.
 */
export function assertLoadNamesKnown(spec: LoadSpec, reported: Record<string, number>, flag = '--max-load/--critical-load'): void {
  const known = new Set(Object.keys(reported).map((k) => k.toLowerCase()));
  const unknown = Object.keys(spec).filter((name) => !known.has(name.toLowerCase()));
  if (unknown.length === 0) return;
  throw new RefusedError('E_BAD_LOAD_SPEC', `${flag}: the server reports no ${unknown.join(', ')}`, {
    hint: 'MySQL/MariaDB: use a SHOW GLOBAL STATUS variable such as Threads_running; PostgreSQL: active_sessions, waiting_sessions, idle_in_transaction, total_sessions',
  });
}

function bad(text: string, why: string): RefusedError {
  return new RefusedError('E_BAD_LOAD_SPEC', `bad load spec "${text}": ${why}`, { hint: HINT });
}
