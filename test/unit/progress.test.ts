import { describe, expect, it } from 'vitest';
import type { LiveMigration } from '../../src/core/live.js';
import { createProgressReporter, formatDuration, formatProgressLine, progressFields, stateText } from '../../src/cli/progress.js';

function makeLive(): LiveMigration {
  return {
    settings: { chunkSize: 1000, maxLagMs: 1500, maxLoad: {}, criticalLoad: {}, maxSharePercent: 100, forcedThrottle: false, postponeCutOver: false, cutOverNow: false, panic: false },
    progress: {
      state: 'copying', table: 'orders', engine: 'postgres', startedAt: 0, copyStartedAt: 1_000, rowsCopied: 45_200, rowsEstimated: 100_000,
      eventsApplied: 30, backlog: 12, throttleReason: null, replicaLagMs: { standby: 40 },
    },
  };
}
function sink(isTTY = false) {
  const lines: string[] = [];
  return { lines, stream: { isTTY, write: (t: string) => lines.push(...t.split('\n').filter(Boolean)) } };
}

describe('progress line', () => {
  it('formats percent, rows, rate, ETA, backlog and state', () => {
    // 45,200 rows in 4 s = 11,300 rows/s; 54,800 left -> ~4.85 s
    expect(formatProgressLine(makeLive(), 5_000)).toBe('orders 45.2% 45200/100000 rows, 11300 rows/s, ETA 5s, backlog 12 | copying');
  });
  it('shows the throttle reason and other states', () => {
    const live = makeLive();
    live.progress.state = 'throttled';
    live.progress.throttleReason = 'lag: replica r1 1800ms > 1500ms';
    expect(formatProgressLine(live, 5_000)).toMatch(/\| throttled: lag: replica r1 1800ms > 1500ms$/);
    expect(stateText({ state: 'cutting-over', throttleReason: null })).toBe('cutting over');
    expect(stateText({ state: 'postponed', throttleReason: null })).toBe('postponed');
    expect(stateText({ state: 'throttled', throttleReason: null })).toBe('throttled: unknown reason');
  });
  it('shows the verification and the rows it compared', () => {
    const live = makeLive();
    live.progress.state = 'verifying';
    live.progress.rowsVerified = 42_000;
    expect(formatProgressLine(live, 5_000)).toMatch(/\| verifying: 42000 rows compared$/);
    expect(progressFields(live, 5_000).rowsVerified).toBe(42_000);
  });
  it('ETA unknown before the copy starts', () => {
    const live = makeLive();
    live.progress.copyStartedAt = null;
    live.progress.rowsCopied = 0;
    expect(formatProgressLine(live, 5_000)).toBe('orders 0% 0/100000 rows, 0 rows/s, ETA unknown, backlog 12 | copying');
  });
  it('formats durations', () => {
    expect(formatDuration(null)).toBe('unknown');
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(12_400)).toBe('12s');
    expect(formatDuration(245_000)).toBe('4m05s');
    expect(formatDuration(3_720_000)).toBe('1h02m');
  });
});

