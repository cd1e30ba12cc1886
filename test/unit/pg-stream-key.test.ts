import { describe, expect, it } from 'vitest';
import { unchangedFrom } from '../../src/engine/postgres/pgoutput.js';

describe('unchangedFrom (a TOASTed key column the UPDATE left alone)', () => {
  it('takes an unchanged (undefined) key column from the old key image', () => {
    expect(unchangedFrom({ k: undefined, v: '2' }, { k: 'long-key' }, ['k'])).toEqual({ k: 'long-key', v: '2' });
  });
  it('keeps a key the update changed, and never fills a column the tuple lacks', () => {
    expect(unchangedFrom({ k: 'new', v: '2' }, { k: 'old' }, ['k'])).toEqual({ k: 'new', v: '2' });
    expect(unchangedFrom({ v: '2' }, { k: 'old' }, ['k'])).toEqual({ v: '2' });
  });
  it('without an old image there is nothing to take the value from', () => {
    expect(unchangedFrom({ k: undefined }, null, ['k'])).toBeNull();
  });
});
