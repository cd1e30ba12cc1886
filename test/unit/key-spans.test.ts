import { describe, expect, it } from 'vitest';
import { compareBuckets, MAX_VERIFY_SPANS, planKeySpans, spanBounds } from '../../src/engine/key-spans.js';
import { buildSpanChecksums } from '../../src/engine/mysql/verify.js';

describe('key spans (verification in one pass)', () => {
  it('plans about one span per 10,000 rows, never more than the cap, never narrower than a key', () => {
    expect(planKeySpans(1n, 1_000_000n, 1_000_000)).toEqual({ min: 1n, max: 1_000_000n, span: 10_000n });
    expect(planKeySpans(1n, 10n, 10)).toEqual({ min: 1n, max: 10n, span: 10n });
    expect(planKeySpans(5n, 5n, 1)).toEqual({ min: 5n, max: 5n, span: 1n });
    // No estimate (never analyzed): the key range stands in, capped.
    const sparse = planKeySpans(1000n, 2n ** 40n, -1)!;
    expect((2n ** 40n - 1000n + 1n + sparse.span - 1n) / sparse.span).toBeLessThanOrEqual(BigInt(MAX_VERIFY_SPANS));
    // 3,000 rows with an outlier at 2^40: one span, not one per 10,000 key values.
    expect(planKeySpans(1000n, 2n ** 40n, 3001)!.span).toBe(2n ** 40n - 1000n + 1n);
    // A key range beyond int8 arithmetic is not offered.
    expect(planKeySpans(-(2n ** 63n), 2n ** 63n - 1n, 10)).toBeNull();
  });
  it('bounds a span: the first open below, the last ending at the original\'s last key', () => {
    const s = { min: 1n, max: 25n, span: 10n };
    expect(spanBounds(s, 0n)).toEqual({ after: null, through: ['10'] });
    expect(spanBounds(s, 1n)).toEqual({ after: ['10'], through: ['20'] });
    expect(spanBounds(s, 2n)).toEqual({ after: ['20'], through: ['25'] });
  });
  it('compares every bucket either side has, ascending; one only the ghost has differs, with no rows of the original', () => {
    const o = new Map([['0', { n: '3', c: '9' }], ['10', { n: '1', c: '5' }], ['2', { n: '2', c: '7' }]]);
    const g = new Map([['0', { n: '3', c: '9' }], ['2', { n: '2', c: '8' }], ['5', { n: '1', c: '1' }], ['10', { n: '1', c: '5' }]]);
    expect(compareBuckets(o, g)).toEqual([
      { bucket: 0n, rows: 3, same: true },
      { bucket: 2n, rows: 2, same: false },
      { bucket: 5n, rows: 0, same: false },
      { bucket: 10n, rows: 1, same: true },
    ]);
  });
  it('bounds as numbers where the engine wants them', () => {
    expect(spanBounds({ min: -5n, max: 100n, span: 50n }, 1n, Number)).toEqual({ after: [44], through: [94] });
  });
});

describe('MySQL: one pass of bucket checksums', () => {
  const t = { schema: 'd', name: 't' };
  it('checksums every bucket of the plan by its range, UNION ALL, the first open below, bounds cast to integers', () => {
    expect(buildSpanChecksums(t, 'id', ['`id`'], { min: -5n, max: 100n, span: 50n }, 'PRIMARY')).toEqual({
      sql: [0, 1, 2]
        .map((b) => `SELECT ${b} AS b, COUNT(*) AS n, COALESCE(BIT_XOR(CRC32(CONCAT_WS('|', \`id\`))), 0) AS c FROM \`d\`.\`t\` FORCE INDEX (\`PRIMARY\`) WHERE ${b === 0 ? '`id` <= CAST(? AS SIGNED)' : '`id` > CAST(? AS SIGNED) AND `id` <= CAST(? AS SIGNED)'}`)
        .join(' UNION ALL '),
      params: ['44', '44', '94', '94', '100'],
    });
  });
});
