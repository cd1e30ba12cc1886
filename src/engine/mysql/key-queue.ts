/**
 * The backlog of the stream: distinct changed keys, in the order first seen,
 * plus the binlog positions of the commits received. A key is applied by
 * re-reading the original's CURRENT row, so one queued entry covers every
 * later event for the same key that arrives before the entry is taken: its
 * commit precedes the read. Memory is bounded by the distinct keys, not by
 * the events.
 */
import type { KeyTuple } from '../engine.js';
import { comparePositions, type BinlogPosition } from './connect.js';

interface Entry {
  key: KeyTuple;
  seq: number;
  /** Row changes this entry stands for (for eventsApplied / backlog). */
  changes: number;
  /** Queued by the copy, not by an event: no binlog position covers it. */
  external?: boolean;
}

export interface Batch {
  keys: KeyTuple[];
  maxSeq: number;
  changes: number;
  external: KeyTuple[];
}

/** A stable text id of a key tuple (Buffers by bytes, everything else by its text). */
export function keyId(key: KeyTuple): string {
  return key.map((v) => (Buffer.isBuffer(v) ? `b:${v.toString('hex')}` : v === null || v === undefined ? 'n:' : `s:${String(v)}`)).join('\u0000');
}

export class KeyQueue {
  private entries = new Map<string, Entry>();
  private seq = 0;
  private commits: Array<{ pos: BinlogPosition; seq: number }> = [];
  private inFlight = 0;
  private pendingChanges = 0;
  /** Entries queued by the copy and not yet applied (see addExternal). */
  externalPending = 0;
  received: BinlogPosition;
  applied: BinlogPosition;
  eventsApplied = 0;

  constructor(start: BinlogPosition) {
    this.received = start;
    this.applied = start;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Row changes received and not yet applied. */
  get backlog(): number {
    return this.pendingChanges;
  }

  add(key: KeyTuple): void {
    this.pendingChanges++;
    const id = keyId(key);
    const e = this.entries.get(id);
    if (e) {
      e.changes++;
      return;
    }
    this.entries.set(id, { key, seq: ++this.seq, changes: 1 });
  }

  /**
   * A key the copy skipped (a unique conflict that may be transient): it
   * must go through the strict apply, and no caught-up claim may pass it.
   */
  addExternal(key: KeyTuple): void {
    const id = keyId(key);
    const e = this.entries.get(id);
    if (e?.external) return;
    this.externalPending++;
    if (e) e.external = true;
    else this.entries.set(id, { key, seq: ++this.seq, changes: 0, external: true });
  }

  /** A commit (or any transaction boundary) at `pos` was received: every event before it is queued. */
  commit(pos: BinlogPosition): void {
    if (comparePositions(pos, this.received) <= 0) return;
    this.received = pos;
    if (this.entries.size === 0 && this.inFlight === 0) {
      this.applied = pos;
      this.commits = [];
    } else this.commits.push({ pos, seq: this.seq });
  }

  /** The oldest `max` keys (all when max is Infinity); they leave the queue now. */
  take(max: number): Batch {
    const keys: KeyTuple[] = [];
    let maxSeq = 0;
    let changes = 0;
    const external: KeyTuple[] = [];
    for (const [id, e] of this.entries) {
      if (keys.length >= max) break;
      keys.push(e.key);
      if (e.external) external.push(e.key);
      maxSeq = e.seq;
      changes += e.changes;
      this.entries.delete(id);
    }
    if (keys.length) this.inFlight++;
    return { keys, maxSeq, changes, external };
  }

  /** The batch is applied: commits whose keys all had seq <= maxSeq are now applied. */
  done(batch: Batch): void {
    if (!batch.keys.length) return;
    this.inFlight--;
    this.eventsApplied += batch.changes;
    this.pendingChanges -= batch.changes;
    this.externalPending -= batch.external.length;
    while (this.commits.length && this.commits[0]!.seq <= batch.maxSeq && this.inFlight === 0) {
      this.applied = this.commits.shift()!.pos;
    }
    if (this.entries.size === 0 && this.inFlight === 0) {
      this.applied = this.received;
      this.commits = [];
    }
  }

  /** The batch failed: its keys go back to the front, in their order. */
  requeue(batch: Batch): void {
    if (!batch.keys.length) return;
    this.inFlight--;
    const front = new Map<string, Entry>();
    const ext = new Set(batch.external.map(keyId));
    for (const key of batch.keys) front.set(keyId(key), { key, seq: 0, changes: 0, external: ext.has(keyId(key)) });
    for (const [id, e] of this.entries) {
      const f = front.get(id);
      if (f) {
        f.changes += e.changes;
        // Counted once: the batch's flag already stands for it.
        if (e.external && f.external) this.externalPending--;
        else if (e.external) f.external = true;
      } else front.set(id, e);
    }
    // Spread the batch's change count over its first entry; seq 0 keeps them
    // below every commit marker they belong to.
    const first = front.values().next().value;
    if (first) first.changes += batch.changes;
    this.entries = front;
  }

  /** Drops everything (after the swap the events belong to the new table). */
  clear(): void {
    this.entries.clear();
    this.commits = [];
    this.pendingChanges = 0;
    this.externalPending = 0;
  }
}
