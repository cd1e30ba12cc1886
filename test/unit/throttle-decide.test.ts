import { describe, expect, it } from 'vitest';
import type { LoadMeasurement } from '../../src/engine/engine.js';
import type { LiveSettings } from '../../src/core/live.js';
import { DEFAULT_THROTTLE, type ThrottleOptions } from '../../src/core/options.js';
import { decide, formatBytes, type ThrottleInput } from '../../src/core/throttle-decide.js';
import { assertLoadNamesKnown, formatLoadSpec, parseLoadSpec } from '../../src/core/load-spec.js';

const settings = (over: Partial<LiveSettings> = {}): LiveSettings => ({
  chunkSize: 1000,
  maxLagMs: 1500,
  maxLoad: {},
  criticalLoad: {},
  maxSharePercent: 100,
  forcedThrottle: false,
  postponeCutOver: false,
  cutOverNow: false,
  panic: false,
  ...over,
});
const options = (over: Partial<ThrottleOptions> = {}): ThrottleOptions => ({ ...DEFAULT_THROTTLE, ...over });
const m = (over: Partial<LoadMeasurement> = {}): LoadMeasurement => ({ load: {}, replicas: [], ...over });
const input = (over: Partial<ThrottleInput> = {}): ThrottleInput => ({
  measurement: m(),
  settings: settings(),
  options: options(),
  flags: { throttleFile: false, panicFile: false },
  throttleQueryValue: null,
  criticalSince: null,
  now: 10_000,
  ...over,
});

describe('parseLoadSpec', () => {
  it('parses name=value pairs', () => {
    expect(parseLoadSpec('Threads_running=25,Threads_connected=500')).toEqual({ Threads_running: 25, Threads_connected: 500 });
    expect(parseLoadSpec(' active_sessions = 10 , waiting_sessions=2.5 ')).toEqual({ active_sessions: 10, waiting_sessions: 2.5 });
  });
  it('treats blank text as no thresholds', () => {
    expect(parseLoadSpec('')).toEqual({});
    expect(parseLoadSpec('   ')).toEqual({});
  });
  it.each([
    ['Threads_running'],
    ['=5'],
    ['Threads_running=abc'],
    ['Threads_running=-1'],
    ['Threads_running=1e3'],
    ['Threads running=5'],
    ['a=1,,b=2'],
    ['a=1,a=2'],
    ['1abc=3'],
    ['a=1;b=2'],
  ])('refuses %j with E_BAD_LOAD_SPEC (exit 2)', (text) => {
    try {
      parseLoadSpec(text);
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ code: 'E_BAD_LOAD_SPEC', exitCode: 2 });
      expect((err as { hint: string }).hint).toContain('Threads_running=25');
    }
  });
  it('assertLoadNamesKnown refuses names the server does not report (case-insensitive)', () => {
    expect(() => assertLoadNamesKnown({ threads_running: 5 }, { Threads_running: 1 })).not.toThrow();
    expect(() => assertLoadNamesKnown({}, {})).not.toThrow();
    expect(() => assertLoadNamesKnown({ Threads_runing: 5, x: 1 }, { Threads_running: 1 })).toThrow(
      expect.objectContaining({ code: 'E_BAD_LOAD_SPEC', exitCode: 2, message: '--max-load/--critical-load: the server reports no Threads_runing, x' }),
    );
  });
  it('formats back', () => {
    expect(formatLoadSpec({ a: 1, b: 2.5 })).toBe('a=1,b=2.5');
    expect(formatLoadSpec(parseLoadSpec('x=3,y=4'))).toBe('x=3,y=4');
    expect(formatLoadSpec({})).toBe('');
  });
});

