/**
 * The change backlog, engine-neutral: the KEYS of changed rows, deduplicated,
 * plus the stream positions of the commits received. A key is applied by
 * re-reading the original's CURRENT row, so one queued entry stands for
 * every later event of the same key that arrives before the entry is taken
 * (its commit precedes the re-read). Memory is bounded by distinct keys, not
 * by events, and by the high/low-water marks the stream obeys.
 *
 * Positions: a commit is applied once every event received before it is
 * handled (written to the ghost, or left to the copy). Entries may be handled
 * out of order (a key inside an in-flight chunk waits while later keys go
 * through), so the applied position is the last commit before the OLDEST
 * entry still queued or in flight, never simply the last batch's.
 */
import type { KeyTuple } from '../engine/engine.js';

export interface BacklogEntry {
  key: KeyTuple;
  /** Sequence number of the oldest event this entry stands for. */
  seq: number;
  /** Row events this entry stands for (statistics and the copy's backlog limit). */
  changes: number;
  /** Queued by the copy, not by an event (a row it had to skip): no commit covers it. */
  external: boolean;
  /** Engine tokens that must be visible before the key is re-read (PostgreSQL: xids). */
  tokens: number[];
}

export interface BacklogBatch {
  entries: BacklogEntry[];
  /** A whole-table event (TRUNCATE) is part of this batch: apply it first, alone with the copy. */
  truncate: boolean;
  truncateSeq: number;
  /** Tokens of the TRUNCATE's transaction. */
  truncateTokens: number[];
}

export interface WaterMarks {
  /** Distinct keys above which the stream must stop reading. */
  high: number;
  /** ... and below which it may read again. */
  low: number;
}

/** A stable text id of a key tuple (Buffers by bytes, everything else by its text). */
export function keyId(key: KeyTuple): string {
  return key.map((v) => (Buffer.isBuffer(v) ? `b:${v.toString('hex')}` : v === null || v === undefined ? 'n:' : `s:${String(v)}`)).join('\u0000');
}

export class ChangeBacklog<P> {
  private entries = new Map<string, BacklogEntry>();
  private seq = 0;
  /** Commits not yet applied, in stream order; `seq`: the last event before the commit. */
  private commits: Array<{ pos: P; seq: number; n: number }> = [];
  private inFlight = new Set<BacklogBatch>();
  private pendingChanges = 0;
  /** Sequence of a TRUNCATE not yet applied (0: none). */
  private truncateSeq = 0;
  private truncateTokens: number[] = [];
  private commitCount = 0;
  /** Oldest sequence queued or in flight; null when it must be recomputed. */
  private oldestSeq: number | null = Infinity;
  private paused = false;
  /** Entries queued by the copy and not yet applied (see addExternal). */
  externalPending = 0;
  received: P;
  applied: P;
  /** Commits applied so far (a count: markers compare against it). */
  appliedCommits = 0;
  eventsApplied = 0;

  private readonly compare: (a: P, b: P) => number;
  private readonly marks: WaterMarks;
  private readonly onPressure: (pause: boolean) => void;
  private readonly onApplied: (pos: P) => void;

  constructor(o: {
    start: P;
    compare: (a: P, b: P) => number;
    marks: WaterMarks;
    /** Called with true above the high-water mark, false back below the low one. */
    onPressure?: (pause: boolean) => void;
    /** Called when the applied position moves (acknowledge it to the server). */
    onApplied?: (pos: P) => void;
  }) {
    this.received = o.start;
    this.applied = o.start;
    this.compare = o.compare;
    this.marks = o.marks;
    this.onPressure = o.onPressure ?? (() => undefined);
    this.onApplied = o.onApplied ?? (() => undefined);
  }

  /** Distinct keys queued (not counting batches in flight). */
  get size(): number {
    return this.entries.size;
  }

  /** Row changes received and not yet applied. */
  get backlog(): number {
    return this.pendingChanges;
  }

  get receivedCommits(): number {
    return this.commitCount;
  }

  get hasTruncate(): boolean {
    return this.truncateSeq > 0;
  }

  /** A row event for `key` (token: what must be visible before it is re-read). */
  add(key: KeyTuple, token?: number): void {
    this.pendingChanges++;
    const id = keyId(key);
    const e = this.entries.get(id);
    if (e) {
      e.changes++;
      if (token !== undefined && !e.tokens.includes(token)) e.tokens.push(token);
    } else {
      this.entries.set(id, { key, seq: ++this.seq, changes: 1, external: false, tokens: token === undefined ? [] : [token] });
      if (this.oldestSeq === Infinity) this.oldestSeq = this.seq;
    }
    if (!this.paused && this.entries.size > this.marks.high) {
      this.paused = true;
      this.onPressure(true);
    }
  }

  /** The table was emptied: the ghost must be emptied before any later key is applied. */
  truncate(token?: number): void {
    this.seq++;
    if (token !== undefined) this.truncateTokens.push(token);
    if (!this.truncateSeq) this.truncateSeq = this.seq;
    this.oldestSeq = null;
  }

