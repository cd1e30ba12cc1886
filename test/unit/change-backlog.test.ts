import { describe, expect, it } from 'vitest';
import { ChangeBacklog, keyId } from '../../src/core/change-backlog.js';
import { ChangeApplier, GATHER_MS, type ApplyWork } from '../../src/core/change-applier.js';
import { CopyWindow, keyOrder } from '../../src/core/copy-window.js';
import { createLogger } from '../../src/log.js';
import type { KeyTuple } from '../../src/engine/engine.js';

const cmp = (a: number, b: number) => a - b;
const backlog = (marks = { high: 1000, low: 500 }, onPressure?: (p: boolean) => void) => new ChangeBacklog<number>({ start: 4, compare: cmp, marks, ...(onPressure ? { onPressure } : {}) });
const keys = (b: { entries: Array<{ key: readonly unknown[] }> }) => b.entries.map((e) => e.key);

describe('ChangeBacklog', () => {
  it('dedupes keys and advances the applied position only past applied commits', () => {
    const q = backlog();
    q.add([1]);
    q.add([2]);
    q.add([1]);
    q.commit(100);
    q.add([3]);
    q.commit(200);
    expect(q.size).toBe(3);
    expect(q.backlog).toBe(4);
    const b1 = q.take(2);
    expect(keys(b1)).toEqual([[1], [2]]);
    q.done(b1);
    expect(q.applied).toBe(100);
    expect(q.eventsApplied).toBe(3);
    const b2 = q.take(10);
    q.done(b2);
    expect(q.applied).toBe(200);
    q.commit(300);
    expect(q.applied).toBe(300);
  });

  it('a key left waiting holds the position back while later keys are applied', () => {
    const q = backlog();
    q.add([1]);
    q.commit(10);
    q.add([2]);
    q.commit(20);
    // key 1 waits (a chunk in flight covers it); key 2 goes through
    const b = q.take(10, (k) => k[0] !== 1);
    expect(keys(b)).toEqual([[2]]);
    q.done(b);
    expect(q.applied).toBe(4);
    const b2 = q.take(10);
    q.done(b2);
    expect(q.applied).toBe(20);
  });

  it('a requeued entry keeps its sequence and merges with newer events of its key', () => {
    const q = backlog();
    q.add([1]);
    q.commit(10);
    const b = q.take(10);
    q.add([1]);
    q.commit(20);
    q.done(b, b.entries); // the whole batch had to wait
    expect(q.size).toBe(1);
    expect(q.applied).toBe(4);
    q.done(q.take(10));
    expect(q.applied).toBe(20);
    expect(q.eventsApplied).toBe(2);
  });

  it('a failed batch goes back whole, with its TRUNCATE', () => {
    const q = backlog();
    q.add([1]);
    q.truncate();
    q.add([2]);
    q.commit(10);
    const b = q.take(10);
    expect(b.truncate).toBe(true);
    q.requeue(b);
    expect(q.hasTruncate).toBe(true);
    expect(q.applied).toBe(4);
    q.done(q.take(10));
    expect(q.applied).toBe(10);
    expect(q.hasTruncate).toBe(false);
  });

  it('keeps copy-queued keys from claiming a caught-up position until applied', () => {
    const q = backlog();
    q.commit(10);
    q.addExternal([7]);
    q.addExternal([7]);
    expect(q.externalPending).toBe(1);
    expect(q.applied).toBe(10);
    q.requeue(q.take(10));
    expect(q.externalPending).toBe(1);
    q.done(q.take(10));
    expect(q.externalPending).toBe(0);
    expect(q.size).toBe(0);
  });

  it('signals the high-water mark once, and the low one once below it', () => {
    const calls: boolean[] = [];
    const q = backlog({ high: 3, low: 1 }, (p) => calls.push(p));
    for (let i = 0; i < 6; i++) q.add([i]);
    expect(calls).toEqual([true]);
    q.done(q.take(3));
    expect(calls).toEqual([true]);
    q.done(q.take(2));
    expect(calls).toEqual([true, false]);
  });

  it('distinguishes binary keys by bytes and strings by text', () => {
    expect(keyId([Buffer.from('a')])).not.toBe(keyId(['a']));
    expect(keyId([1, 'x'])).toBe(keyId(['1', 'x']));
  });
});