describe('decide', () => {
  it('is clear when nothing is configured or measured above limits', () => {
    expect(decide(input())).toEqual({ throttled: false, reason: null, abort: null, criticalSince: null });
  });

  describe('replica lag', () => {
    it('throttles above max-lag-millis, naming the replica', () => {
      const d = decide(input({ measurement: m({ replicas: [{ name: 'r0', lagMs: 20 }, { name: 'r1', lagMs: 1800 }] }) }));
      expect(d).toMatchObject({ throttled: true, reason: 'lag: replica r1 1800ms > 1500ms', abort: null });
    });
    it('does not throttle at exactly the limit', () => {
      expect(decide(input({ measurement: m({ replicas: [{ name: 'r1', lagMs: 1500 }] }) })).throttled).toBe(false);
    });
    it('uses the live setting, not the start option', () => {
      const d = decide(input({ settings: settings({ maxLagMs: 100 }), measurement: m({ replicas: [{ name: 'r1', lagMs: 150.4 }] }) }));
      expect(d.reason).toBe('lag: replica r1 150ms > 100ms');
    });
    it('counts unknown lag as lagging (safe side)', () => {
      const d = decide(input({ measurement: m({ replicas: [{ name: 'r1', lagMs: null }] }) }));
      expect(d).toMatchObject({ throttled: true, reason: 'lag: replica r1 unknown' });
    });
  });

  describe('max-load', () => {
    it('throttles at or above the threshold', () => {
      const s = settings({ maxLoad: { Threads_running: 25 } });
      expect(decide(input({ settings: s, measurement: m({ load: { Threads_running: 31 } }) })).reason).toBe('max-load: Threads_running=31 >= 25');
      expect(decide(input({ settings: s, measurement: m({ load: { Threads_running: 25 } }) })).reason).toBe('max-load: Threads_running=25 >= 25');
      expect(decide(input({ settings: s, measurement: m({ load: { Threads_running: 24 } }) })).throttled).toBe(false);
    });
    it('checks every threshold', () => {
      const s = settings({ maxLoad: { active_sessions: 50, waiting_sessions: 3 } });
      const d = decide(input({ settings: s, measurement: m({ load: { active_sessions: 10, waiting_sessions: 4 } }) }));
      expect(d.reason).toBe('max-load: waiting_sessions=4 >= 3');
    });
    it('matches names case-insensitively (MySQL status names)', () => {
      const d = decide(input({ settings: settings({ maxLoad: { threads_running: 5 } }), measurement: m({ load: { Threads_running: 7 } }) }));
      expect(d.reason).toBe('max-load: threads_running=7 >= 5');
    });
    it('throttles when the server did not report a name (safe side)', () => {
      const d = decide(input({ settings: settings({ maxLoad: { Nope: 1 } }), measurement: m({ load: {} }) }));
      expect(d).toMatchObject({ throttled: true, reason: 'max-load: Nope not reported by the server' });
    });
  });

  describe('flags and commands', () => {
    it('throttles on the throttle flag file', () => {
      const d = decide(input({ options: options({ throttleFlagFile: '/x' }), flags: { throttleFile: true, panicFile: false } }));
      expect(d).toMatchObject({ throttled: true, reason: 'flag-file /x', abort: null });
    });
    it('throttles on the throttle command, before other reasons', () => {
      const d = decide(input({ settings: settings({ forcedThrottle: true }), measurement: m({ replicas: [{ name: 'r1', lagMs: 9999 }] }) }));
      expect(d.reason).toBe('commanded');
    });
    it('aborts with E_PANIC on the panic flag file', () => {
      const d = decide(input({ options: options({ panicFlagFile: '/p' }), flags: { throttleFile: false, panicFile: true } }));
      expect(d).toEqual({ throttled: true, reason: 'panic flag file /p', abort: { code: 'E_PANIC', reason: 'panic flag file /p' }, criticalSince: null });
    });
    it('aborts with E_PANIC on the panic command even without a measurement', () => {
      const d = decide(input({ settings: settings({ panic: true }), measurement: null }));
      expect(d.abort).toEqual({ code: 'E_PANIC', reason: 'panic command' });
    });
  });

  describe('throttle query', () => {
    const q = options({ throttleQuery: 'select 1' });
    it('throttles on a positive value', () => {
      expect(decide(input({ options: q, throttleQueryValue: 3 })).reason).toBe('throttle-query returned 3');
    });
    it('is clear on 0', () => {
      expect(decide(input({ options: q, throttleQueryValue: 0 })).throttled).toBe(false);
    });
    it('throttles while the configured query has no result', () => {
      expect(decide(input({ options: q, throttleQueryValue: null })).reason).toBe('throttle-query: no result yet');
    });
    it('ignores a value when no query is configured', () => {
      expect(decide(input({ throttleQueryValue: 5 })).throttled).toBe(false);
    });
  });

  describe('retained WAL (PostgreSQL)', () => {
    it('throttles above the limit', () => {
      const d = decide(input({ options: options({ maxRetainedWalBytes: 1024 ** 3 }), measurement: m({ retainedWalBytes: 2.5 * 1024 ** 3 }) }));
      expect(d.reason).toBe('retained-wal 2.5GB > 1.0GB');
    });
    it('is clear at or below the limit and when not reported (MySQL)', () => {
      expect(decide(input({ options: options({ maxRetainedWalBytes: 100 }), measurement: m({ retainedWalBytes: 100 }) })).throttled).toBe(false);
      expect(decide(input({ options: options({ maxRetainedWalBytes: 100 }), measurement: m() })).throttled).toBe(false);
    });
  });

  describe('no measurement', () => {
    it('throttles with the error text', () => {
      expect(decide(input({ measurement: null, measurementError: 'measuring failed: boom' })).reason).toBe('load unknown: measuring failed: boom');
      expect(decide(input({ measurement: null })).reason).toBe('load unknown: not measured yet');
    });
  });

  describe('critical-load', () => {
    const s = settings({ criticalLoad: { Threads_running: 100 } });
    const high = m({ load: { Threads_running: 150 } });
    const low = m({ load: { Threads_running: 50 } });
    it('aborts at once when the interval is 0', () => {
      const d = decide(input({ settings: s, measurement: high }));
      expect(d.abort).toEqual({ code: 'E_CRITICAL_LOAD', reason: 'critical-load: Threads_running=150 >= 100' });
      expect(d.throttled).toBe(true);
    });
    it('with an interval: throttles first, aborts only when continuously above for that long', () => {
      const o = options({ criticalLoadIntervalMs: 1000 });
      const d1 = decide(input({ settings: s, options: o, measurement: high, now: 5000 }));
      expect(d1).toMatchObject({ throttled: true, abort: null, criticalSince: 5000 });
      expect(d1.reason).toBe('critical-load: Threads_running=150 >= 100 (aborting in 1000ms unless it drops)');
      const d2 = decide(input({ settings: s, options: o, measurement: high, now: 5999, criticalSince: d1.criticalSince }));
      expect(d2).toMatchObject({ abort: null, criticalSince: 5000 });
      const d3 = decide(input({ settings: s, options: o, measurement: high, now: 6000, criticalSince: d2.criticalSince }));
      expect(d3.abort?.code).toBe('E_CRITICAL_LOAD');
    });
    it('one sample below resets the clock', () => {
      const o = options({ criticalLoadIntervalMs: 1000 });
      const d1 = decide(input({ settings: s, options: o, measurement: high, now: 5000 }));
      const d2 = decide(input({ settings: s, options: o, measurement: low, now: 5500, criticalSince: d1.criticalSince }));
      expect(d2).toEqual({ throttled: false, reason: null, abort: null, criticalSince: null });
      const d3 = decide(input({ settings: s, options: o, measurement: high, now: 6100, criticalSince: d2.criticalSince }));
      expect(d3).toMatchObject({ abort: null, criticalSince: 6100 });
    });
    it('combines the critical reason with another throttle reason', () => {
      const o = options({ criticalLoadIntervalMs: 1000 });
      const d = decide(input({ settings: { ...s, forcedThrottle: true }, options: o, measurement: high }));
      expect(d.reason).toBe('critical-load: Threads_running=150 >= 100 (aborting in 1000ms unless it drops); commanded');
    });
    it('ignores a critical name the server did not report (no abort on unknown)', () => {
      const d = decide(input({ settings: settings({ criticalLoad: { Nope: 1 } }) }));
      expect(d).toEqual({ throttled: false, reason: null, abort: null, criticalSince: null });
    });
    it('panic wins over critical load', () => {
      const d = decide(input({ settings: { ...s, panic: true }, measurement: high }));
      expect(d.abort?.code).toBe('E_PANIC');
    });
  });

  it('reports reasons in a fixed order: commanded, flag file, lag, max-load, query, WAL', () => {
    const all = input({
      settings: settings({ maxLoad: { a: 1 } }),
      options: options({ throttleFlagFile: '/t', throttleQuery: 'q', maxRetainedWalBytes: 1 }),
      flags: { throttleFile: true, panicFile: false },
      measurement: m({ load: { a: 5 }, replicas: [{ name: 'r', lagMs: 5000 }], retainedWalBytes: 10 }),
      throttleQueryValue: 1,
    });
    expect(decide(all).reason).toBe('flag-file /t');
    expect(decide({ ...all, flags: { throttleFile: false, panicFile: false } }).reason).toBe('lag: replica r 5000ms > 1500ms');
    const noLag = { ...all, flags: { throttleFile: false, panicFile: false }, measurement: m({ load: { a: 5 }, retainedWalBytes: 10 }) };
    expect(decide(noLag).reason).toBe('max-load: a=5 >= 1');
    expect(decide({ ...noLag, settings: settings() }).reason).toBe('throttle-query returned 1');
    expect(decide({ ...noLag, settings: settings(), throttleQueryValue: 0 }).reason).toBe('retained-wal 10B > 1B');
  });

  it('formats bytes', () => {
    expect(formatBytes(512)).toBe('512B');
    expect(formatBytes(1536)).toBe('1.5KB');
    expect(formatBytes(3 * 1024 ** 2)).toBe('3.0MB');
  });
});
