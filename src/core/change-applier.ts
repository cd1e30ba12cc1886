/**
 * The applier, engine-neutral: takes batches of changed keys from the
 * backlog, places them against the copy (copy-window.ts), and hands each
 * batch to the engine's ApplySql, which writes it in ONE transaction:
 *
 *   open the transaction; make every commit of the batch's keys visible to
 *   it (MySQL: a locking read, PostgreSQL: a snapshot that includes their
 *   xids); call settle(), which places the keys the copy had not reached;
 *   delete the keys from the ghost and insert their current rows from the
 *   original (rows never leave the server: exact types by construction).
 *
 * Positions are acknowledged by the backlog only once a batch is committed;
 * a failed batch goes back whole; keys a running chunk covers go back alone.
 */
import type { Logger } from '../log.js';
import type { KeyTuple } from '../engine/engine.js';
import type { BacklogBatch, BacklogEntry, ChangeBacklog } from './change-backlog.js';
import type { CopiedSpans, CopyWindow } from './copy-window.js';
import { newApplyStats, type ApplyStats } from './run-stats.js';

/** One batch as the engine writes it. */
export interface ApplyWork {
  /** Keys to write now. */
  write: KeyTuple[];
  /** Keys the copy had not reached when taken: make their commits visible, then settle(). */
  ahead: KeyTuple[];
  /** Engine tokens (PostgreSQL xids) that must be visible to the transaction. */
  tokens: number[];
  /** Empty the ghost first (the original was truncated). */
  truncate: boolean;
  /**
   * Called once the transaction sees every commit of the batch: returns the
   * ahead keys to write now as well (the copy passed them meanwhile). The
   * others are left to the copy or, when a chunk in flight covers them,
   * requeued.
   */
  settle(): KeyTuple[];
  /** SQL-side filter when the window can't place keys (inexact mode): write only copied keys. */
  copied: CopiedSpans | null;
}

/** The per-engine SQL of the applier. */
export interface ApplySql {
  /**
   * Writes one batch in one transaction. Returns false when it rolled back
   * on a transient conflict and should be retried (the batch is requeued);
   * throws when the run must fail.
   */
  apply(work: ApplyWork): Promise<boolean>;
  /** Keys per batch now (an engine may widen it after a conflict). */
  batchSize(): number;
  /** Resolves once every token's commit is visible to new snapshots (what apply() does first); lets pruneAhead() run while the engine can't write. */
  visible?(tokens: readonly number[]): Promise<void>;
}

export interface ApplierParts<P> {
  backlog: ChangeBacklog<P>;
  window: CopyWindow;
  sql: ApplySql;
  log: Logger;
  /** False while the engine can't write to the ghost yet (PostgreSQL: its key index is built after the copy); the keys wait, deduplicated. */
  ready?: () => boolean;
  /** Resolves on stream activity or after ms. */
  idle(ms: number): Promise<void>;
  /** The applier failed (the run must end): e.g. end the stream's waits. */
  onError?: (err: Error) => void;
}

/** How often keys ahead of the copy are settled while the engine can't write (pruneAhead). */
const PRUNE_MS = 100;

/**
 * While the copy runs, a batch smaller than the engine's batch size waits
 * until this long after the last one ended (see gatherMs).
 */
export const GATHER_MS = 200;

/**
 * TEST ONLY (GHOSTWRIGHT_TEST_GATHER_MS=0): batches as often as keys come,
 * so that the window tests meet chunks in flight as often as they can.
 */
function gatherLimitMs(): number {
  const v = process.env.GHOSTWRIGHT_TEST_GATHER_MS;
  return v !== undefined && Number.isFinite(Number(v)) ? Number(v) : GATHER_MS;
}

export class ChangeApplier<P> {
  private running = false;
  private loop: Promise<void> | null = null;
  private held = false;
  private busy: Promise<unknown> | null = null;
  /** When the last background batch ended (gatherMs). */
  private lastBatchAt = 0;
  private readonly gatherLimit = gatherLimitMs();
  /** Ends the idle wait at stop(): the cut-over waits for the loop, and an idle wait was up to 50 ms of it. */
  private wakeOnStop: () => void = () => undefined;
  private readonly stopped = new Promise<void>((resolve) => (this.wakeOnStop = resolve));
  /** After the copy, batches gather only while relaxed (relax()). */
  private relaxed = false;
  /** Ends a gathering wait early (relax(false): a catch-up is wanted now). */
  private wakeGather: () => void = () => undefined;
  error: Error | null = null;
  /** Counters for the run's stats (lock and duplicate retries are the engine's). */
  readonly stats: Omit<ApplyStats, 'lockRetries' | 'dupRetries'> = newApplyStats();