describe('CopyWindow', () => {
  const order = keyOrder(['integer'])!;
  it('places keys: copied -> apply, in flight -> wait, not reached -> ahead, above the copy -> apply', async () => {
    const w = new CopyWindow(order);
    expect(w.place([5])).toBe('wait'); // before the copy's ranges are known
    w.begin([{ after: null, upTo: ['100'] }, { after: ['100'], upTo: ['200'] }]);
    expect(w.place([5])).toBe('ahead');
    let inside: string[] = [];
    await w.chunk({ after: null, upTo: ['100'] }, ['50'], async () => {
      inside = [w.place([49]), w.place([50]), w.place([51]), w.place([150]), w.place([201])];
    });
    expect(inside).toEqual(['wait', 'wait', 'ahead', 'ahead', 'apply']);
    expect([w.place([50]), w.place([51])]).toEqual(['apply', 'ahead']);
    await w.chunk({ after: ['50'], upTo: ['100'] }, null, async () => undefined);
    expect(w.place([100])).toBe('apply');
    expect(w.place([101])).toBe('ahead');
  });

  it('orders BIGINT text numerically, bytes by memcmp, temporals ignoring trailing fraction zeros', () => {
    expect(keyOrder(['integer'])!(['9'], ['10'])).toBeLessThan(0);
    expect(keyOrder(['integer'])!(['18446744073709551615'], ['18446744073709551614'])).toBeGreaterThan(0);
    expect(keyOrder(['bytes'])!([Buffer.from([0x7f])], [Buffer.from([0x80])])).toBeLessThan(0);
    const t = keyOrder(['integer', 'temporal'])!;
    expect(t([1, '2024-03-31 01:00:00.500000'], [1, '2024-03-31 01:00:00.5'])).toBe(0);
    expect(t([1, '2024-03-31 01:00:00'], [1, '2024-03-31 01:00:00.000001'])).toBeLessThan(0);
    expect(keyOrder(['integer', null])).toBeNull();
  });

  it('inexact mode: a batch runs alone, between chunks, and applies every key', async () => {
    const w = new CopyWindow(null);
    w.begin([{ after: null, upTo: ['10'] }]);
    const log: string[] = [];
    let release!: () => void;
    const copy = w.chunk({ after: null, upTo: ['10'] }, ['5'], () => new Promise<void>((r) => ((release = r), log.push('chunk'))));
    const apply = w.batch(false, async () => void log.push('batch'));
    await Promise.resolve();
    expect(log).toEqual(['chunk']);
    release();
    await Promise.all([copy, apply]);
    expect(log).toEqual(['chunk', 'batch']);
    expect(w.place([7])).toBe('apply');
  });
});

describe('ChangeApplier', () => {
  const log = createLogger({ level: 'silent' });
  it('places keys the copy had not reached only after the batch made their commits visible', async () => {
    const q = backlog();
    const w = new CopyWindow(keyOrder(['integer']));
    w.begin([{ after: null, upTo: ['100'] }]);
    const written: KeyTuple[] = [];
    let release!: () => void;
    let chunk: Promise<void> | null = null;
    const sql = {
      batchSize: () => 100,
      async apply(work: ApplyWork): Promise<boolean> {
        written.push(...work.write);
        // While the batch waits for visibility, a chunk claims (0, 20]: keys 10 and 30 were ahead.
        chunk = w.chunk({ after: null, upTo: ['100'] }, ['20'], () => new Promise<void>((r) => (release = r)));
        written.push(...work.settle());
        return true;
      },
    };
    const applier = new ChangeApplier({ backlog: q, window: w, sql, log, idle: async () => undefined });
    q.add(['10']);
    q.add(['30']);
    q.add(['150']);
    q.commit(10);
    await applier.applyOnce();
    expect(written).toEqual([['150']]);
    // 10 is inside the chunk that started before visibility: it waits; 30 is left to the copy.
    expect(q.size).toBe(1);
    expect(q.applied).toBe(4);
    release();
    await chunk;
    await applier.applyOnce();
    expect(written).toEqual([['150'], ['10']]);
    expect(q.applied).toBe(10);
  });

  it('while the copy runs or while relaxed, a small batch waits for keys to gather; a full batch, or any once the copy is done, goes at once', async () => {
    const q = backlog();
    const w = new CopyWindow(keyOrder(['integer']));
    const range = { after: null, upTo: ['100'] };
    w.begin([range]);
    const batches: { at: number; keys: KeyTuple[] }[] = [];
    const sql = {
      batchSize: () => 3,
      async apply(work: ApplyWork): Promise<boolean> {
        batches.push({ at: Date.now(), keys: [...work.write, ...work.settle()] });
        return true;
      },
    };
    const applier = new ChangeApplier({ backlog: q, window: w, sql, log, idle: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 5))) });
    const until = async (n: number) => {
      while (batches.length < n) await new Promise((r) => setTimeout(r, 2));
    };
    const add = (...ks: string[]) => {
      for (const k of ks) q.add([k]);
      q.commit(10 + batches.length);
    };
    applier.start();
    try {
      add('150'); // above the copy: applied
      await until(1);
      add('160');
      await until(2);
      // the second, small batch waited for more keys
      expect(batches[1]!.at - batches[0]!.at).toBeGreaterThanOrEqual(GATHER_MS - 20);
      add('170', '171', '172');
      const t = Date.now();
      await until(3);
      // a full batch does not wait
      expect(Date.now() - t).toBeLessThan(GATHER_MS / 2);
      w.rangeDone(range);
      add('180');
      const t2 = Date.now();
      await until(4);
      // the copy is done: the catch-up is on the clock
      expect(Date.now() - t2).toBeLessThan(GATHER_MS / 2);
      // relaxed (the cut-over postponed): small batches gather again
      applier.relax(true);
      add('190');
      await until(5);
      expect(batches[4]!.at - batches[3]!.at).toBeGreaterThanOrEqual(GATHER_MS - 20);
      // relaxed off in mid-gather: the waiting batch goes at once
      add('200');
      await new Promise((r) => setTimeout(r, 20));
      expect(batches).toHaveLength(5);
      const t3 = Date.now();
      applier.relax(false);
      await until(6);
      expect(Date.now() - t3).toBeLessThan(GATHER_MS / 2);
      expect(batches.map((b) => b.keys.map((k) => k[0]))).toEqual([['150'], ['160'], ['170', '171', '172'], ['180'], ['190'], ['200']]);
      expect(applier.stats.gatherMs).toBeGreaterThan(0);
    } finally {
      await applier.stop();
    }
  });
});
