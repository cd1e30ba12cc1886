/**
 * The throttler observes and decides; the copier obeys (gh-ost's split).
 * This file decides: `decide()` is a pure function of one measurement and
 * the live settings (core/throttle.ts measures on a timer and feeds it).
 *
 * Rules, in the order the reason is reported:
 *   abort    panic flag file exists, or the `panic` command was given (E_PANIC);
 *            a critical-load threshold reached (E_CRITICAL_LOAD): at once when
 *            criticalLoadIntervalMs = 0, otherwise only when every sample for
 *            that long stayed at or above it (one sample below resets the clock);
 *            while that clock runs, copying is throttled. This differs from
 *            gh-ost's --critical-load-interval-millis (two samples N ms apart)
 *            by being stricter about a single dip.
 *   hibernate with criticalLoadHibernateMs > 0 (gh-ost's
 *            --critical-load-hibernate-seconds) the critical load hibernates
 *            instead of aborting: for that long copying stops and the
 *            throttler reads nothing from any server (no load, lag, query or
 *            HTTP check), then it measures again; it never aborts on load.
 *            Unlike gh-ost, the change stream keeps applying meanwhile: its
 *            writes are the application's own changes, and pausing them would
 *            only grow the binlog/WAL backlog that the cut-over must drain.
 *   throttle `throttle` command; throttle flag file; replica lag above
 *            max-lag-millis (a replica whose lag can't be read counts as
 *            lagging: the safe side); a max-load threshold reached (a name the
 *            engine didn't report counts as reached); throttle query > 0 (or no
 *            result yet); the throttle HTTP check not answering 200 (or not
 *            yet, or timing out); PostgreSQL retained WAL above the limit; no load
 *            measurement at all (not yet measured, or measuring failed).
 *            Before all of these: the server not answering a probe at all.
 */
import type { LoadMeasurement } from '../engine/engine.js';
import { GhostwrightError } from '../errors.js';
import type { LiveSettings } from './live.js';
import type { ThrottleOptions } from './options.js';
import { describeSilence } from './server-probe.js';

export interface ThrottleInput {
  measurement: LoadMeasurement | null;
  settings: LiveSettings;
  options: ThrottleOptions;
  flags: { throttleFile: boolean; panicFile: boolean };
  /** Result of the throttle query; null when not configured or not (yet) read. */
  throttleQueryValue: number | null;
  /** When the critical load was first seen continuously above its limit, or null. */
  criticalSince: number | null;
  now: number;
  /** Why measurement is null, for the reason text. */
  measurementError?: string | null;
  /** How long the server has not answered a probe (see server-probe.ts); null while it answers. */
  serverSilentMs?: number | null;
  /** Last HTTP status of the --throttle-http check; null when it did not answer (yet). */
  throttleHttpStatus?: number | null;
  /** Hibernating (after critical load, criticalLoadHibernateMs > 0) until this time. */
  hibernateUntil?: number | null;
}

export interface ThrottleDecision {
  throttled: boolean;
  reason: string | null;
  abort: { code: 'E_PANIC' | 'E_CRITICAL_LOAD' | string; reason: string } | null;
  /** Feed back into the next decide() call. */
  criticalSince: number | null;
  /** Feed back too: hibernating until then (no measuring, no copying). */
  hibernateUntil?: number | null;
}