  constructor(private readonly p: ApplierParts<P>) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wakeOnStop();
    await this.loop;
  }

  /** Held: no background batch starts (the cut-over drains the backlog itself); resolves once the running one ended. */
  async hold(on: boolean): Promise<void> {
    this.held = on;
    if (on && this.busy) await this.busy.catch(() => undefined);
  }

  /**
   * Relaxed, batches gather (gatherMs) after the copy too: while the
   * cut-over is postponed nobody waits on the backlog, and batches taken as
   * keys come (a few keys each, hundreds a second) cost the application
   * about a third of its throughput, against a tenth when gathered
   * (measured: sysbench oltp_read_write, MariaDB, cut-over postponed).
   * Off again, the next batch goes at once.
   */
  relax(on: boolean): void {
    this.relaxed = on;
    if (!on) this.wakeGather();
  }

  private takeable(): boolean {
    const { backlog, window } = this.p;
    if (backlog.hasTruncate) return window.begun;
    if (backlog.size === 0 || !window.begun) return false;
    return true;
  }

  private async run(): Promise<void> {
    while (this.running && !this.error) {
      if (!this.held && this.p.ready && !this.p.ready()) {
        // At most every PRUNE_MS: the keys left to the copy meanwhile go in one pass.
        await this.pruneAhead();
        await Promise.race([new Promise((r) => setTimeout(r, PRUNE_MS)), this.stopped]);
        continue;
      }
      if (this.held || !this.takeable()) {
        await Promise.race([this.p.idle(50), this.stopped]);
        continue;
      }
      const gather = this.gatherMs();
      if (gather > 0) {
        this.stats.gatherMs += gather;
        await Promise.race([new Promise<void>((r) => setTimeout((this.wakeGather = r), gather)), this.stopped]);
        continue;
      }
      const work = this.applyOnce().catch((err: unknown) => {
        this.error = err as Error;
        this.p.log.error({ err }, 'applying the backlog failed');
        this.p.onError?.(this.error);
        return false;
      });
      this.busy = work;
      const did = await work;
      this.busy = null;
      this.lastBatchAt = Date.now();
      // Everything queued waits for chunks in flight: let them finish.
      if (!did) {
        this.stats.idleRounds++;
        await Promise.race([this.p.window.changed(50), this.stopped]);
      }
    }
  }

  /**
   * Milliseconds to wait for more keys before the next batch. Every batch
   * costs the same round trips and commit (a group commit, a binlog or WAL
   * flush) whatever its size, on the server the application shares: under a
   * steady trickle of writes, taking whatever is queued at once meant
   * batches of ~10 keys, 200 a second, the applier busy all the time and the
   * load losing a third of its throughput to it (measured with sysbench,
   * --max-share 15). Waiting up to GATHER_MS after the last batch lets the
   * keys gather (and a row written again meanwhile is applied once). Not
   * once the copy is done (the catch-up before verification and cut-over
   * is then on the clock) unless relaxed (relax()), nor when a full batch
   * is queued.
   */
  private gatherMs(): number {
    const { backlog, window } = this.p;
    if ((window.copyDone && !this.relaxed) || backlog.hasTruncate || backlog.size >= this.p.sql.batchSize()) return 0;
    return Math.max(0, this.lastBatchAt + this.gatherLimit - Date.now());
  }

  /**
   * While the engine can't write (ready() false, e.g. the ghost's key index
   * is built after the copy), the keys the copy has not reached are placed
   * as a batch would place them: once their commits are visible, those still
   * ahead of the copy are left to it (done: the copy will read them), the
   * others go back, held. Without it every key changed during the copy is
   * written after it, although the copy read about half of them anyway.
   * A failure only puts the keys back (the applier writes them later).
   */
  async pruneAhead(): Promise<boolean> {
    const { backlog, window, sql } = this.p;
    if (!sql.visible || !window.exact || !window.begun || backlog.hasTruncate || backlog.size === 0) return false;
    return window.batch(false, async () => {
      const batch = backlog.take(sql.batchSize(), (k) => window.place(k) === 'ahead');
      if (!batch.entries.length) {
        backlog.done(batch);
        return false;
      }
      try {
        await sql.visible!([...new Set(batch.entries.flatMap((e) => e.tokens))]);
      } catch (err) {
        backlog.requeue(batch);
        this.p.log.debug({ err }, 'applier: the keys ahead of the copy could not be settled now; they stay queued');
        return false;
      }
      const held = batch.entries.filter((e) => window.place(e.key) !== 'ahead');
      backlog.done(batch, held);
      this.stats.leftToCopy += batch.entries.length - held.length;
      return true;
    });
  }

  /** Takes one batch and applies it; false when nothing could be taken. */
  async applyOnce(): Promise<boolean> {
    const { backlog, window } = this.p;
    const exclusive = backlog.hasTruncate;
    const asked = Date.now();
    return window.batch(exclusive, async () => {
      this.stats.windowWaitMs += Date.now() - asked;
      if (this.held && !exclusive) return false;
      const batch = backlog.take(this.p.sql.batchSize(), (k) => window.place(k) !== 'wait');
      if (!batch.entries.length && !batch.truncate) return false;
      return this.applyBatch(batch, (w) => this.p.sql.apply(w));
    });
  }

  /**
   * Applies one taken batch through `write` (the background SQL, or the
   * cut-over's locked session); settles the backlog whatever happens.
   */
  async applyBatch(batch: BacklogBatch, write: (w: ApplyWork) => Promise<boolean>): Promise<boolean> {
    const { backlog, window } = this.p;
    const now: KeyTuple[] = [];
    const ahead: BacklogEntry[] = [];
    const tokens = new Set<number>(batch.truncateTokens);
    for (const e of batch.entries) {
      if (window.place(e.key) === 'apply') now.push(e.key);
      else ahead.push(e);
      for (const t of e.tokens) tokens.add(t);
    }
    const requeue: BacklogEntry[] = [];
    let settled = false;
    let late = 0;
    const work: ApplyWork = {
      write: now,
      ahead: ahead.map((e) => e.key),
      tokens: [...tokens],
      truncate: batch.truncate,
      copied: window.exact ? null : window.spans(),
      settle: () => {
        if (settled) throw new Error('settle() called twice');
        settled = true;
        const out: KeyTuple[] = [];
        for (const e of ahead) {
          const where = window.place(e.key);
          if (where === 'apply') out.push(e.key);
          else if (where === 'wait') requeue.push(e);
        }
        late = out.length;
        return out;
      },
    };
    let ok = false;
    const t0 = Date.now();
    try {
      ok = await write(work);
      if (ok && ahead.length && !settled) throw new Error('the engine applied a batch without settling the keys ahead of the copy');
    } finally {
      if (ok) backlog.done(batch, requeue);
      else backlog.requeue(batch);
      this.count(batch.entries.length, now.length + late, ahead.length - late - requeue.length, requeue.length, Date.now() - t0, ok);
    }
    return true;
  }

  private count(keys: number, written: number, left: number, requeued: number, ms: number, ok: boolean): void {
    const s = this.stats;
    s.batchMs += ms;
    s.maxBatchMs = Math.max(s.maxBatchMs, ms);
    if (!ok) return;
    s.batches++;
    s.keys += keys;
    s.written += written;
    s.leftToCopy += left;
    s.requeued += requeued;
    s.maxBatchKeys = Math.max(s.maxBatchKeys, keys);
    this.p.log.debug({ keys, written, left, requeued, ms }, 'apply batch');
  }

  /**
   * Applies everything queued now through `write` (the cut-over's session,
   * which holds the table: the copy is done, so every key is applied).
   */
  async drain(write: (w: ApplyWork) => Promise<boolean>): Promise<void> {
    const { backlog } = this.p;
    for (;;) {
      const batch = backlog.take(this.p.sql.batchSize());
      if (!batch.entries.length && !batch.truncate) return;
      await this.applyBatch(batch, write);
    }
  }
}
