import { describe, expect, it } from 'vitest';
import { parseTableRef, quoteIdent } from '../../src/engine/mysql/ident.js';
import { buildApplyDelete, buildApplyInsert, buildCollidingKeys, buildLockKeys, skipLockedClause } from '../../src/engine/mysql/apply-sql.js';
import { buildChangelogWrite, buildCopyChunk, buildKeyAtOffset, buildKeyBound, buildLastKeyInRange, buildLockTables, buildMissingKeys, buildRename, keyCompare, keyIn, likeContains } from '../../src/engine/mysql/sql.js';
import { integerSplitPoints, nextIntegerBoundary } from '../../src/engine/mysql/split.js';
import { RefusedError } from '../../src/errors.js';

const t = { schema: 'shop', name: 'orders' };
const g = { schema: 'shop', name: '_orders_gho' };

describe('mysql quoteIdent', () => {
  it('quotes plain and hostile names', () => {
    expect(quoteIdent('orders')).toBe('`orders`');
    expect(quoteIdent('a`b')).toBe('`a``b`');
    expect(quoteIdent('``')).toBe('``````');
    expect(quoteIdent("it's \"quoted\"")).toBe("`it's \"quoted\"`");
    expect(quoteIdent('with space')).toBe('`with space`');
    expect(quoteIdent('x`; DROP TABLE y; --')).toBe('`x``; DROP TABLE y; --`');
    expect(quoteIdent('tëst_ünïcødé_表')).toBe('`tëst_ünïcødé_表`');
  });

  it('enforces the 64-character limit by characters, not bytes', () => {
    expect(quoteIdent('a'.repeat(64))).toBe('`' + 'a'.repeat(64) + '`');
    expect(quoteIdent('é'.repeat(64))).toBe('`' + 'é'.repeat(64) + '`');
    expect(() => quoteIdent('a'.repeat(65))).toThrow(RefusedError);
  });

  it('rejects empty names and NUL', () => {
    expect(() => quoteIdent('')).toThrow(/empty/);
    expect(() => quoteIdent('a\u0000b')).toThrow(/NUL/);
    try {
      quoteIdent('');
    } catch (err) {
      expect((err as RefusedError).code).toBe('E_BAD_IDENTIFIER');
      expect((err as RefusedError).exitCode).toBe(2);
    }
  });
});

describe('mysql parseTableRef', () => {
  it('parses t, db.t and backticked parts', () => {
    expect(parseTableRef('orders', 'shop')).toEqual({ schema: 'shop', name: 'orders' });
    expect(parseTableRef('other.orders', 'shop')).toEqual({ schema: 'other', name: 'orders' });
    expect(parseTableRef('`my.db`.`t``x`', 'shop')).toEqual({ schema: 'my.db', name: 't`x' });
    expect(parseTableRef('`a b`', 'shop')).toEqual({ schema: 'shop', name: 'a b' });
  });
  it('refuses malformed names', () => {
    for (const bad of ['', 'a.b.c', 'a.', '.b', '`open', '`a`x']) expect(() => parseTableRef(bad, 'shop')).toThrow(RefusedError);
  });
});

describe('mysql key predicates', () => {
  it('expands composite keyset bounds into index ranges', () => {
    expect(keyCompare(['id'], '>', [5])).toEqual({ sql: '`id` > ?', params: [5] });
    expect(keyCompare(['a', 'b'], '>', [1, 'x'])).toEqual({ sql: '(`a` > ? OR (`a` = ? AND `b` > ?))', params: [1, 1, 'x'] });
    expect(keyCompare(['a', 'b', 'c'], '<=', [1, 2, 3])).toEqual({
      sql: '(`a` < ? OR (`a` = ? AND `b` < ?) OR (`a` = ? AND `b` = ? AND `c` <= ?))',
      params: [1, 1, 2, 1, 2, 3],
    });
  });
  it('builds key membership', () => {
    expect(keyIn(['id'], [[1], ['18446744073709551615']])).toEqual({ sql: '((`id` = ?) OR (`id` = ?))', params: [1, '18446744073709551615'] });
    expect(keyIn(['id'], [[1], [2]])).toEqual({ sql: '`id` IN (?, ?)', params: [1, 2] });
    const buf = Buffer.from([0, 255]);
    expect(keyIn(['a', 'b'], [[1, buf], [2, 'y']])).toEqual({ sql: '((`a` = ? AND `b` = ?) OR (`a` = ? AND `b` = ?))', params: [1, buf, 2, 'y'] });
    expect(() => keyIn(['id'], [])).toThrow();
  });
});

