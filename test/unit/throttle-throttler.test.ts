import { mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LoadMeasurement } from '../../src/engine/engine.js';
import type { LiveMigration } from '../../src/core/live.js';
import { DEFAULT_THROTTLE, type ThrottleOptions } from '../../src/core/options.js';
import { NoopThrottler, Throttler, type ThrottlerDeps } from '../../src/core/throttle.js';
import type { ThrottleDecision } from '../../src/core/throttle-decide.js';
import { silentLogger } from '../../src/log.js';

function makeLive(): LiveMigration {
  return {
    settings: { chunkSize: 1000, maxLagMs: 1500, maxLoad: {}, criticalLoad: {}, maxSharePercent: 100, forcedThrottle: false, postponeCutOver: false, cutOverNow: false, panic: false },
    progress: {
      state: 'copying', table: 't', engine: 'mysql', startedAt: Date.now(), copyStartedAt: Date.now(), rowsCopied: 0, rowsEstimated: 100,
      eventsApplied: 0, backlog: 0, throttleReason: null, replicaLagMs: {},
    },
  };
}

/** A measure() whose answer the test sets; records the names asked for. */
function fakeMeasure(initial: LoadMeasurement = { load: {}, replicas: [] }) {
  const state = { current: initial, calls: 0, names: [] as string[][], fail: null as Error | null, hang: false };
  const measure = async (names: string[]): Promise<LoadMeasurement> => {
    state.calls++;
    state.names.push(names);
    if (state.hang) return new Promise(() => undefined);
    if (state.fail) throw state.fail;
    return structuredClone(state.current);
  };
  return { state, measure };
}

