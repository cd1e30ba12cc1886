/**
 * The copy window: where the copy is, and which changed keys may be applied
 * while chunks run. It replaces a global gate (every apply waited for every
 * chunk, and every chunk for every apply) with exclusion per key range.
 *
 * Two database facts shape the rules:
 *
 * 1. A chunk is one `INSERT ... SELECT` reading the original under a snapshot
 *    taken when the statement starts, without locking the rows it reads. A
 *    row deleted (or changed) while it runs is still in its snapshot: if that
 *    change were applied to the ghost before the chunk inserts the row, the
 *    chunk would resurrect the old row. So a key inside an IN-FLIGHT chunk's
 *    range WAITS until that chunk has finished, then is applied.
 *
 * 2. The stream shows a transaction BEFORE its commit is visible to other
 *    sessions (MySQL writes the binlog first; pgoutput sends once the commit
 *    record is flushed). A key the copy has not reached yet can be left to
 *    the copy only if the chunk that will copy it takes its snapshot after
 *    that commit is visible. The applier therefore first makes the batch's
 *    commits visible to itself (a locking read on MySQL, a snapshot check on
 *    PostgreSQL) and only THEN decides (`place`) which keys to leave: a chunk
 *    that claims such a key later starts after that point and sees the
 *    commit; a chunk that claimed it earlier is in flight (rule 1: the key
 *    waits) or done (the key is applied).
 *
 * Keys the copy has passed, or that lie above the last range (rows inserted
 * after the copy began), are applied at once, beside the running chunks.
 *
 * Placing a key needs its order as the copy's index sorts it. Engines give an
 * exact comparison for the key types they can order in JavaScript (integers,
 * bytes, fixed-format temporals); for other keys (collated strings, ...) the
 * window falls back to the old rule: an apply batch runs alone, between
 * chunks, and applies every key (`exact` is false).
 */
import type { CopyRange, KeyTuple } from '../engine/engine.js';
import { keyId } from './change-backlog.js';

/** Total order of key tuples as the copy's index sorts them (< 0, 0, > 0). */
export type KeyOrder = (a: KeyTuple, b: KeyTuple) => number;

/** apply: write now; wait: a chunk in flight covers it; ahead: the copy will read it later. */
export type Placement = 'apply' | 'wait' | 'ahead';

interface RangeState {
  after: KeyTuple | null;
  upTo: KeyTuple | null;
  /** Last key copied; null before the first chunk. */
  through: KeyTuple | null;
  done: boolean;
  /** The chunk in flight: (after, end], end null = to upTo. */
  chunk: { after: KeyTuple | null; end: KeyTuple | null } | null;
}

/** Where the copy has been, for a SQL-side filter (engines whose keys JavaScript can't order). */
export interface CopiedSpans {
  /** Key spans (after, through] the copy has finished; after null = from the first key. */
  spans: Array<{ after: KeyTuple | null; through: KeyTuple | null }>;
  /** Upper bound of the last range: keys above it are never copied. null = no bound. */
  above: KeyTuple | null;
}

export class CopyWindow {
  private ranges: RangeState[] | null = null;
  private chunks = 0;
  private batches = 0;
  private exclusiveHeld = false;
  private exclusiveWaiting = 0;
  private waiters: Array<() => void> = [];
  /**
   * TEST ONLY (GHOSTWRIGHT_TEST_UNSAFE_WINDOW=trust-in-flight): leave keys
   * inside in-flight chunks to those chunks — the wrong rule, which loses
   * writes; the adversarial tests run it to prove they can see the loss.
   */
  readonly unsafeTrustInFlightChunks = process.env.GHOSTWRIGHT_TEST_UNSAFE_WINDOW === 'trust-in-flight';

  constructor(private readonly order: KeyOrder | null) {}

  /** True when keys are placed by range; false: batches run alone and apply every key. */
  get exact(): boolean {
    return this.order !== null;
  }

  get begun(): boolean {
    return this.ranges !== null;
  }

  /**
   * The copy covers these ranges, from the first key on, contiguous; before
   * this every key waits. On resume, `progress` (one per range) is how far
   * each was copied before.
   */
  begin(ranges: readonly CopyRange[], progress?: ReadonlyArray<{ through: KeyTuple | null; done: boolean }>): void {
    const contiguous = ranges.every((r, i) => (i === 0 ? r.after === null : sameKey(r.after, ranges[i - 1]!.upTo)));
    if (!contiguous) throw new Error('the copy ranges must start at the first key and be contiguous');
    this.ranges = ranges.map((r, i) => ({ after: r.after, upTo: r.upTo, through: progress?.[i]?.through ?? null, done: progress?.[i]?.done ?? false, chunk: null }));
    this.wake();
  }

  get copyDone(): boolean {
    return this.ranges !== null && this.ranges.every((r) => r.done);
  }

