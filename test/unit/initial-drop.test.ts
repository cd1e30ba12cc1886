import { describe, expect, it } from 'vitest';
import { initiallyDroppable } from '../../src/core/initial-drop.js';
import type { Leftover } from '../../src/engine/engine.js';

const found: Leftover[] = [
  { kind: 'ghost', name: '_t_gho' },
  { kind: 'changelog', name: '_t_ghc' },
  { kind: 'old-table', name: '_t_del' },
  { kind: 'old-table', name: '_t_20261206031500_del', timestamped: true },
  { kind: 'slot', name: 'ghostwright_abc_1' },
  { kind: 'publication', name: 'ghostwright_pub_abc' },
];

describe('--initially-drop-*', () => {
  it('ghost flag: the ghost and changelog only', () => {
    expect(initiallyDroppable(found, { initiallyDropGhostTable: true, initiallyDropOldTable: false }).map((l) => l.name)).toEqual(['_t_gho', '_t_ghc']);
  });
  it('old-table flag: the kept _t_del only, never a timestamped old table, slot or publication', () => {
    expect(initiallyDroppable(found, { initiallyDropGhostTable: false, initiallyDropOldTable: true }).map((l) => l.name)).toEqual(['_t_del']);
  });
  it('no flag: nothing', () => {
    expect(initiallyDroppable(found, { initiallyDropGhostTable: false, initiallyDropOldTable: false })).toEqual([]);
  });
});