describe('json mode', () => {
  it('writes NDJSON progress events, rate-limited, immediately on state change, flushed at stop', () => {
    let now = 5_000;
    const { lines, stream } = sink();
    const r = createProgressReporter('json', stream, { minIntervalMs: 1000, now: () => now });
    const live = makeLive();
    r.update(live);
    now += 100;
    live.progress.rowsCopied = 46_000;
    r.update(live); // same state, within 1 s: held back
    expect(lines).toHaveLength(1);
    now += 100;
    live.progress.state = 'throttled';
    live.progress.throttleReason = 'commanded';
    r.update(live); // state changed: written at once
    r.log('control socket at /tmp/x.sock');
    now += 50;
    live.progress.state = 'copying';
    live.progress.throttleReason = null;
    live.progress.rowsCopied = 47_000;
    r.update(live);
    now += 10;
    live.progress.rowsCopied = 48_000;
    r.update(live); // held back
    r.stop(); // flushed
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => e.event)).toEqual(['progress', 'progress', 'log', 'progress', 'progress']);
    expect(events[0]).toEqual({
      event: 'progress', time: new Date(5_000).toISOString(), state: 'copying', table: 'orders', percent: 45.2, rowsCopied: 45_200, rowsEstimated: 100_000,
      rowsPerSecond: 11_300, etaMs: 4_850, backlog: 12, eventsApplied: 30, throttleReason: null, replicaLagMs: { standby: 40 }, elapsedMs: 5_000, maxSharePercent: 100,
    });
    expect(events[1]).toMatchObject({ state: 'throttled', throttleReason: 'commanded', rowsCopied: 46_000 });
    expect(events[2]).toMatchObject({ event: 'log', message: 'control socket at /tmp/x.sock' });
    expect(events[3]).toMatchObject({ state: 'copying', rowsCopied: 47_000 });
    expect(events[4]).toMatchObject({ state: 'copying', rowsCopied: 48_000 });
  });
  it('reports a final state once: done is not written again at stop', () => {
    let now = 5_000;
    const { lines, stream } = sink();
    const r = createProgressReporter('json', stream, { minIntervalMs: 1000, now: () => now });
    const live = makeLive();
    r.update(live);
    live.progress.state = 'done';
    live.progress.rowsCopied = 100_000;
    r.update(live); // setState('done')
    now += 10;
    r.update(live); // supervisor.stop() updates once more...
    r.stop(); // ...and flushes
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.filter((e) => e.state === 'done')).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ state: 'done', percent: 100 });
  });
  it('does not repeat an unchanged event at stop', () => {
    let now = 5_000;
    const { lines, stream } = sink();
    const r = createProgressReporter('json', stream, { minIntervalMs: 1000, now: () => now });
    const live = makeLive();
    live.progress.state = 'failed';
    r.update(live);
    now += 10;
    r.update(live);
    r.stop();
    expect(lines).toHaveLength(1);
  });
  it('progressFields matches the live object', () => {
    expect(progressFields(makeLive(), 5_000)).toMatchObject({ percent: 45.2, rowsPerSecond: 11_300 });
  });
});

describe('bar mode', () => {
  it('off a terminal: plain lines at most every interval, and at state changes', () => {
    let now = 5_000;
    const { lines, stream } = sink(false);
    const r = createProgressReporter('bar', stream, { plainIntervalMs: 10_000, now: () => now });
    const live = makeLive();
    r.update(live);
    now += 1000;
    r.update(live);
    live.progress.state = 'cutting-over';
    r.update(live);
    r.log('hello');
    r.stop();
    expect(lines).toEqual([
      'orders 45.2% 45200/100000 rows, 11300 rows/s, ETA 5s, backlog 12 | copying',
      expect.stringMatching(/\| cutting over$/),
      'hello',
    ]);
  });
  it('on a terminal: draws a cli-progress bar with rows and state', () => {
    const chunks: string[] = [];
    const stream = { isTTY: true, columns: 200, write: (t: string) => chunks.push(t), cursorTo: () => true, clearLine: () => true, moveCursor: () => true, on: () => stream, removeListener: () => stream };
    const r = createProgressReporter('bar', stream as unknown as NodeJS.WriteStream);
    const live = makeLive();
    live.progress.copyStartedAt = Date.now() - 4_000;
    live.progress.state = 'throttled';
    live.progress.throttleReason = 'max-load: Threads_running=31 >= 25';
    r.update(live);
    r.stop();
    const out = chunks.join('');
    expect(out).toContain('45200/100000 rows');
    expect(out).toContain('throttled: max-load: Threads_running=31 >= 25');
    expect(out).toContain('backlog 12');
  });
  it('on a narrow terminal: the last line is written whole at stop, not cut to the width', () => {
    const chunks: string[] = [];
    const stream = { isTTY: true, columns: 40, write: (t: string) => chunks.push(t), cursorTo: () => true, clearLine: () => true, moveCursor: () => true, on: () => stream, removeListener: () => stream };
    const r = createProgressReporter('bar', stream as unknown as NodeJS.WriteStream);
    const live = makeLive();
    live.progress.copyStartedAt = Date.now() - 4_000;
    live.progress.state = 'done';
    live.progress.rowsCopied = 100_000;
    r.update(live);
    r.stop();
    expect(chunks.join('')).toMatch(/orders 100% 100000\/100000 rows, \d+ rows\/s, ETA \S+, backlog 12 \| done\n$/);
  });
  it('none: only log lines', () => {
    const { lines, stream } = sink();
    const r = createProgressReporter('none', stream);
    r.update(makeLive());
    r.log('x');
    r.stop();
    expect(lines).toEqual(['x']);
  });
});
