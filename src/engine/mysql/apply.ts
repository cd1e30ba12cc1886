/**
 * Applies the stream's backlog to the ghost, key-based (DESIGN §1.6): for a
 * batch of distinct keys, delete them from the ghost and re-insert those
 * still in the original with their current values, read by SQL. Replaying a
 * batch twice is harmless.
 *
 * Not REPLACE (as gh-ost applies): REPLACE deletes whatever ghost row
 * collides on ANY unique key, so a unique key the ALTER adds over duplicate
 * data would silently lose rows. A plain INSERT after deleting the batch's
 * keys fails instead; a collision that is transient (the other row's fix is
 * still queued) is retried with the whole backlog before it counts as real. Each batch runs inside CopyGate.apply so it never
 * overlaps a chunk copy (see core/copy-gate.ts).
 */
import type { Pool, PoolConnection, Connection } from 'mysql2/promise';
import type { Logger } from '../../log.js';
import { GhostwrightError } from '../../errors.js';
import type { CopyGate } from '../../core/copy-gate.js';
import type { CopyPlan } from '../../core/columns.js';
import type { TableRef } from '../engine.js';
import { buildApplyDelete, buildApplyInsert } from './sql.js';
import { BENIGN_WARNINGS, comparePositions, currentBinlogPosition, queryExec, queryRows, type BinlogPosition } from './connect.js';
import type { BinlogStream } from './stream.js';
import type { Batch } from './key-queue.js';

export const APPLY_BATCH = 1000;
/** A duplicate on another unique key may be transient (its fix is still queued); retry this often before failing. */
const DUP_RETRIES = 10;
const LOCK_RETRIES = 50;
/** How long a lagging stream may keep a duplicate from counting as real. */
const DUP_LAG_MS = 120_000;

export interface ApplierOptions {
  pool: Pool;
  stream: BinlogStream;
  gate: CopyGate;
  source: TableRef;
  ghost: TableRef;
  plan: CopyPlan;
  log: Logger;
}

export class Applier {
  private running = false;
  private loop: Promise<void> | null = null;
  /** Held during cut-over: the cut-over drains the backlog itself, while it holds the table. */
  private held = false;
  private dupFailures = 0;
  /** Binlog end when the current streak of duplicates began (see streamBehindDuplicate). */
  private dupTarget: { pos: BinlogPosition; since: number } | null = null;
  private lockFailures = 0;
  error: Error | null = null;

  constructor(private readonly o: ApplierOptions) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  hold(on: boolean): void {
    this.held = on;
  }

  private async run(): Promise<void> {
    const q = this.o.stream.queue;
    while (this.running && !this.error) {
      if (this.held || q.size === 0) {
        await this.o.stream.waitForActivity(50);
        continue;
      }
      await this.o.gate.apply(async () => {
        if (!this.running || this.held) return;
        const conn = await this.o.pool.getConnection();
        try {
          await this.applyNext(conn);
        } catch (err) {
          this.error = err as Error;
          this.o.log.error({ err }, 'applying the backlog failed');
        } finally {
          conn.release();
        }
      });
    }
  }

