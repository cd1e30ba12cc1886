/**
 * The throttler observes and decides; the copier obeys (gh-ost's split).
 *
 * `decide()` is a pure function of one measurement and the live settings.
 * `Throttler` polls the engine's measure() on a timer, feeds decide(), keeps
 * the live progress in step, and lets the copier wait between chunks with
 * `waitUntilClear()`. The stream keeps applying while copying is throttled.
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
import { flagExists } from './flags.js';
import type { Logger } from '../log.js';
import type { LiveMigration, LiveSettings } from './live.js';
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

// ---------------------------------------------------------------- the polling throttler

export type ThrottleListener = (decision: ThrottleDecision) => void;

/** What the copier sees: the Throttler and its null object share this surface. */
export interface ThrottleControl {
  start(): void;
  stop(): void;
  current(): ThrottleDecision;
  waitUntilClear(signal?: AbortSignal): Promise<void>;
  onChange(listener: ThrottleListener): () => void;
}

export interface ThrottlerDeps {
  options: ThrottleOptions;
  live: LiveMigration;
  measure: (names: string[]) => Promise<LoadMeasurement>;
  throttleQuery: (() => Promise<number>) | null;
  log: Logger;
  /** Poll period, default 100 ms. */
  intervalMs?: number;
  /** A measure() taking longer counts as failed (throttles). Default max(2 s, 20 intervals). */
  measureTimeoutMs?: number;
  /** Injected clock for tests. */
  now?: () => number;
  /** How long the server has been silent (ServerProbe.silentMs), or null. */
  serverSilentMs?: () => number | null;
}

const STARTING: ThrottleDecision = { throttled: true, reason: 'load unknown: not measured yet', abort: null, criticalSince: null };

export class Throttler implements ThrottleControl {
  private readonly intervalMs: number;
  private readonly measureTimeoutMs: number;
  /** The HTTP check's own short timeout: gh-ost's --throttle-http-timeout-millis default. */
  private readonly httpTimeoutMs = 1000;
  private readonly now: () => number;
  private decision: ThrottleDecision = STARTING;
  private measured = false;
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private readonly listeners = new Set<ThrottleListener>();
  /** waitUntilClear() callers, woken on every change and on stop(). */
  private readonly waiters = new Set<() => void>();
  private readonly lastErrors: Record<'measure' | 'query', string | null> = { measure: null, query: null };

  /** The live migration this throttler keeps in step (same object as deps.live). */
  get live(): LiveMigration {
    return this.deps.live;
  }

  constructor(private readonly deps: ThrottlerDeps) {
    this.intervalMs = deps.intervalMs ?? 100;
    this.measureTimeoutMs = deps.measureTimeoutMs ?? Math.max(2000, 20 * this.intervalMs);
    this.now = deps.now ?? Date.now;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.wakeWaiters();
  }

  current(): ThrottleDecision {
    return this.decision;
  }