  place(key: KeyTuple): Placement {
    const ranges = this.ranges;
    if (!ranges) return 'wait';
    const order = this.order;
    if (!order) return 'apply';
    for (const r of ranges) {
      if (r.upTo !== null && order(key, r.upTo) > 0) continue;
      if (r.done) return 'apply';
      const c = r.chunk;
      if (c && (c.after === null || order(key, c.after) > 0) && (c.end === null || order(key, c.end) <= 0)) {
        return this.unsafeTrustInFlightChunks ? 'ahead' : 'wait';
      }
      if (r.through !== null && order(key, r.through) <= 0) return 'apply';
      return 'ahead';
    }
    return 'apply';
  }

  /** The copy's finished spans (read while no chunk runs: a batch of the inexact mode). */
  spans(): CopiedSpans | null {
    const ranges = this.ranges ?? [];
    if (ranges.every((r) => r.done)) return null;
    const spans = ranges.filter((r) => r.done || r.through !== null).map((r) => ({ after: r.after, through: r.done ? r.upTo : r.through }));
    return { spans, above: ranges.length ? ranges[ranges.length - 1]!.upTo : null };
  }

  private rangeOf(range: CopyRange): RangeState {
    const r = this.ranges?.find((s) => !s.done && sameKey(s.upTo, range.upTo));
    if (!r) throw new Error('a chunk outside the ranges given to beginCopy');
    return r;
  }

  /**
   * Runs one chunk over (range.after, end] (end null: to the range's end,
   * which completes it). Its keys wait from the claim until fn has returned;
   * the range's progress moves before they are released.
   */
  async chunk<T>(range: CopyRange, end: KeyTuple | null, fn: () => Promise<T>): Promise<T> {
    const r = this.rangeOf(range);
    while (this.exclusiveHeld || this.exclusiveWaiting > 0 || (!this.exact && this.batches > 0)) await this.wait();
    this.chunks++;
    r.chunk = { after: range.after, end };
    try {
      const out = await fn();
      if (end === null) r.done = true;
      else r.through = end;
      return out;
    } finally {
      r.chunk = null;
      this.chunks--;
      this.wake();
    }
  }

  /** The range holds no row beyond `range.after`: it is complete. */
  rangeDone(range: CopyRange): void {
    this.rangeOf(range).done = true;
    this.wake();
  }

  /** One apply batch. Exclusive (no chunk, no other batch) in the inexact mode or when asked (TRUNCATE). */
  async batch<T>(exclusive: boolean, fn: () => Promise<T>): Promise<T> {
    if (exclusive || !this.exact) return this.exclusive(fn);
    while (this.exclusiveHeld || this.exclusiveWaiting > 0) await this.wait();
    this.batches++;
    try {
      return await fn();
    } finally {
      this.batches--;
      this.wake();
    }
  }

  /** Runs fn with no chunk and no batch running (the cut-over, a TRUNCATE); new ones queue behind it. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.exclusiveWaiting++;
    try {
      while (this.exclusiveHeld || this.chunks > 0 || this.batches > 0) await this.wait();
    } finally {
      this.exclusiveWaiting--;
    }
    this.exclusiveHeld = true;
    try {
      return await fn();
    } finally {
      this.exclusiveHeld = false;
      this.wake();
    }
  }

  private wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Resolves when a chunk or batch ends (or the ranges become known), or after ms. */
  changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private wake(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w();
  }
}

function sameKey(a: KeyTuple | null, b: KeyTuple | null): boolean {
  if (a === null || b === null) return a === b;
  return keyId(a) === keyId(b);
}

/** How JavaScript can order one key column's values exactly, as the server's index does. */
export type KeyKind = 'integer' | 'bytes' | 'temporal' | 'uuid';

/**
 * An exact order for keys whose columns all have a kind; null otherwise.
 * integer: decimal text or numbers (BIGINT as text); bytes: Buffers (binary
 * collation = memcmp); temporal: 'YYYY-MM-DD[ HH:MM:SS[.ffffff]]' text, one
 * fixed layout per column (trailing fraction zeros ignored); uuid: canonical
 * hex text (compared case-insensitively, as bytes).
 */
export function keyOrder(kinds: ReadonlyArray<KeyKind | null>): KeyOrder | null {
  if (kinds.some((k) => k === null)) return null;
  const cmp = kinds.map((k) => COMPARE[k!]);
  return (a, b) => {
    for (let i = 0; i < cmp.length; i++) {
      const c = cmp[i]!(a[i], b[i]);
      if (c !== 0) return c;
    }
    return 0;
  };
}

const sign = (n: number | bigint): number => (n < 0 ? -1 : n > 0 ? 1 : 0);

const COMPARE: Record<KeyKind, (a: unknown, b: unknown) => number> = {
  integer: (a, b) => sign(BigInt(String(a)) - BigInt(String(b))),
  bytes: (a, b) => Buffer.compare(toBuffer(a), toBuffer(b)),
  temporal: (a, b) => textCompare(trimFraction(String(a)), trimFraction(String(b))),
  uuid: (a, b) => textCompare(String(a).toLowerCase(), String(b).toLowerCase()),
};

function toBuffer(v: unknown): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8');
}

function trimFraction(s: string): string {
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

function textCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
