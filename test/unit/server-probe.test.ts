import { describe, expect, it } from 'vitest';
import type { LiveSettings } from '../../src/core/live.js';
import { DEFAULT_THROTTLE } from '../../src/core/options.js';
import { ServerProbe, SILENT_AFTER_MS } from '../../src/core/server-probe.js';
import { decide } from '../../src/core/throttle-decide.js';
import type { SqlSession } from '../../src/engine/engine.js';

const settings: LiveSettings = { chunkSize: 1000, maxLagMs: 1500, maxLoad: {}, criticalLoad: {}, maxSharePercent: 100, forcedThrottle: false, postponeCutOver: false, cutOverNow: false, panic: false };

describe('ServerProbe', () => {
  it('reports silence only once the server missed answers for SILENT_AFTER_MS, and recovers', async () => {
    let clock = 0;
    let frozen = false;
    const never = new Promise<never>(() => undefined);
    const session: SqlSession = { query: async () => (frozen ? never : { rows: [], affectedRows: 0 }), close: async () => undefined };
    let opened = 0;
    const probe = new ServerProbe(async () => (opened++, session), 20, () => clock);
    await probe.tick();
    expect(probe.silentMs()).toBeNull();
    frozen = true;
    clock = 1000;
    await probe.tick(); // times out after 20 ms (real time); the clock says 1 s
    expect(probe.silentMs()).toBeNull();
    clock = SILENT_AFTER_MS + 1;
    await probe.tick();
    expect(probe.silentMs()).toBe(SILENT_AFTER_MS + 1);
    frozen = false;
    clock = 9000;
    await probe.tick();
    expect(probe.silentMs()).toBeNull();
    expect(opened).toBe(3); // a timed-out session is replaced
    await probe.close();
  });

  it('keeps one pending connect instead of piling them up while the server does not accept', async () => {
    let calls = 0;
    const probe = new ServerProbe(() => (calls++, new Promise<SqlSession>(() => undefined)), 10, () => 0);
    await probe.tick();
    await probe.tick();
    expect(calls).toBe(1);
    await probe.close();
  });
});

describe('decide() with a silent server', () => {
  it('names the silent server before any stale reading (lag, load)', () => {
    const d = decide({
      measurement: { load: {}, replicas: [{ name: 'r1', lagMs: 120_000 }] },
      settings,
      options: DEFAULT_THROTTLE,
      flags: { throttleFile: false, panicFile: false },
      throttleQueryValue: null,
      criticalSince: null,
      now: 0,
      serverSilentMs: 12_400,
    });
    expect(d).toMatchObject({ throttled: true, reason: 'server not responding for 12 s' });
  });
});
