/**
 * core/verify.ts without a database: the one-pass path (VerifyPoint.spans)
 * as the runbook drives it, on a fake point.
 */
import { describe, expect, it } from 'vitest';
import { verifyGhost } from '../../src/core/verify.js';
import { newLiveMigration } from '../../src/core/live.js';
import { silentLogger } from '../../src/log.js';
import { GhostwrightError } from '../../src/errors.js';
import type { KeyTuple, VerifyChunk, VerifyPoint } from '../../src/engine/engine.js';

function fakePoint(spans: () => Promise<VerifyChunk[] | null>, ghostBeyond: KeyTuple | null = null) {
  const calls = { closed: 0, chunk: 0, ghostKeyAfter: [] as (KeyTuple | null)[] };
  const point: VerifyPoint = {
    lockMs: 0,
    uncompared: [],
    spans,
    async chunk() {
      calls.chunk++;
      return null;
    },
    range: async (after, through) => ({ after, through, rows: 1, same: true }),
    differingKeys: async () => [],
    async ghostKeyAfter(after) {
      calls.ghostKeyAfter.push(after);
      return ghostBeyond;
    },
    async close() {
      calls.closed++;
    },
  };
  return { point, calls };
}

const options = { verify: true, cutOverRetries: 1 };

function supervisor(abortAfterMs = Infinity) {
  const live = newLiveMigration({ chunkSize: 1000, maxLagMs: 1000 });
  const started = Date.now();
  return {
    live,
    setState: () => undefined,
    checkAborted: () => {
      if (Date.now() - started >= abortAfterMs) throw new GhostwrightError('E_INTERRUPTED', 'interrupted: migration aborted');
    },
  };
}

describe('verifyGhost with spans()', () => {
  it('tallies the spans, re-copies the differing ones, and checks the ghost above the last span', async () => {
    const { point, calls } = fakePoint(async () => [
      { after: null, through: ['10'], rows: 10, same: true },
      { after: ['10'], through: ['20'], rows: 9, same: false },
    ]);
    const recopied: unknown[] = [];
    const target = { openVerifyPoint: async () => point, recopyRange: async (after: KeyTuple | null, through: KeyTuple) => void recopied.push([after, through]) };
    const report = await verifyGhost(target, supervisor() as never, options as never, silentLogger);
    expect(report).toMatchObject({ rows: 19, chunks: 2, recopiedChunks: 1 });
    expect(recopied).toEqual([[['10'], ['20']]]);
    expect(calls.chunk).toBe(0);
    expect(calls.ghostKeyAfter[0]).toEqual(['20']);
  });

  it('walks chunk by chunk when the point offers no spans for this key', async () => {
    const { point, calls } = fakePoint(async () => null);
    const target = { openVerifyPoint: async () => point, recopyRange: async () => undefined };
    await verifyGhost(target, supervisor() as never, options as never, silentLogger);
    expect(calls.chunk).toBe(1);
    expect(calls.ghostKeyAfter[0]).toBeNull();
  });

  it('stops while the one pass still runs once the run must stop, and closes the point', async () => {
    const { point, calls } = fakePoint(() => new Promise<never>(() => undefined));
    const target = { openVerifyPoint: async () => point, recopyRange: async () => undefined };
    const t0 = Date.now();
    await expect(verifyGhost(target, supervisor(300) as never, options as never, silentLogger)).rejects.toMatchObject({ code: 'E_INTERRUPTED' });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(calls.closed).toBe(1);
  });
});
