/**
 * The MySQL/MariaDB SQL of the engine-neutral applier (core/change-applier.ts):
 * for a batch of distinct keys, delete them from the ghost and re-insert
 * those still in the original with their current values, read by SQL in the
 * same statement (rows never leave the server). Replaying a batch twice is
 * harmless.
 *
 * Visibility (DESIGN §2): a transaction is in the binlog before its commit is
 * visible, so every read of the original here LOCKS IN SHARE MODE: it waits
 * for the writer's row locks, i.e. for the commit. Keys the copy had not
 * reached are read that way first (key columns only), and only then placed
 * against the copy (settle): a chunk that starts after this read sees the
 * commit.
 *
 * Not REPLACE (as gh-ost applies): REPLACE deletes whatever ghost row
 * collides on ANY unique key, so a unique key the ALTER adds over duplicate
 * data would silently lose rows. A plain INSERT after deleting the batch's
 * keys fails instead; a collision that is transient (the other row's fix is
 * still queued) is retried with the whole backlog before it counts as real.
 */
import type { Pool, PoolConnection, Connection } from 'mysql2/promise';
import type { Logger } from '../../log.js';
import { GhostwrightError } from '../../errors.js';
import type { CopyPlan } from '../../core/columns.js';
import type { ApplySql, ApplyWork } from '../../core/change-applier.js';
import type { KeyTuple, TableRef } from '../engine.js';
import { buildApplyDelete, buildApplyInsert, buildLockKeys } from './sql.js';
import { BENIGN_WARNINGS, comparePositions, currentBinlogPosition, queryExec, queryRows, type BinlogPosition } from './connect.js';
import type { BinlogStream } from './stream.js';

export const APPLY_BATCH = 1000;
/** A duplicate on another unique key may be transient (its fix is still queued); retry this often before failing. */
const DUP_RETRIES = 10;
const LOCK_RETRIES = 50;
/** How long a lagging stream may keep a duplicate from counting as real. */
const DUP_LAG_MS = 120_000;

export interface ApplierOptions {
  pool: Pool;
  /** Prepares a pooled session for key values (the UTC zone of a TIMESTAMP key). */
  session: (conn: PoolConnection) => Promise<PoolConnection>;
  stream: BinlogStream;
  source: TableRef;
  ghost: TableRef;
  plan: CopyPlan;
  log: Logger;
}

export class MysqlApplySql implements ApplySql {
  private dupFailures = 0;
  /** Binlog end when the current streak of duplicates began (see streamBehindDuplicate). */
  private dupTarget: { pos: BinlogPosition; since: number } | null = null;
  private lockFailures = 0;

  constructor(private readonly o: ApplierOptions) {}

  /** After a duplicate, take everything: the row that conflicts is likely queued too. */
  batchSize(): number {
    return this.dupFailures > 0 || this.dupTarget ? APPLY_BATCH * 20 : APPLY_BATCH;
  }

  async apply(work: ApplyWork): Promise<boolean> {
    const conn = await this.o.session(await this.o.pool.getConnection());
    try {
      return await this.applyOn(conn, work, false);
    } finally {
      conn.release();
    }
  }

  /**
   * Applies one batch on `conn`, in one transaction; false: rolled back on a
   * transient conflict, retry. `locked`: conn holds LOCK TABLES with
   * autocommit off (the cut-over), where START TRANSACTION would release the
   * locks; its statements already form a transaction.
   */
  async applyOn(conn: PoolConnection | Connection, work: ApplyWork, locked: boolean): Promise<boolean> {
    try {
      await this.write(conn, work, locked);
      this.dupFailures = 0;
      this.dupTarget = null;
      this.lockFailures = 0;
      return true;
    } catch (err) {
      const e = err as { code?: string; message?: string };
      // The locking read can deadlock with the application's transactions; InnoDB
      // rolled our batch back, so it is simply retried.
      if ((e.code === 'ER_LOCK_DEADLOCK' || e.code === 'ER_LOCK_WAIT_TIMEOUT') && ++this.lockFailures <= LOCK_RETRIES) {
        this.o.log.debug({ attempt: this.lockFailures, code: e.code }, 'apply: lock conflict, retrying the batch');
        return false;
      }
      // While the stream lags behind the binlog position seen at the first
      // duplicate, the change that frees the value is probably not received
      // yet: such retries don't count. Counting them failed a healthy run with
      // E_UNIQUE_CONFLICT whenever the stream lagged > ~1 s (big unrelated
      // transactions in the binlog) while rows swapped unique values.
      if (e.code === 'ER_DUP_ENTRY' && (await this.streamBehindDuplicate(conn))) {
        this.o.log.debug({ msg: e.message }, 'apply: duplicate on another unique key while the stream lags; waiting for it');
        await this.o.stream.waitForActivity(50);
        return false;
      }
      if (e.code === 'ER_DUP_ENTRY' && ++this.dupFailures <= DUP_RETRIES) {
        this.o.log.debug({ attempt: this.dupFailures, msg: e.message }, 'apply: duplicate on another unique key, retrying with the whole backlog');
        await new Promise((r) => setTimeout(r, 20 * this.dupFailures));
        return false;
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

  private spec(keys: readonly KeyTuple[]) {
    const plan = this.o.plan;
    return { source: this.o.source, ghost: this.o.ghost, pairs: plan.mapping.pairs, sourceKey: plan.sourceKey, targetKey: plan.targetKey, keys, index: plan.keyName };
  }

  private async write(conn: PoolConnection | Connection, work: ApplyWork, locked: boolean): Promise<void> {
    if (!locked) await conn.query('START TRANSACTION');
    try {
      let keys = work.write;
      if (work.ahead.length) {
        // Wait for the commits of the keys the copy may still read, then place them.
        const lock = buildLockKeys(this.spec(work.ahead));
        await queryRows(conn, lock.sql, lock.params);
        keys = [...keys, ...work.settle()];
      }
      if (keys.length) {
        const spec = this.spec(keys);
        const del = buildApplyDelete(spec);
        const ins = buildApplyInsert(spec);
        await queryExec(conn, del.sql, del.params);
        const res = await queryExec(conn, ins.sql, ins.params);
        if (res.warningStatus > 0) {
          const warnings = (await queryRows(conn, 'SHOW WARNINGS')).filter((w) => !BENIGN_WARNINGS.has(Number(w.Code)));
          if (warnings.length) throw new GhostwrightError('E_APPLY_DATA_LOSS', `the new column types would change values: ${warnings.map((w) => String(w.Message)).slice(0, 3).join('; ')}`, {
            hint: 'the ALTER truncates or converts data lossily; fix the data or the ALTER',
          });
        }
      }
      await conn.query('COMMIT');
    } catch (err) {
      await conn.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }
}
