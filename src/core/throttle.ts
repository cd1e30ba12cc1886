/**
 * The polling throttler: measures the engine (measure()), the throttle query
 * and the HTTP check on a timer, feeds decide() (core/throttle-decide.ts),
 * records the reason in the live progress, and lets the copier wait between
 * chunks with `waitUntilClear()`. The run's state (copying <-> throttled) is
 * the supervisor's: it follows the decisions through onDecision(). The
 * stream keeps applying while copying is throttled.
 */
import type { LoadMeasurement } from '../engine/engine.js';
import { flagExists } from './flags.js';
import type { Logger } from '../log.js';
import type { LiveMigration } from './live.js';
import type { ThrottleOptions } from './options.js';
import { abortError, decide, type ThrottleDecision } from './throttle-decide.js';

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
  private readonly followers: ThrottleListener[] = [];
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

  /** Every decision, changed or not (the supervisor's state follows it). */
  onDecision(listener: ThrottleListener): void {
    this.followers.push(listener);
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
    for (const l of this.followers) l(next);
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