const opts = (over: Partial<ThrottleOptions> = {}): ThrottleOptions => ({ ...DEFAULT_THROTTLE, ...over });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(fn: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

const started: Throttler[] = [];
function throttler(deps: Partial<ThrottlerDeps> & Pick<ThrottlerDeps, 'measure'>, live = makeLive()) {
  const t = new Throttler({ options: opts(), live, throttleQuery: null, log: silentLogger, intervalMs: 10, ...deps });
  started.push(t);
  return { t, live };
}
afterEach(() => {
  for (const t of started.splice(0)) t.stop();
});

describe('Throttler', () => {
  it('is throttled until the first measurement, then clear', async () => {
    const f = fakeMeasure();
    const { t } = throttler({ measure: f.measure });
    expect(t.current()).toMatchObject({ throttled: true, reason: 'load unknown: not measured yet' });
    t.start();
    await t.waitUntilClear();
    expect(t.current().throttled).toBe(false);
  });

  it('asks measure() for the union of max-load and critical-load names', async () => {
    const f = fakeMeasure({ load: { a: 0, b: 0, c: 0 }, replicas: [] });
    const live = makeLive();
    live.settings.maxLoad = { a: 5, b: 5 };
    live.settings.criticalLoad = { b: 10, c: 10 };
    const { t } = throttler({ measure: f.measure }, live);
    await t.tick();
    expect(f.state.names[0]?.sort()).toEqual(['a', 'b', 'c']);
  });

  it('records lag and reason, and tells onDecision every decision; the state is not its to change', async () => {
    const f = fakeMeasure({ load: {}, replicas: [{ name: 'r1', lagMs: 10 }] });
    const { t, live } = throttler({ measure: f.measure });
    const seen: ThrottleDecision[] = [];
    const every: ThrottleDecision[] = [];
    t.onChange((d) => seen.push(d));
    t.onDecision((d) => every.push(d));
    t.start();
    await t.waitUntilClear();
    expect(live.progress.replicaLagMs).toEqual({ r1: 10 });
    f.state.current = { load: {}, replicas: [{ name: 'r1', lagMs: 1800 }] };
    await until(() => live.progress.throttleReason !== null);
    expect(live.progress.throttleReason).toBe('lag: replica r1 1800ms > 1500ms');
    expect(live.progress.replicaLagMs).toEqual({ r1: 1800 });
    expect(live.progress.state).toBe('copying');
    f.state.current = { load: {}, replicas: [{ name: 'r1', lagMs: 100 }] };
    await t.waitUntilClear();
    expect(live.progress.throttleReason).toBeNull();
    expect(seen.map((d) => d.throttled)).toEqual([false, true, false]);
    expect(every.length).toBeGreaterThanOrEqual(seen.length);
  });

  it('does not touch the state in any phase', async () => {
    const f = fakeMeasure({ load: {}, replicas: [{ name: 'r1', lagMs: 5000 }] });
    const live = makeLive();
    live.progress.state = 'catching-up';
    const { t } = throttler({ measure: f.measure }, live);
    await t.tick();
    expect(live.progress.state).toBe('catching-up');
    expect(live.progress.throttleReason).toBe('lag: replica r1 5000ms > 1500ms');
  });

  it('waitUntilClear blocks while throttled and resolves once released', async () => {
    const f = fakeMeasure();
    const live = makeLive();
    live.settings.forcedThrottle = true;
    const { t } = throttler({ measure: f.measure }, live);
    t.start();
    let cleared = false;
    const p = t.waitUntilClear().then(() => (cleared = true));
    await sleep(60);
    expect(cleared).toBe(false);
    expect(t.current().reason).toBe('commanded');
    live.settings.forcedThrottle = false;
    await p;
    expect(cleared).toBe(true);
  });

  it('rejects waiters with E_PANIC (exit 1) on the panic command', async () => {
    const f = fakeMeasure();
    const live = makeLive();
    live.settings.forcedThrottle = true;
    const { t } = throttler({ measure: f.measure }, live);
    t.start();
    const p = t.waitUntilClear();
    await sleep(30);
    live.settings.panic = true;
    await expect(p).rejects.toMatchObject({ code: 'E_PANIC', exitCode: 1 });
    await expect(t.waitUntilClear()).rejects.toMatchObject({ code: 'E_PANIC' });
  });

  it('rejects with E_CRITICAL_LOAD when critical load persists past the interval', async () => {
    const f = fakeMeasure({ load: { Threads_running: 10 }, replicas: [] });
    const live = makeLive();
    live.settings.criticalLoad = { Threads_running: 100 };
    const { t } = throttler({ measure: f.measure, options: opts({ criticalLoadIntervalMs: 80 }) }, live);
    t.start();
    await t.waitUntilClear();
    f.state.current = { load: { Threads_running: 200 }, replicas: [] };
    const t0 = Date.now();
    const err = await (async () => {
      for (;;) {
        try {
          await t.waitUntilClear();
          await sleep(5);
        } catch (e) {
          return e;
        }
      }
    })();
    expect(err).toMatchObject({ code: 'E_CRITICAL_LOAD', exitCode: 1 });
    expect((err as Error).message).toContain('Threads_running=200 >= 100');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(70);
  });

  it('throttles while measure() fails or hangs, and recovers', async () => {
    const f = fakeMeasure();
    const { t } = throttler({ measure: f.measure, measureTimeoutMs: 50 });
    t.start();
    await t.waitUntilClear();
    f.state.fail = new Error('connection lost');
    await until(() => t.current().throttled);
    expect(t.current().reason).toBe('load unknown: measuring failed: connection lost');
    f.state.fail = null;
    await t.waitUntilClear();
    f.state.hang = true;
    await until(() => t.current().throttled);
    expect(t.current().reason).toBe('load unknown: measuring failed: measure took longer than 50ms');
    f.state.hang = false;
    await t.waitUntilClear();
  });

  it('warns once per distinct measuring error, not on every poll', async () => {
    const f = fakeMeasure();
    const logged: string[] = [];
    const log = { warn: (_o: unknown, m: string) => logged.push(`warn ${m}`), info: (o: unknown, m?: string) => logged.push(`info ${m ?? String(o)}`), error: () => undefined };
    const { t } = throttler({ measure: f.measure, log: log as unknown as ThrottlerDeps['log'] });
    t.start();
    await t.waitUntilClear();
    f.state.fail = new Error('down');
    const calls = f.state.calls;
    await until(() => f.state.calls >= calls + 5);
    f.state.fail = null;
    await t.waitUntilClear();
    expect(logged.filter((l) => l.startsWith('warn'))).toEqual(['warn throttler: measuring load failed; throttling until it works again']);
    expect(logged).toContain('info throttler: measuring load works again');
  });

  it('obeys throttle and panic flag files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-flags-'));
    try {
      const throttleFile = join(dir, 'throttle');
      const panicFile = join(dir, 'panic');
      const f = fakeMeasure();
      const { t } = throttler({ measure: f.measure, options: opts({ throttleFlagFile: throttleFile, panicFlagFile: panicFile }) });
      t.start();
      await t.waitUntilClear();
      writeFileSync(throttleFile, '');
      await until(() => t.current().throttled);
      expect(t.current().reason).toBe(`flag-file ${throttleFile}`);
      unlinkSync(throttleFile);
      await t.waitUntilClear();
      writeFileSync(panicFile, '');
      await until(() => t.current().abort !== null);
      await expect(t.waitUntilClear()).rejects.toMatchObject({ code: 'E_PANIC' });
      expect(t.live.settings.panic).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs the throttle query and throttles on a positive value', async () => {
    const f = fakeMeasure();
    let value = 0;
    const { t } = throttler({ measure: f.measure, options: opts({ throttleQuery: 'select 1' }), throttleQuery: async () => value });
    t.start();
    await t.waitUntilClear();
    value = 3;
    await until(() => t.current().throttled);
    expect(t.current().reason).toBe('throttle-query returned 3');
  });

  it('an aborted signal rejects a waiter', async () => {
    const f = fakeMeasure();
    const live = makeLive();
    live.settings.forcedThrottle = true;
    const { t } = throttler({ measure: f.measure }, live);
    t.start();
    const ac = new AbortController();
    const p = t.waitUntilClear(ac.signal);
    ac.abort(new Error('interrupted'));
    await expect(p).rejects.toThrow('interrupted');
  });

  it('a waiter does not hang when the throttler is stopped', async () => {
    const f = fakeMeasure();
    const live = makeLive();
    live.settings.forcedThrottle = true;
    const { t } = throttler({ measure: f.measure }, live);
    t.start();
    const p = t.waitUntilClear();
    await sleep(20);
    t.stop();
    live.settings.forcedThrottle = false;
    await p;
  });

  it('works without start(): waitUntilClear measures on its own', async () => {
    const f = fakeMeasure();
    const { t } = throttler({ measure: f.measure });
    await t.waitUntilClear();
    expect(f.state.calls).toBe(1);
  });
});

describe('NoopThrottler', () => {
  it('never throttles', async () => {
    const t = new NoopThrottler();
    t.start();
    expect(t.current()).toEqual({ throttled: false, reason: null, abort: null, criticalSince: null });
    await t.waitUntilClear();
    const off = t.onChange(() => undefined);
    off();
    t.stop();
  });
});
