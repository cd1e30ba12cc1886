import { describe, expect, it } from 'vitest';
import { leftoverCheck } from '../../src/core/leftovers.js';
import { helperNames, isStampedOldTable, MYSQL_IDENTIFIER_LIMIT, oldTableStamp, PG_IDENTIFIER_LIMIT } from '../../src/core/names.js';

const ref = { schema: 'shop', name: 'orders' };

describe('--timestamp-old-table names', () => {
  it('stamps the old table with the UTC time to the second', () => {
    const stamp = oldTableStamp(new Date('2026-12-06T03:15:00.789Z'));
    expect(stamp).toBe('20261206031500');
    expect(helperNames('mysql', 'orders', MYSQL_IDENTIFIER_LIMIT, stamp)).toEqual({ ghost: 'orders_gho', old: '_orders_20261206031500_del', changelog: '_orders_ghc' });
    expect(helperNames('postgres', 'orders', PG_IDENTIFIER_LIMIT, stamp).old).toBe('_orders_20261206031500_del');
  });
  it('keeps a long name within the identifier limit, still recognisable', () => {
    const long = 'a'.repeat(60);
    const stamp = '20261206031500';
    const my = helperNames('mysql', long, MYSQL_IDENTIFIER_LIMIT, stamp).old;
    const pg = helperNames('postgres', `é${long}`, PG_IDENTIFIER_LIMIT, stamp).old;
    expect([...my].length).toBeLessThanOrEqual(64);
    expect(Buffer.byteLength(pg)).toBeLessThanOrEqual(63);
    expect(my).toMatch(/_20261206031500_del$/);
    expect(isStampedOldTable('mysql', long, my)).toBe(true);
    expect(isStampedOldTable('postgres', `é${long}`, pg)).toBe(true);
  });
  it("recognises only this table's stamped old tables", () => {
    expect(isStampedOldTable('mysql', 'orders', '_orders_20261206031500_del')).toBe(true);
    expect(isStampedOldTable('mysql', 'orders', '_orders_del')).toBe(false);
    expect(isStampedOldTable('mysql', 'orders', '_orders_2026120603150_del')).toBe(false);
    expect(isStampedOldTable('mysql', 'orders', '_my_orders_20261206031500_del')).toBe(false);
    expect(isStampedOldTable('mysql', 'my_orders', '_orders_20261206031500_del')).toBe(false);
  });
});

describe('leftovers and timestamped old tables', () => {
  it('a timestamped old table never blocks a new run; _t_del only when this run is not timestamped', () => {
    const stamped = { kind: 'old-table' as const, name: '_orders_20261206031500_del', timestamped: true };
    const plain = { kind: 'old-table' as const, name: '_orders_del' };
    expect(leftoverCheck(ref, [stamped]).ok).toBe(true);
    expect(leftoverCheck(ref, [plain]).ok).toBe(false);
    expect(leftoverCheck(ref, [plain], { oldTableStamped: true }).ok).toBe(true);
    // A ghost is always in the way.
    expect(leftoverCheck(ref, [{ kind: 'ghost', name: 'orders_gho' }, stamped], { oldTableStamped: true })).toMatchObject({ ok: false, detail: 'ghost orders_gho' });
  });
});