  onChange(listener: ThrottleListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Resolves as soon as copying may go on; rejects with E_PANIC /
   * E_CRITICAL_LOAD (exit 1) when the throttler decided to abort, or with the
   * signal's reason when the caller gives up.
   */
  async waitUntilClear(signal?: AbortSignal): Promise<void> {
    if (!this.measured && !this.running) await this.tick();
    for (;;) {
      signal?.throwIfAborted();
      const d = this.decision;
      if (d.abort) throw abortError(d.abort);
      if (!d.throttled) return;
      if (this.running) await this.nextChange(signal);
      else {
        // Stopped (or never started): poll on the caller's behalf instead of hanging.
        await sleep(this.intervalMs, signal);
        await this.tick();
      }
    }
  }

  /** One measurement and decision; public so callers (and tests) can force one. */
  tick(): Promise<void> {
    this.ticking ??= this.measureAndDecide().finally(() => {
      this.ticking = null;
    });
    return this.ticking;
  }

  private async loop(): Promise<void> {
    if (!this.running) return;
    await this.tick();
    if (!this.running) return;
    this.timer = setTimeout(() => void this.loop(), this.intervalMs);
    this.timer.unref();
  }

  private async measureAndDecide(): Promise<void> {
    const { options, live } = this.deps;
    // Hibernating: read nothing from any server until it ends (gh-ost's rule).
    const until = this.decision.hibernateUntil;
    if (until && this.now() < until) {
      this.apply(decide({ measurement: null, settings: live.settings, options, flags: { throttleFile: false, panicFile: flagExists(options.panicFlagFile) }, throttleQueryValue: null, criticalSince: null, now: this.now(), hibernateUntil: until }));
      return;
    }
    const names = [...new Set([...Object.keys(live.settings.maxLoad), ...Object.keys(live.settings.criticalLoad)])];
    let measurement: LoadMeasurement | null = null;
    let measurementError: string | null = null;
    try {
      measurement = await withTimeout(this.deps.measure(names), this.measureTimeoutMs, 'measure');
    } catch (err) {
      measurementError = `measuring failed: ${(err as Error).message}`;
      this.warnOnChange('measure', err, 'throttler: measuring load failed; throttling until it works again');
    }
    if (measurement) this.warnOnChange('measure', null, '');
    let throttleQueryValue: number | null = null;
    if (this.deps.throttleQuery && options.throttleQuery !== null) {
      try {
        throttleQueryValue = await withTimeout(this.deps.throttleQuery(), this.measureTimeoutMs, 'throttle query');
        this.warnOnChange('query', null, '');
      } catch (err) {
        this.warnOnChange('query', err, 'throttler: throttle query failed; throttling until it works again');
      }
    }
    const throttleHttpStatus = options.throttleHttp ? await httpStatus(options.throttleHttp, this.httpTimeoutMs) : null;
    const next = decide({
      throttleHttpStatus,
      measurement,
      settings: live.settings,
      options,
      flags: { throttleFile: flagExists(options.throttleFlagFile), panicFile: flagExists(options.panicFlagFile) },
      throttleQueryValue,
      criticalSince: this.decision.criticalSince,
      now: this.now(),
      measurementError,
      serverSilentMs: this.deps.serverSilentMs?.() ?? null,
    });
    this.measured = true;
    if (measurement) {
      for (const r of measurement.replicas) live.progress.replicaLagMs[r.name] = r.lagMs;
    }
    this.apply(next);
  }

  /** Polling every 100 ms must not flood the log: warn when the error text changes, note the recovery. */
  private warnOnChange(what: 'measure' | 'query', err: unknown, message: string): void {
    const text = err ? String((err as Error).message ?? err) : null;
    if (this.lastErrors[what] === text) return;
    if (text) this.deps.log.warn({ err }, message);
    else if (this.lastErrors[what]) this.deps.log.info(`throttler: ${what === 'measure' ? 'measuring load' : 'throttle query'} works again`);
    this.lastErrors[what] = text;
  }

  private apply(next: ThrottleDecision): void {
    const prev = this.decision;
    this.decision = next;
    // A panic flag file is the panic command in file form: record it in the
    // live settings so every phase that checks settings.panic (postponed,
    // cutting over) stops too, not only a copier waiting here.
    if (next.abort?.code === 'E_PANIC') this.deps.live.settings.panic = true;
    const p = this.deps.live.progress;
    p.throttleReason = next.throttled ? next.reason : null;
    // Only the copy phase flips between these two; other phases own their state.
    if (next.throttled && p.state === 'copying') p.state = 'throttled';
    if (!next.throttled && p.state === 'throttled') p.state = 'copying';
    const changed = prev.throttled !== next.throttled || prev.reason !== next.reason || (prev.abort === null) !== (next.abort === null);
    if (!changed) return;
    this.wakeWaiters();
    if (next.abort) this.deps.log.error({ code: next.abort.code, reason: next.abort.reason }, 'throttler: aborting');
    else if (next.throttled && !prev.throttled) this.deps.log.info({ reason: next.reason }, 'throttled');
    else if (!next.throttled) this.deps.log.info({ was: prev.reason }, 'throttle released');
    for (const l of this.listeners) {
      try {
        l(next);
      } catch (err) {
        this.deps.log.warn({ err }, 'throttle listener failed');
      }
    }
  }

  private nextChange(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        this.waiters.delete(wake);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        this.waiters.delete(wake);
        reject(signal?.reason ?? new Error('aborted'));
      };
      this.waiters.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private wakeWaiters(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** The status of a HEAD request, or null when nothing answered within timeoutMs. */
export async function httpStatus(url: string, timeoutMs: number): Promise<number | null> {
  try {
    const res = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    return res.status;
  } catch {
    return null;
  }
}

/** The null object: never throttles, never aborts. */
export class NoopThrottler implements ThrottleControl {
  private static readonly CLEAR: ThrottleDecision = Object.freeze({ throttled: false, reason: null, abort: null, criticalSince: null });
  start(): void {}
  stop(): void {}
  current(): ThrottleDecision {
    return NoopThrottler.CLEAR;
  }
  async waitUntilClear(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
  }
  onChange(_listener: ThrottleListener): () => void {
    return () => undefined;
  }
}

export function abortError(abort: { code: string; reason: string }): GhostwrightError {
  const hint =
    abort.code === 'E_CRITICAL_LOAD'
      ? 'the server passed a --critical-load threshold; the original table is untouched. Rerun when load is lower, or raise the threshold'
      : 'the migration was stopped on request (panic); the original table is untouched';
  return new GhostwrightError(abort.code, `migration aborted: ${abort.reason}`, { hint, exitCode: 1 });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms}ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
