import { describe, expect, it } from 'vitest';
import { arithmeticEnd, nextChunkSize } from '../../src/core/chunker.js';
import { chooseSharedKey, mapColumns, splitClauses } from '../../src/core/columns.js';
import { toRanges } from '../../src/core/copier.js';
import { ghostNameAfter, helperNames, helperTableName, MYSQL_IDENTIFIER_LIMIT, slotName } from '../../src/core/names.js';
import type { ColumnInfo, KeyInfo, TableInfo } from '../../src/engine/engine.js';

const col = (name: string, extra: Partial<ColumnInfo> = {}): ColumnInfo => ({ name, type: 'int', nullable: false, default: null, generated: null, generationExpression: null, identity: null, collation: null, ...extra });
const key = (name: string, columns: string[], primary = false, extra: Partial<KeyInfo> = {}): KeyInfo => ({ name, columns, primary, unique: true, hasNullableColumn: false, usableForCopy: true, ...extra });
const table = (columns: ColumnInfo[], primaryKey: KeyInfo | null, uniqueKeys: KeyInfo[] = []): TableInfo => ({
  ref: { schema: 's', name: 't' }, columns, primaryKey, uniqueKeys, indexes: [], copyKey: primaryKey ?? uniqueKeys[0] ?? null,
  foreignKeys: [], referencedBy: [], triggers: [], partitioned: false, partitions: [], dependentViews: [], ownedSequences: [], estimatedRows: 0, estimatedBytes: 0, extra: {},
});

describe('helper table names', () => {
  it('names ghost, old and changelog tables', () => {
    expect(helperTableName('orders', 'gho', 64)).toBe('_orders_gho');
    expect(helperTableName('orders', 'del', 64)).toBe('_orders_del');
    expect(helperTableName('orders', 'ghc', 63)).toBe('_orders_ghc');
  });

  it('keeps long names within the byte limit, distinct, and on character boundaries', () => {
    const a = 'é'.repeat(40); // 80 bytes
    const b = `${'é'.repeat(39)}x`;
    const na = helperTableName(a, 'gho', 63);
    const nb = helperTableName(b, 'gho', 63);
    expect(Buffer.byteLength(na)).toBeLessThanOrEqual(63);
    expect(na).not.toBe(nb);
    expect(na.endsWith('_gho')).toBe(true);
    expect(na).not.toContain('\uFFFD');
    expect(helperTableName('x'.repeat(64), 'del', 64).length).toBeLessThanOrEqual(64);
  });

  it('MySQL ghost names sort after the table, byte for byte and lowercased (the cut-over depends on it)', () => {
    expect(helperNames('mysql', 'orders', 64)).toEqual({ ghost: 'orders_gho', old: '_orders_del', changelog: '_orders_ghc' });
    expect(helperNames('postgres', 'orders', 63).ghost).toBe('_orders_gho');
    const after = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b)) > 0;
    for (const t of ['orders', 'Orders', '9lives', 'a'.repeat(64), `${'x'.repeat(58)}Zzzzzz`, 'é'.repeat(32), 'zz~', 'Ab'.repeat(30)]) {
      const g = ghostNameAfter(t, 64);
      if (!g) continue;
      expect(Buffer.byteLength(g), t).toBeLessThanOrEqual(64);
      expect(after(g, t), t).toBe(true);
      expect(after(g.toLowerCase(), t.toLowerCase()), t).toBe(true);
    }
    // Bytes: a cut landing on a byte above '~' continues with U+FFEE.
    expect(ghostNameAfter('é'.repeat(32), 64)).toMatch(/^é{24}\uFFEE[0-9a-f]{8}_gho$/);
  });

  it('MySQL limits are 64 characters, not bytes: a 64-character multibyte table name gets helper names', () => {
    const t = 'é'.repeat(64); // 128 bytes, a legal MySQL table name
    const n = helperNames('mysql', t);
    expect(n.old).toBe(helperTableName(t, 'del', MYSQL_IDENTIFIER_LIMIT));
    for (const name of [n.ghost, n.old, n.changelog]) expect([...name].length, name).toBeLessThanOrEqual(64);
    expect([...n.old].length).toBe(64); // cut by characters, not bytes
    expect(n.ghost).toMatch(/^é{51}\uFFEE[0-9a-f]{8}_gho$/);
    const after = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b)) > 0;
    expect(after(n.ghost, t) && after(n.ghost.toLowerCase(), t.toLowerCase())).toBe(true);
    expect(helperNames('mysql', 'é'.repeat(32)).ghost).toBe(`${'é'.repeat(32)}_gho`);
    // PostgreSQL counts bytes.
    expect(Buffer.byteLength(helperNames('postgres', t).ghost)).toBeLessThanOrEqual(63);
  });

  it('slot names are lowercase [a-z0-9_] with the sweep prefix', () => {
    expect(slotName('public', 'Orders "x"')).toMatch(/^ghostwright_[0-9a-f]{8}_\d+$/);
  });
});

