import { describe, expect, it } from 'vitest';
import { CopyWallClock, wallBreakdown } from '../../src/core/copy-wall.js';

describe('wallBreakdown', () => {
  it('counts each moment once, for the most productive activity under way', () => {
    // Worker A: chunk 0-100, throttle 100-300. Worker B: throttle 0-250, chunk 250-400.
    const spans = [
      { activity: 'chunk' as const, from: 0, to: 100 },
      { activity: 'throttle' as const, from: 100, to: 300 },
      { activity: 'throttle' as const, from: 0, to: 250 },
      { activity: 'chunk' as const, from: 250, to: 400 },
    ];
    const out = wallBreakdown(spans, 0, 500);
    expect(out).toEqual({ chunk: 250, boundary: 0, window: 0, backlog: 0, throttle: 150, share: 0, idle: 100 });
    expect(Object.values(out).reduce((a, b) => a + b, 0)).toBe(500);
  });

  it('clips spans to the copy', () => {
    expect(wallBreakdown([{ activity: 'window', from: -50, to: 60 }], 0, 100)).toMatchObject({ window: 60, idle: 40 });
  });
});

describe('CopyWallClock', () => {
  it('adds up to the copy time, idle before the first chunk', () => {
    const c = new CopyWallClock(1000);
    c.span('boundary', 1200, 1210);
    c.span('chunk', 1210, 1900);
    expect(c.result(2000)).toEqual({ chunk: 690, boundary: 10, window: 0, backlog: 0, throttle: 0, share: 0, idle: 300 });
  });
});
