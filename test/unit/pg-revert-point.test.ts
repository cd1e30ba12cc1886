/** --revert-window's pure parts: the duration flag, the revert point's JSON, the names the revert moves the old table's indexes to. */
import { describe, expect, it } from 'vitest';
import { durationOption } from '../../src/cli/common.js';
import { asideName, beforeForwardSwap } from '../../src/engine/postgres/revert-aside.js';
import { decodeRevertPoint, encodeRevertPoint, expired, type PgRevertPoint } from '../../src/engine/postgres/revert-point.js';

describe('--revert-window durations', () => {
  const parse = durationOption('--revert-window');
  it('reads s, m, h, d and their sums', () => {
    expect(parse('90s')).toBe(90_000);
    expect(parse('30m')).toBe(1_800_000);
    expect(parse('1h')).toBe(3_600_000);
    expect(parse('2d')).toBe(172_800_000);
    expect(parse('1h30m')).toBe(5_400_000);
    expect(parse('0.5h')).toBe(1_800_000);
  });
  it('refuses anything else, and zero', () => {
    for (const bad of ['', '1', 'h', '1x', '1h junk', '0h', '-1h', '1 h']) expect(() => parse(bad), bad).toThrow(/--revert-window must be a duration/);
  });
});

describe('the PostgreSQL revert point', () => {
  const point: PgRevertPoint = { table: 't', slot: 'ghostwright_ab_1', publication: 'ghostwright_pub_ab', lsn: '0/16B3748', at: '2026-12-06T08:00:00.000Z', expires: '2026-12-06T09:00:00.000Z', columns: ['id', 'v'], comment: "it's ours", identity: null };
  it('round-trips through the comment text, which is tagged', () => {
    const text = encodeRevertPoint(point);
    expect(text.startsWith('{"ghostwright-revert":1,')).toBe(true);
    expect(decodeRevertPoint(text)).toEqual(point);
  });
  it('is not read from a comment that is not ours or lacks a field', () => {
    expect(decodeRevertPoint(null)).toBeNull();
    expect(decodeRevertPoint('orders of the shop')).toBeNull();
    expect(decodeRevertPoint('{"ghostwright-revert":1,"slot":"s"}')).toBeNull();
    expect(decodeRevertPoint('{"ghostwright-revert":1,')).toBeNull();
  });
  it('expires at its end', () => {
    expect(expired(point, Date.parse('2026-12-06T08:59:59Z'))).toBe(false);
    expect(expired(point, Date.parse('2026-12-06T09:00:00Z'))).toBe(true);
  });
});

describe('names of the old table\'s indexes during the swap back', () => {
  it('recognises the names the forward swap gave', () => {
    expect(beforeForwardSwap('_t_pkey_del')).toBe('t_pkey');
    expect(beforeForwardSwap('t_pkey')).toBeNull();
  });
  it('puts them under the ghost name, so the swap gives them back their names from before', () => {
    expect(asideName('_t_pkey_del', 't', '_t_gho', 1)).toBe('_t_gho_pkey');
    expect(asideName('_t_qty_del', 't', '_t_gho', 2)).toBe('_t_gho_qty');
    expect(asideName('_other_idx_del', 't', '_t_gho', 3)).toBe('_t_gho_rv3');
    expect(asideName('free_name', 't', '_t_gho', 4)).toBe('_t_gho_rv4');
    expect(Buffer.byteLength(asideName(`_t_${'x'.repeat(56)}_del`, 't', '_t_gho', 5))).toBeLessThanOrEqual(63);
  });
});