describe('column mapping', () => {
  it('splits clauses on top-level commas only', () => {
    expect(splitClauses("ADD c DECIMAL(10,2) DEFAULT '1,2', ADD INDEX i (a, b), DROP x")).toEqual(["ADD c DECIMAL(10,2) DEFAULT '1,2'", 'ADD INDEX i (a, b)', 'DROP x']);
  });

  it('maps kept, renamed, dropped, added and generated columns', () => {
    const orig = table([col('id'), col('a'), col('b'), col('g', { generated: 'virtual' }), col('old')], key('PRIMARY', ['id'], true));
    const ghost = table([col('id'), col('a'), col('c'), col('g', { generated: 'virtual' }), col('new')], key('PRIMARY', ['id'], true));
    const m = mapColumns(orig, ghost, new Map([['old', 'new']]));
    expect(m.pairs).toEqual([
      { source: 'id', target: 'id' },
      { source: 'a', target: 'a' },
      { source: 'old', target: 'new' },
    ]);
    expect(m.dropped).toEqual(['b']);
    expect(m.added).toEqual(['c']);
  });

  it('chooses a key shared by both shapes, following renames', () => {
    const orig = table([col('id'), col('code')], null, [key('u_code', ['code'])]);
    const ghost = table([col('id'), col('code2')], null, [key('u_code2', ['code2'])]);
    const plan = chooseSharedKey(orig, ghost, mapColumns(orig, ghost, new Map([['code', 'code2']])));
    expect(plan).toMatchObject({ sourceKey: ['code'], targetKey: ['code2'], keyName: 'u_code' });
  });

  it('a column dropped and added again is a new column: it takes its default', () => {
    const orig = table([col('id'), col('c1', { nullable: true })], key('PRIMARY', ['id'], true));
    const ghost = table([col('id'), col('c1')], key('PRIMARY', ['id'], true));
    expect(mapColumns(orig, ghost, new Map())).toMatchObject({ pairs: [{ source: 'id' }, { source: 'c1' }], added: [] });
    const m = mapColumns(orig, ghost, new Map(), (n) => n, new Set(['c1']));
    expect(m).toEqual({ pairs: [{ source: 'id', target: 'id' }], dropped: ['c1'], added: ['c1'] });
  });

  it('a widened key drives the copy by the old key when the new key contains it and an index leads with it', () => {
    const orig = table([col('id'), col('i')], key('PRIMARY', ['id'], true));
    const widened = table([col('id'), col('i')], key('PRIMARY', ['id', 'i'], true));
    const plan = chooseSharedKey(orig, widened, mapColumns(orig, widened, new Map()));
    expect(plan).toMatchObject({ sourceKey: ['id'], targetKey: ['id'], keyName: 'PRIMARY', ghostKey: { name: 'PRIMARY', columns: ['id', 'i'] }, targetKeyUnique: false });
    // (i, id): no index starts with id, so every apply would scan the ghost: refused.
    const reordered = table([col('id'), col('i')], key('PRIMARY', ['i', 'id'], true));
    expect(chooseSharedKey(orig, reordered, mapColumns(orig, reordered, new Map()))).toBeNull();
    const withIndex = { ...reordered, indexes: [{ name: 'by_id', columns: ['id'], unique: false }] };
    expect(chooseSharedKey(orig, withIndex, mapColumns(orig, withIndex, new Map()))).toMatchObject({ targetKey: ['id'], targetKeyUnique: false });
    // The exact key is preferred.
    const same = table([col('id'), col('i')], key('PRIMARY', ['id'], true));
    expect(chooseSharedKey(orig, same, mapColumns(orig, same, new Map()))).toMatchObject({ ghostKey: { columns: ['id'] }, targetKeyUnique: true });
  });

  it('finds no shared key when the ALTER drops or weakens it', () => {
    const orig = table([col('id'), col('x')], key('PRIMARY', ['id'], true));
    const dropped = table([col('x')], null);
    expect(chooseSharedKey(orig, dropped, mapColumns(orig, dropped, new Map()))).toBeNull();
    const nullable = table([col('id', { nullable: true }), col('x')], null, [key('u', ['id'], false, { hasNullableColumn: true })]);
    expect(chooseSharedKey(orig, nullable, mapColumns(orig, nullable, new Map()))).toBeNull();
  });
});