export function decide(input: ThrottleInput): ThrottleDecision {
  const { measurement: m, settings, options, flags, now } = input;

  if (flags.panicFile) return aborted('E_PANIC', `panic flag file ${options.panicFlagFile ?? ''}`.trim(), null);
  if (settings.panic) return aborted('E_PANIC', 'panic command', null);
  if (input.hibernateUntil && now < input.hibernateUntil) {
    return { throttled: true, reason: `hibernating after critical-load for ${Math.ceil((input.hibernateUntil - now) / 1000)} s more`, abort: null, criticalSince: null, hibernateUntil: input.hibernateUntil };
  }

  const critical = m ? firstReached(m.load, settings.criticalLoad, false) : null;
  const criticalSince = critical ? (input.criticalSince ?? now) : null;
  if (critical) {
    const heldMs = now - (criticalSince ?? now);
    if (heldMs >= options.criticalLoadIntervalMs) {
      const hibernateMs = options.criticalLoadHibernateMs ?? 0;
      if (hibernateMs > 0) return { throttled: true, reason: `critical-load: ${critical}: hibernating ${Math.round(hibernateMs / 1000)} s`, abort: null, criticalSince: null, hibernateUntil: now + hibernateMs };
      return aborted('E_CRITICAL_LOAD', `critical-load: ${critical}`, criticalSince);
    }
  }

  const reason = throttleReason(input);
  if (critical) {
    const left = options.criticalLoadIntervalMs - (now - (criticalSince ?? now));
    const text = `critical-load: ${critical} (${(options.criticalLoadHibernateMs ?? 0) > 0 ? 'hibernating' : 'aborting'} in ${left}ms unless it drops)`;
    return { throttled: true, reason: reason ? `${text}; ${reason}` : text, abort: null, criticalSince };
  }
  return { throttled: reason !== null, reason, abort: null, criticalSince };
}

function throttleReason(input: ThrottleInput): string | null {
  const { measurement: m, settings, options, flags } = input;
  // First: every other reading (lag, load) is stale while the server is frozen.
  if (input.serverSilentMs) return describeSilence(input.serverSilentMs);
  if (settings.forcedThrottle) return 'commanded';
  if (flags.throttleFile) return `flag-file ${options.throttleFlagFile ?? ''}`.trim();
  if (!m) return `load unknown: ${input.measurementError ?? 'not measured yet'}`;
  for (const r of m.replicas) {
    if (r.lagMs === null) return `lag: replica ${r.name} unknown`;
    if (r.lagMs > settings.maxLagMs) return `lag: replica ${r.name} ${Math.round(r.lagMs)}ms > ${settings.maxLagMs}ms`;
  }
  const load = firstReached(m.load, settings.maxLoad, true);
  if (load) return `max-load: ${load}`;
  if (options.throttleQuery !== null) {
    if (input.throttleQueryValue === null) return 'throttle-query: no result yet';
    if (input.throttleQueryValue > 0) return `throttle-query returned ${input.throttleQueryValue}`;
  }
  if (options.throttleHttp) {
    const status = input.throttleHttpStatus ?? null;
    if (status === null) return `throttle-http: ${options.throttleHttp} did not answer`;
    if (status !== 200) return `throttle-http: ${options.throttleHttp} answered ${status}`;
  }
  if (m.retainedWalBytes !== undefined && m.retainedWalBytes > options.maxRetainedWalBytes) {
    return `retained-wal ${formatBytes(m.retainedWalBytes)} > ${formatBytes(options.maxRetainedWalBytes)}`;
  }
  return null;
}

/** `Threads_running=31 >= 25` for the first threshold reached, or null. */
function firstReached(load: Record<string, number>, limits: Record<string, number>, missingCounts: boolean): string | null {
  for (const [name, limit] of Object.entries(limits)) {
    const value = lookup(load, name);
    if (value === undefined || !Number.isFinite(value)) {
      if (missingCounts) return `${name} not reported by the server`;
      continue;
    }
    if (value >= limit) return `${name}=${value} >= ${limit}`;
  }
  return null;
}

/** MySQL status names are case-insensitive (`threads_running` = `Threads_running`). */
function lookup(load: Record<string, number>, name: string): number | undefined {
  if (Object.hasOwn(load, name)) return load[name];
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(load)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

function aborted(code: string, reason: string, criticalSince: number | null): ThrottleDecision {
  return { throttled: true, reason, abort: { code, reason }, criticalSince };
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)}${units[i]}`;
}

export function abortError(abort: { code: string; reason: string }): GhostwrightError {
  const hint =
    abort.code === 'E_CRITICAL_LOAD'
      ? 'the server passed a --critical-load threshold; the original table is untouched. Rerun when load is lower, or raise the threshold'
      : 'the migration was stopped on request (panic); the original table is untouched';
  return new GhostwrightError(abort.code, `migration aborted: ${abort.reason}`, { hint, exitCode: 1 });
}