describe('mysql copy and apply builders', () => {
  const pairs = [
    { source: 'id', target: 'id' },
    { source: 'old name', target: 'new`name' },
  ];
  it('key bounds and chunk ends', () => {
    expect(buildKeyBound({ table: t, index: 'PRIMARY', key: ['id'], desc: true })).toEqual({ sql: 'SELECT `id` FROM `shop`.`orders` FORCE INDEX (`PRIMARY`) ORDER BY `id` DESC LIMIT 1', params: [] });
    expect(buildKeyAtOffset({ table: t, index: 'PRIMARY', key: ['a', 'b'], after: [1, 2], upTo: null, offset: 999 })).toEqual({
      sql: 'SELECT `a`, `b` FROM `shop`.`orders` FORCE INDEX (`PRIMARY`) WHERE (`a` > ? OR (`a` = ? AND `b` > ?)) ORDER BY `a`, `b` LIMIT 1 OFFSET ?',
      params: [1, 1, 2, 999],
    });
    expect(buildLastKeyInRange({ table: t, index: 'uk', key: ['id'], after: [10], upTo: [20] })).toEqual({
      sql: 'SELECT `id` FROM `shop`.`orders` FORCE INDEX (`uk`) WHERE `id` > ? AND `id` <= ? ORDER BY `id` DESC LIMIT 1',
      params: [10, 20],
    });
  });
  it('copies a closed range with INSERT IGNORE ... SELECT', () => {
    expect(buildCopyChunk({ source: t, ghost: g, pairs, index: 'PRIMARY', key: ['id'], after: null, through: [100] })).toEqual({
      sql: 'INSERT IGNORE INTO `shop`.`_orders_gho` (`id`, `new``name`) SELECT `id`, `old name` FROM `shop`.`orders` FORCE INDEX (`PRIMARY`) WHERE `id` <= ? ORDER BY `id`',
      params: [100],
    });
    expect(buildCopyChunk({ source: t, ghost: g, pairs, index: 'PRIMARY', key: ['id'], after: [100], through: [200] }).params).toEqual([100, 200]);
  });
  it('finds keys a chunk skipped', () => {
    expect(buildMissingKeys({ source: t, ghost: g, index: 'PRIMARY', key: ['id'], targetKey: ['id'], after: [1], through: [9] })).toEqual({
      sql: 'SELECT s.`id` FROM (SELECT `id` FROM `shop`.`orders` WHERE `id` > ? AND `id` <= ?) s LEFT JOIN `shop`.`_orders_gho` g ON g.`id` = s.`id` WHERE g.`id` IS NULL',
      params: [1, 9],
    });
  });
  it('applies key-based: delete the keys, re-insert current rows', () => {
    const spec = { source: t, ghost: g, pairs, sourceKey: ['id'], targetKey: ['id'], keys: [[1], [2]] };
    expect(buildApplyDelete(spec)).toEqual({ sql: 'DELETE FROM `shop`.`_orders_gho` WHERE `id` IN (?, ?)', params: [1, 2] });
    // outside the cut-over the commits were awaited first: a consistent read, no lock on the application's rows
    expect(buildApplyInsert(spec, false)).toEqual({ sql: 'INSERT INTO `shop`.`_orders_gho` (`id`, `new``name`) SELECT `id`, `old name` FROM `shop`.`orders` WHERE `id` IN (?, ?)', params: [1, 2] });
    // the locking read is pinned to the key index: a full scan would wait on rows outside the batch
    expect(buildApplyInsert({ ...spec, index: 'PRIMARY' }, true).sql).toBe('INSERT INTO `shop`.`_orders_gho` (`id`, `new``name`) SELECT `id`, `old name` FROM `shop`.`orders` FORCE INDEX (`PRIMARY`) WHERE `id` IN (?, ?) LOCK IN SHARE MODE');
  });
  it('awaits commits by a locking read of the keys, skipping locked rows where the server can', () => {
    const spec = { source: t, ghost: g, pairs, sourceKey: ['id'], targetKey: ['id'], keys: [[1], [2]], index: 'PRIMARY' };
    expect(buildLockKeys(spec)).toEqual({ sql: 'SELECT `id` FROM `shop`.`orders` FORCE INDEX (`PRIMARY`) WHERE `id` IN (?, ?) LOCK IN SHARE MODE', params: [1, 2] });
    expect(buildLockKeys(spec, skipLockedClause('mariadb', 101106)).sql).toBe('SELECT `id` FROM `shop`.`orders` FORCE INDEX (`PRIMARY`) WHERE `id` IN (?, ?) LOCK IN SHARE MODE SKIP LOCKED');
    expect(skipLockedClause('mariadb', 100511)).toBeNull();
    expect(skipLockedClause('mysql', 80036)).toBe('FOR SHARE SKIP LOCKED');
    expect(skipLockedClause('mysql', 50744)).toBeNull();
  });
  it('finds the stale ghost rows a batch collides with on another unique key', () => {
    const spec = { source: t, ghost: g, pairs, sourceKey: ['id'], targetKey: ['id'], keys: [[1], [2]], index: 'PRIMARY' };
    expect(buildCollidingKeys({ ...spec, uniqueKey: ['NEW`NAME'] })).toEqual({
      sql:
        'SELECT `shop`.`_orders_gho`.`id` FROM `shop`.`_orders_gho` JOIN (SELECT `old name` AS `_gw0` FROM `shop`.`orders` FORCE INDEX (`PRIMARY`) WHERE `id` IN (?, ?)) s' +
        ' ON `shop`.`_orders_gho`.`NEW``NAME` = s.`_gw0` WHERE NOT (`shop`.`_orders_gho`.`id` IN (?, ?))',
      params: [1, 2, 1, 2],
    });
    // a key over a column the original doesn't feed (added with a default): no lookup
    expect(buildCollidingKeys({ ...spec, uniqueKey: ['id', 'added'] })).toBeNull();
  });
  it('DECIMAL keys (text values) are matched by equalities, never by an IN list compared as DOUBLE', () => {
    expect(keyIn(['k'], [['12345678901234567882.0000000067'], ['12345678901234567883.0000000001']])).toEqual({
      sql: '((`k` = ?) OR (`k` = ?))',
      params: ['12345678901234567882.0000000067', '12345678901234567883.0000000001'],
    });
    expect(keyIn(['k'], [['a'], ['b']]).sql).toBe('`k` IN (?, ?)');
    expect(keyIn(['k'], [[1], [2]]).sql).toBe('`k` IN (?, ?)');
  });
  it('cut-over statements', () => {
    const del = { schema: 'shop', name: '_orders_del' };
    expect(buildLockTables([t, del, g]).sql).toBe('LOCK TABLES `shop`.`orders` WRITE, `shop`.`_orders_del` WRITE, `shop`.`_orders_gho` WRITE');
    expect(buildRename([[t, del], [g, t]]).sql).toBe('RENAME TABLE `shop`.`orders` TO `shop`.`_orders_del`, `shop`.`_orders_gho` TO `shop`.`orders`');
  });
  it('changelog writes bind values', () => {
    const c = buildChangelogWrite({ schema: 's', name: '_t_ghc' }, 'heartbeat', 'x');
    expect(c.params).toEqual(['heartbeat', 'x']);
    expect(c.sql).toContain('UTC_TIMESTAMP(6)');
  });
  it('escapes LIKE wildcards', () => {
    expect(likeContains('`a_b%`')).toBe('%`a\\_b\\%`%');
  });
});

describe('integerSplitPoints', () => {
  it('splits an integer key by value, exactly beyond 2^53, distinct and inside the bounds', () => {
    expect(integerSplitPoints([1], [1000], 2)).toEqual([[500]]);
    expect(integerSplitPoints(['9007199254740993'], ['9007199254741003'], 2)).toEqual([['9007199254740998']]);
    expect(integerSplitPoints([-10], [10], 4)).toEqual([[-5], [0], [5]]);
    expect(integerSplitPoints([5], [6], 4)).toEqual([]);
    expect(integerSplitPoints([5], [500], 1)).toEqual([]);
  });
});

describe('nextIntegerBoundary', () => {
  it('walks from the first key by width, ends at the last key, then stops', () => {
    expect(nextIntegerBoundary(null, [1], [25], 10)).toEqual([10]);
    expect(nextIntegerBoundary([10], [1], [25], 10)).toEqual([20]);
    expect(nextIntegerBoundary([20], [1], [25], 10)).toEqual([25]);
    expect(nextIntegerBoundary([25], [1], [25], 10)).toBeNull();
    expect(nextIntegerBoundary(null, ['9007199254740993'], ['9007199254741993'], 5)).toEqual(['9007199254740997']);
  });
});