describe('chunk sizing', () => {
  const limits = { min: 100, max: 100_000, targetMs: 500 };
  it('far from the target moves multiplicatively (up to 4x up, down to 1/4); near it, halfway', () => {
    expect(nextChunkSize(5000, 100, 5000, limits)).toBe(20_000); // 5x faster than target: x4
    expect(nextChunkSize(5000, 200, 5000, limits)).toBe(12_500); // 2.5x: x2.5
    expect(nextChunkSize(5000, 5000, 5000, limits)).toBe(1250); // 10x slower: /4
    expect(nextChunkSize(5000, 1500, 5000, limits)).toBe(1667); // 3x slower: /3
    expect(nextChunkSize(5000, 400, 5000, limits)).toBe(5625); // near: halfway to 6250
    expect(nextChunkSize(5000, 500, 5000, limits)).toBe(5000);
  });
  it('reaches the cap from 5000 rows within three chunks on a fast server (~250k rows/s)', () => {
    let size = 5000;
    const steps: number[] = [];
    for (let i = 0; i < 3; i++) {
      size = nextChunkSize(size, (size / 250_000) * 1000, size, limits);
      steps.push(size);
    }
    expect(steps).toEqual([20_000, 80_000, 100_000]);
  });
  it('ignores short last chunks and respects bounds', () => {
    expect(nextChunkSize(5000, 1, 10, limits)).toBe(5000);
    expect(nextChunkSize(100, 60_000, 100, limits)).toBe(100);
    expect(nextChunkSize(100_000, 1, 100_000, limits)).toBe(100_000);
  });
});

describe('copy ranges', () => {
  it('split points make disjoint ranges covering the table', () => {
    expect(toRanges([[10], [20]], [30])).toEqual([
      { after: null, upTo: [10] },
      { after: [10], upTo: [20] },
      { after: [20], upTo: [30] },
    ]);
    expect(toRanges([], [5])).toEqual([{ after: null, upTo: [5] }]);
  });
});

describe('chunk ends by key arithmetic (an integer key)', () => {
  const text = (v: bigint) => v.toString();
  it('after a dense chunk: the next `size` key values, so never more than `size` rows', () => {
    // 1000 rows over keys (0, 1000]: dense.
    expect(arithmeticEnd({ after: ['0'], last: ['1000'], rows: 1000 }, ['1000000'], 5000, text)).toEqual(['6000']);
    // Half the values hold a row: still dense enough.
    expect(arithmeticEnd({ after: [0], last: [1000], rows: 500 }, [1_000_000], 5000, text)).toEqual(['6000']);
  });
  it('reads the end again after a sparse chunk, the first chunk, or without an upper bound', () => {
    expect(arithmeticEnd({ after: ['0'], last: ['1000'], rows: 499 }, ['1000000'], 5000, text)).toBeUndefined();
    expect(arithmeticEnd({ after: ['0'], last: ['1000'], rows: 0 }, ['1000000'], 5000, text)).toBeUndefined();
    expect(arithmeticEnd({ after: null, last: ['1000'], rows: 1000 }, ['1000000'], 5000, text)).toBeUndefined();
    expect(arithmeticEnd({ after: ['0'], last: null, rows: 1000 }, ['1000000'], 5000, text)).toBeUndefined();
    expect(arithmeticEnd(null, ['1000000'], 5000, text)).toBeUndefined();
    expect(arithmeticEnd({ after: ['0'], last: ['1000'], rows: 1000 }, null, 5000, text)).toBeUndefined();
  });
  it('runs to the range end (null) once the span reaches it', () => {
    expect(arithmeticEnd({ after: ['0'], last: ['1000'], rows: 1000 }, ['6000'], 5000, text)).toBeNull();
    expect(arithmeticEnd({ after: ['0'], last: ['1000'], rows: 1000 }, ['5999'], 5000, text)).toBeNull();
    expect(arithmeticEnd({ after: ['0'], last: ['1000'], rows: 1000 }, ['6001'], 5000, text)).toEqual(['6000']);
  });
  it('stays exact for BIGINT keys beyond 2^53 and below zero', () => {
    const big = 2n ** 62n;
    expect(arithmeticEnd({ after: [String(big)], last: [String(big + 100n)], rows: 100 }, [String(big + 10_000n)], 1000, text)).toEqual([String(big + 1100n)]);
    expect(arithmeticEnd({ after: ['-5000'], last: ['-4000'], rows: 1000 }, ['0'], 1000, text)).toEqual(['-3000']);
  });
  it('writes the end as the engine binds it', () => {
    expect(arithmeticEnd({ after: [0], last: [10], rows: 10 }, [100], 10, (v) => Number(v))).toEqual([20]);
  });
});
