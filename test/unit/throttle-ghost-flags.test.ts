/**
 * gh-ost's flag meanings: --critical-load-interval-millis (abort only when
 * critical load lasts), --critical-load-hibernate-seconds (hibernate instead
 * of aborting: no copying, no reads from any server, then go on), and
 * --throttle-http (throttle while a HEAD request does not answer 200).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiveMigration } from '../../src/core/live.js';
import { DEFAULT_THROTTLE, type ThrottleOptions } from '../../src/core/options.js';
import { httpStatus, Throttler } from '../../src/core/throttle.js';
import { decide, type ThrottleInput } from '../../src/core/throttle-decide.js';
import { silentLogger } from '../../src/log.js';

const settings = { chunkSize: 1000, maxLagMs: 1500, maxLoad: {}, criticalLoad: { Threads_running: 100 }, maxSharePercent: 100, forcedThrottle: false, postponeCutOver: false, cutOverNow: false, panic: false };
const options = (over: Partial<ThrottleOptions> = {}): ThrottleOptions => ({ ...DEFAULT_THROTTLE, ...over });
const input = (over: Partial<ThrottleInput> = {}): ThrottleInput => ({
  measurement: { load: { Threads_running: 150 }, replicas: [] },
  settings,
  options: options(),
  flags: { throttleFile: false, panicFile: false },
  throttleQueryValue: null,
  criticalSince: null,
  now: 10_000,
  ...over,
});

describe('critical load: interval and hibernation', () => {
  it('without hibernation, critical load aborts once it lasted --critical-load-interval-millis', () => {
    const first = decide(input({ options: options({ criticalLoadIntervalMs: 1000 }) }));
    expect(first.abort).toBeNull();
    expect(first.reason).toContain('aborting in 1000ms');
    expect(decide(input({ options: options({ criticalLoadIntervalMs: 1000 }), criticalSince: 9000 })).abort).toMatchObject({ code: 'E_CRITICAL_LOAD' });
  });

  it('with --critical-load-hibernate-seconds it hibernates instead of aborting, then measures again', () => {
    const o = options({ criticalLoadHibernateMs: 5000 });
    const d = decide(input({ options: o }));
    expect(d).toMatchObject({ throttled: true, abort: null, hibernateUntil: 15_000 });
    expect(d.reason).toContain('hibernating 5 s');
    // during hibernation: throttled whatever the (missing) measurement says
    const during = decide(input({ options: o, measurement: null, now: 12_000, hibernateUntil: d.hibernateUntil ?? null }));
    expect(during).toMatchObject({ throttled: true, abort: null, hibernateUntil: 15_000 });
    expect(during.reason).toMatch(/^hibernating after critical-load for 3 s more/);
    // after it: load is measured again; a calm server releases the throttle
    const after = decide(input({ options: o, measurement: { load: { Threads_running: 5 }, replicas: [] }, now: 15_001, hibernateUntil: 15_000 }));
    expect(after).toMatchObject({ throttled: false, abort: null });
    // a panic still aborts during hibernation
    expect(decide(input({ options: o, flags: { throttleFile: false, panicFile: true }, now: 12_000, hibernateUntil: 15_000 })).abort).toMatchObject({ code: 'E_PANIC' });
  });

  it('the throttler reads nothing from the server while hibernating', async () => {
    let calls = 0;
    let load = 150;
    const live: LiveMigration = {
      settings: { ...settings },
      progress: { state: 'copying', table: 't', engine: 'mysql', startedAt: Date.now(), copyStartedAt: Date.now(), rowsCopied: 0, rowsEstimated: 10, eventsApplied: 0, backlog: 0, throttleReason: null, replicaLagMs: {} },
    };
    const t = new Throttler({
      options: options({ criticalLoadHibernateMs: 600 }),
      live,
      throttleQuery: null,
      log: silentLogger,
      intervalMs: 10,
      measure: async () => {
        calls++;
        return { load: { Threads_running: load }, replicas: [] };
      },
    });
    await t.tick();
    expect(t.current().hibernateUntil).toBeGreaterThan(0);
    const at = calls;
    load = 5;
    const hibernatedUntil = t.current().hibernateUntil!;
    t.start();
    await new Promise((r) => setTimeout(r, 100));
    if (Date.now() < hibernatedUntil - 20) {
      expect(calls).toBe(at);
      expect(t.current().throttled).toBe(true);
    }
    const end = Date.now() + 5000;
    while (t.current().throttled && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    t.stop();
    expect(calls).toBeGreaterThan(at);
    expect(t.current()).toMatchObject({ throttled: false, abort: null });
  });
});

describe('--throttle-http', () => {
  let server: Server;
  let status = 200;
  let url = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/slow') return void setTimeout(() => res.end(), 3000);
      res.statusCode = status;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('decide: throttled unless the last answer was 200', () => {
    const o = options({ throttleHttp: 'http://freno/check' });
    const calm = { load: {}, replicas: [] };
    expect(decide(input({ options: o, measurement: calm, settings: { ...settings, criticalLoad: {} }, throttleHttpStatus: 200 })).throttled).toBe(false);
    expect(decide(input({ options: o, measurement: calm, settings: { ...settings, criticalLoad: {} }, throttleHttpStatus: 429 })).reason).toBe('throttle-http: http://freno/check answered 429');
    expect(decide(input({ options: o, measurement: calm, settings: { ...settings, criticalLoad: {} }, throttleHttpStatus: null })).reason).toBe('throttle-http: http://freno/check did not answer');
  });

  it('measures with a HEAD request and a short timeout', async () => {
    status = 200;
    expect(await httpStatus(`${url}/check`, 1000)).toBe(200);
    status = 503;
    expect(await httpStatus(`${url}/check`, 1000)).toBe(503);
    const t0 = Date.now();
    expect(await httpStatus(`${url}/slow`, 200)).toBeNull();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(await httpStatus('http://127.0.0.1:1/', 500)).toBeNull();
  });

  it('the throttler follows the endpoint', async () => {
    const live: LiveMigration = {
      settings: { ...settings, criticalLoad: {} },
      progress: { state: 'copying', table: 't', engine: 'mysql', startedAt: Date.now(), copyStartedAt: Date.now(), rowsCopied: 0, rowsEstimated: 10, eventsApplied: 0, backlog: 0, throttleReason: null, replicaLagMs: {} },
    };
    const t = new Throttler({ options: options({ throttleHttp: `${url}/check` }), live, throttleQuery: null, log: silentLogger, measure: async () => ({ load: {}, replicas: [] }) });
    status = 503;
    await t.tick();
    expect(t.current().reason).toContain('answered 503');
    status = 200;
    await t.tick();
    expect(t.current().throttled).toBe(false);
  });
});

describe('colours', () => {
  it('NO_COLOR and FORCE_COLOR=0 turn them off, FORCE_COLOR=1 on, else only on a terminal', async () => {
    const { colorEnabled } = await import('../../src/log.js');
    expect(colorEnabled({}, true)).toBe(true);
    expect(colorEnabled({}, false)).toBe(false);
    expect(colorEnabled({ NO_COLOR: '1' }, true)).toBe(false);
    expect(colorEnabled({ NO_COLOR: '' }, true)).toBe(true);
    expect(colorEnabled({ FORCE_COLOR: '0' }, true)).toBe(false);
    expect(colorEnabled({ FORCE_COLOR: '1' }, false)).toBe(true);
  });
});