  /**
   * A key the copy skipped (a unique conflict that may be transient): it
   * must be applied like a changed key, and no caught-up claim may pass it.
   */
  addExternal(key: KeyTuple): void {
    const id = keyId(key);
    const e = this.entries.get(id);
    if (e?.external) return;
    this.externalPending++;
    if (e) e.external = true;
    else this.entries.set(id, { key, seq: ++this.seq, changes: 0, external: true, tokens: [] });
    this.oldestSeq = null;
  }

  /** A commit (or any transaction boundary) at `pos` was received: every event before it is queued. */
  commit(pos: P): void {
    if (this.compare(pos, this.received) <= 0) return;
    this.received = pos;
    this.commitCount++;
    const last = this.commits[this.commits.length - 1];
    // No event since the previous boundary: one entry stands for both.
    if (last && last.seq === this.seq) {
      last.pos = pos;
      last.n = this.commitCount;
    } else this.commits.push({ pos, seq: this.seq, n: this.commitCount });
    this.advance();
  }

  /**
   * Up to `max` entries, oldest first, that `accept` lets go now; the others
   * stay queued in place (a key inside an in-flight chunk waits for it).
   */
  take(max: number, accept: (key: KeyTuple) => boolean = () => true): BacklogBatch {
    const entries: BacklogEntry[] = [];
    for (const [id, e] of this.entries) {
      if (entries.length >= max) break;
      if (!accept(e.key)) continue;
      entries.push(e);
      this.entries.delete(id);
    }
    const batch = { entries, truncate: this.truncateSeq > 0, truncateSeq: this.truncateSeq, truncateTokens: this.truncateTokens };
    this.truncateSeq = 0;
    this.truncateTokens = [];
    if (entries.length || batch.truncate) this.inFlight.add(batch);
    this.oldestSeq = null;
    return batch;
  }

  /** The batch is handled, except `requeue` (keys that must wait: they go back with their sequence). */
  done(batch: BacklogBatch, requeue: readonly BacklogEntry[] = []): void {
    if (!this.inFlight.delete(batch)) return;
    const back = new Set(requeue);
    for (const e of batch.entries) {
      if (back.has(e)) continue;
      this.eventsApplied += e.changes;
      this.pendingChanges -= e.changes;
      if (e.external) this.externalPending--;
    }
    for (const e of requeue) this.putBack(e);
    this.oldestSeq = null;
    this.advance();
  }

  /** The batch failed: every entry goes back (its truncate too). */
  requeue(batch: BacklogBatch): void {
    if (!this.inFlight.delete(batch)) return;
    if (batch.truncate) {
      this.truncateSeq = this.truncateSeq ? Math.min(this.truncateSeq, batch.truncateSeq) : batch.truncateSeq;
      this.truncateTokens.push(...batch.truncateTokens);
    }
    for (const e of batch.entries) this.putBack(e);
    this.oldestSeq = null;
    this.advance();
  }

  private putBack(e: BacklogEntry): void {
    const id = keyId(e.key);
    const newer = this.entries.get(id);
    if (!newer) {
      this.entries.set(id, e);
      return;
    }
    // Events for the key arrived meanwhile: one entry, the older sequence.
    newer.seq = Math.min(newer.seq, e.seq);
    newer.changes += e.changes;
    for (const t of e.tokens) if (!newer.tokens.includes(t)) newer.tokens.push(t);
    if (e.external && newer.external) this.externalPending--;
    else if (e.external) newer.external = true;
  }

  /** Moves the applied position past every commit whose events are all handled. */
  private advance(): void {
    const oldest = (this.oldestSeq ??= this.computeOldest());
    let moved = false;
    while (this.commits.length && this.commits[0]!.seq < oldest) {
      const c = this.commits.shift()!;
      this.applied = c.pos;
      this.appliedCommits = c.n;
      moved = true;
    }
    if (moved) this.onApplied(this.applied);
    if (this.paused && this.entries.size <= this.marks.low) {
      this.paused = false;
      this.onPressure(false);
    }
  }

  private computeOldest(): number {
    let oldest = this.truncateSeq || Infinity;
    for (const e of this.entries.values()) if (e.seq < oldest) oldest = e.seq;
    for (const b of this.inFlight) {
      if (b.truncate && b.truncateSeq < oldest) oldest = b.truncateSeq;
      for (const e of b.entries) if (e.seq < oldest) oldest = e.seq;
    }
    return oldest;
  }

  /**
   * Entries applied in a transaction that then rolled back (a failed
   * cut-over): they are pending again. Positions already acknowledged stay
   * so; the run is failing over to a retry of the cut-over in this process.
   */
  redo(entries: readonly BacklogEntry[]): void {
    for (const e of entries) {
      this.pendingChanges += e.changes;
      this.eventsApplied -= e.changes;
      if (e.external) this.externalPending++;
      this.putBack(e);
    }
    this.oldestSeq = null;
  }

  /** Drops everything (after the swap the events belong to the new table). */
  clear(): void {
    this.entries.clear();
    this.inFlight.clear();
    this.commits = [];
    this.pendingChanges = 0;
    this.externalPending = 0;
    this.truncateSeq = 0;
    this.truncateTokens = [];
    this.oldestSeq = Infinity;
    if (this.paused) {
      this.paused = false;
      this.onPressure(false);
    }
  }
}
