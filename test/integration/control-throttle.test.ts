/**
 * Throttler reaction time with real timers: from the moment measure() starts
 * reporting replica lag over the limit to the moment a copier loop (waitUntilClear
 * between chunks) stops starting chunks, and back. measure() is a fake here; the
 * engines' measure() is exercised by the end-to-end tests.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { newLiveMigration } from '../../src/core/live.js';
import type { LoadMeasurement } from '../../src/engine/engine.js';
import type { LiveMigration } from '../../src/core/live.js';
import { DEFAULT_THROTTLE } from '../../src/core/options.js';
import { Throttler } from '../../src/core/throttle.js';
import { silentLogger } from '../../src/log.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function makeLive(): LiveMigration {
  return newLiveMigration({ chunkSize: 1000, maxLagMs: 1500 }, { state: 'copying', table: 't', engine: 'mysql', copyStartedAt: Date.now(), rowsEstimated: 1e9 });
}

let throttler: Throttler | null = null;
afterEach(() => throttler?.stop());

describe('throttler reaction time (default 100 ms interval)', () => {
  it('stops the copier within one interval of lag going over the limit, and resumes within one interval', async () => {
    let lagMs = 10;
    // A measurement takes a few ms, as a heartbeat SELECT on a replica would.
    const measure = async (): Promise<LoadMeasurement> => {
      await sleep(3);
      return { load: {}, replicas: [{ name: 'r1', lagMs }] };
    };
    const live = makeLive();
    throttler = new Throttler({ options: { ...DEFAULT_THROTTLE }, live, measure, throttleQuery: null, log: silentLogger });
    throttler.start();

    // The copier: a 5 ms chunk, then ask the throttler.
    let lastChunkStart = 0;
    let chunks = 0;
    let running = true;
    const copier = (async () => {
      while (running) {
        await throttler!.waitUntilClear();
        lastChunkStart = Date.now();
        chunks++;
        await sleep(5);
      }
    })();

    const stopDelays: number[] = [];
    const resumeDelays: number[] = [];
    for (let trial = 0; trial < 5; trial++) {
      await sleep(80 + trial * 37); // vary the phase against the poll timer
      const over = Date.now();
      lagMs = 1800;
      // The run's state (copying/throttled) is the supervisor's; the throttler records its reason.
      while (live.progress.throttleReason === null) await sleep(1);
      await sleep(30); // let the chunk in flight finish
      const stoppedAfter = lastChunkStart - over;
      const before = chunks;
      await sleep(150);
      expect(chunks, 'no chunk starts while throttled').toBe(before);
      expect(live.progress.throttleReason).toBe('lag: replica r1 1800ms > 1500ms');
      stopDelays.push(Math.max(0, stoppedAfter));

      await sleep(trial * 23);
      const under = Date.now();
      lagMs = 20;
      while (chunks === before) await sleep(1);
      resumeDelays.push(lastChunkStart - under);
      expect(live.progress.throttleReason).toBeNull();
    }
    running = false;
    await copier;

    const fmt = (a: number[]) => `median ${[...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]} ms, max ${Math.max(...a)} ms`;
    console.log(`[throttle reaction] last chunk started after lag went over: ${fmt(stopDelays)} (${stopDelays.join(', ')})`);
    console.log(`[throttle reaction] copying resumed after lag went under: ${fmt(resumeDelays)} (${resumeDelays.join(', ')})`);
    // One poll interval (100 ms) + one measure (3 ms) + scheduling slack on a busy 2-core box.
    for (const d of stopDelays) expect(d).toBeLessThan(200);
    for (const d of resumeDelays) expect(d).toBeLessThan(200);
  });
});