  /**
   * Takes one batch and applies it on `conn`, in one transaction. Returns
   * false when the queue was empty. `locked`: conn holds LOCK TABLES with
   * autocommit off (the cut-over), where START TRANSACTION would release the
   * locks; its statements already form a transaction.
   */
  async applyNext(conn: PoolConnection | Connection, locked = false): Promise<boolean> {
    const q = this.o.stream.queue;
    // After a duplicate, take everything: the row that conflicts is likely queued too.
    const batch = q.take(this.dupFailures > 0 || this.dupTarget ? APPLY_BATCH * 20 : APPLY_BATCH);
    if (!batch.keys.length) return false;
    try {
      await this.applyBatch(conn, batch, locked);
      this.dupFailures = 0;
      this.dupTarget = null;
      this.lockFailures = 0;
      q.done(batch);
      this.o.stream.maybeResume();
      return true;
    } catch (err) {
      q.requeue(batch);
      const e = err as { code?: string; message?: string };
      // The locking read can deadlock with the application's transactions; InnoDB
      // rolled our batch back, so it is simply retried.
      if ((e.code === 'ER_LOCK_DEADLOCK' || e.code === 'ER_LOCK_WAIT_TIMEOUT') && ++this.lockFailures <= LOCK_RETRIES) {
        this.o.log.debug({ attempt: this.lockFailures, code: e.code }, 'apply: lock conflict, retrying the batch');
        return true;
      }
      // While the stream lags behind the binlog position seen at the first
      // duplicate, the change that frees the value is probably not received
      // yet: such retries don't count. Counting them failed a healthy run with
      // E_UNIQUE_CONFLICT whenever the stream lagged > ~1 s (big unrelated
      // transactions in the binlog) while rows swapped unique values.
      if (e.code === 'ER_DUP_ENTRY' && (await this.streamBehindDuplicate(conn))) {
        this.o.log.debug({ msg: e.message }, 'apply: duplicate on another unique key while the stream lags; waiting for it');
        await this.o.stream.waitForActivity(50);
        return true;
      }
      if (e.code === 'ER_DUP_ENTRY' && ++this.dupFailures <= DUP_RETRIES) {
        this.o.log.debug({ attempt: this.dupFailures, msg: e.message }, 'apply: duplicate on another unique key, retrying with the whole backlog');
        await new Promise((r) => setTimeout(r, 20 * this.dupFailures));
        return true;
      }
      if (e.code === 'ER_DUP_ENTRY') {
        throw new GhostwrightError('E_UNIQUE_CONFLICT', `the new table's unique key rejects rows of the original: ${e.message}`, {
          cause: err,
          hint: 'the data violates a unique key the ALTER adds; de-duplicate the original first',
        });
      }
      throw err;
    }
  }

  /**
   * True while the stream has not yet received everything up to the binlog
   * end as of the first duplicate of this streak (at most DUP_LAG_MS): every
   * change committed before the failing read is before that position.
   */
  private async streamBehindDuplicate(conn: PoolConnection | Connection): Promise<boolean> {
    if (!this.dupTarget) this.dupTarget = { pos: await currentBinlogPosition(conn), since: Date.now() };
    if (Date.now() - this.dupTarget.since > DUP_LAG_MS) return false;
    return comparePositions(this.o.stream.queue.received, this.dupTarget.pos) < 0;
  }

  private async applyBatch(conn: PoolConnection | Connection, batch: Batch, locked: boolean): Promise<void> {
    const plan = this.o.plan;
    const spec = { source: this.o.source, ghost: this.o.ghost, pairs: plan.mapping.pairs, sourceKey: plan.sourceKey, targetKey: plan.targetKey, keys: batch.keys, index: plan.keyName };
    const del = buildApplyDelete(spec);
    const ins = buildApplyInsert(spec);
    if (!locked) await conn.query('START TRANSACTION');
    try {
      await queryExec(conn, del.sql, del.params);
      const res = await queryExec(conn, ins.sql, ins.params);
      if (res.warningStatus > 0) {
        const warnings = (await queryRows(conn, 'SHOW WARNINGS')).filter((w) => !BENIGN_WARNINGS.has(Number(w.Code)));
        if (warnings.length) throw new GhostwrightError('E_APPLY_DATA_LOSS', `the new column types would change values: ${warnings.map((w) => String(w.Message)).slice(0, 3).join('; ')}`, {
          hint: 'the ALTER truncates or converts data lossily; fix the data or the ALTER',
        });
      }
      await conn.query('COMMIT');
    } catch (err) {
      await conn.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /** Cut-over: applies everything queued now, on the cut-over's locking session (the background loop is held). */
  async drainLocked(conn: Connection): Promise<void> {
    while (await this.applyNext(conn, true)) {
      /* keep going */
    }
  }
}
