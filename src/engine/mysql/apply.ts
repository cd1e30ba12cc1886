/**
 * The MySQL/MariaDB SQL of the engine-neutral applier (core/change-applier.ts):
 * for a batch of distinct keys, delete them from the ghost and re-insert
 * those still in the original with their current values, read by SQL in the
 * same statement (rows never leave the server). Replaying a batch twice is
 * harmless.
 *
 * Visibility (DESIGN §2): a transaction is in the binlog before its commit is
 * visible. Before its transaction, a batch therefore makes sure every
 * commit it received is visible (awaitCommits): by a barrier write where the
 * server commits in binlog order, else by locking reads of its keys. Only
 * then the keys the copy had not reached are placed against the copy
 * (settle), so a chunk that starts afterwards sees the commits, and the rows
 * are read by the INSERT's consistent read, which sees them too and locks
 * nothing of the application's.
 *
 * Not REPLACE (as gh-ost applies): REPLACE deletes whatever ghost row
 * collides on ANY unique key, so a unique key the ALTER adds over duplicate
 * data would silently lose rows. A plain INSERT after deleting the batch's
 * keys fails instead. A collision is usually transient: the batch's rows are
 * read as they are NOW, newer than the stream, and the ghost row they collide
 * with is stale because the change that freed the value is not applied yet.
 * The colliding ghost rows are found and refreshed from the original with the
 * batch (a row in the ghost is always one the copy passed, and reading its
 * current state early is what applying its pending change will do anyway);
 * only a collision that survives that, with the stream caught up, is real.
 */
import type { Pool, PoolConnection, Connection } from 'mysql2/promise';
import type { Logger } from '../../log.js';
import { GhostwrightError } from '../../errors.js';
import type { CopyPlan } from '../../core/columns.js';
import type { ApplySql, ApplyWork } from '../../core/change-applier.js';
import type { KeyTuple, ServerInfo, TableRef } from '../engine.js';
import { qualified } from './ident.js';
import { buildApplyDelete, buildApplyInsert, buildCollidingKeys, buildLockKeys, skipLockedClause, type SkipLockedClause } from './apply-sql.js';
import { buildChangelogWrite } from './sql.js';
import { BENIGN_WARNINGS, comparePositions, currentBinlogPosition, queryExec, queryRows, type BinlogPosition } from './connect.js';
import type { BinlogStream } from './stream.js';
import { ReconnectBudget } from '../../core/reconnect.js';

export const APPLY_BATCH = 1000;
/** A duplicate on another unique key may be transient (its fix is still queued); retry this often before failing. */
const DUP_RETRIES = 10;
const LOCK_RETRIES = 50;
/** The changelog row the barrier writes (awaitCommits). */
export const BARRIER_HINT = 'apply-barrier';
/** How often the server's commit order setting is read again (a DBA may change it while we run). */
const ORDER_CHECK_MS = 5000;
/** How long a lagging stream may keep a duplicate from counting as real. */
const DUP_LAG_MS = 120_000;
/** Rounds of refreshing colliding ghost rows before a duplicate is judged by the retry rules alone. */
const REFRESH_ROUNDS = 50;

const tupleId = (k: KeyTuple) => JSON.stringify(k, (_n, v: unknown) => (typeof v === 'bigint' ? v.toString() : Buffer.isBuffer(v) ? v.toString('hex') : v));
/** tupleId with numbers as text: a key from the binlog and the same key read back by SQL may differ in JS type only (a BIGINT). */
const keyText = (k: readonly unknown[]) => tupleId(k.map((v) => (typeof v === 'number' || typeof v === 'bigint' ? String(v) : v)) as KeyTuple);

export interface ApplierOptions {
  pool: Pool;
  /** Prepares a pooled session for key values (the UTC zone of a TIMESTAMP key). */
  session: (conn: PoolConnection) => Promise<PoolConnection>;
  stream: BinlogStream;
  source: TableRef;
  ghost: TableRef;
  plan: CopyPlan;
  /** The run's changelog: the barrier's row (awaitCommits). Without it, commits are awaited by locking reads. */
  changelog?: TableRef;
  /** The server (its flavor and version decide how commits are awaited). */
  server: Pick<ServerInfo, 'flavor' | 'versionNumber'>;
  log: Logger;
}

export class MysqlApplySql implements ApplySql {
  private dupFailures = 0;
  /** Binlog end when the current streak of duplicates began (see streamBehindDuplicate). */
  private dupTarget: { pos: BinlogPosition; since: number } | null = null;
  private lockFailures = 0;
  /** Ghost keys that collided with the failed batch: refreshed with the next attempt. */
  private refresh: KeyTuple[] = [];
  private refreshRounds = 0;
  /** The keys of the last attempt's write, for finding what they collided with. */
  private lastKeys: readonly KeyTuple[] = [];
  private readonly uniqueKeys = new Map<string, string[] | null>();
  /** The server's non-waiting locking read, if it has one. */
  private readonly skipLocked: SkipLockedClause;
  /** The server commits in binlog order (MariaDB always; MySQL with binlog_order_commits=ON), as of orderCheckedAt. */
  private ordered: boolean;
  private orderCheckedAt = 0;
  private barriers = 0;
  /** Batches rolled back and retried, for the run's stats. */
  readonly retries = { lockRetries: 0, dupRetries: 0 };

  /** A short loss of the server is ridden out (core/reconnect.ts). */
  private readonly lost = new ReconnectBudget();

  constructor(private readonly o: ApplierOptions) {
    const mariadb = o.server.flavor === 'mariadb';
    this.skipLocked = skipLockedClause(mariadb ? 'mariadb' : 'mysql', o.server.versionNumber);
    this.ordered = mariadb;
  }

  /** After a duplicate, take everything: the row that conflicts is likely queued too. */
  batchSize(): number {
    return this.dupFailures > 0 || this.dupTarget ? APPLY_BATCH * 20 : APPLY_BATCH;
  }

  async apply(work: ApplyWork): Promise<boolean> {
    try {
      const conn = await this.o.session(await this.o.pool.getConnection());
      try {
        const done = await this.applyOn(conn, work, false);
        this.lost.ok();
        return done;
      } finally {
        conn.release();
      }
    } catch (err) {
      // The server went away for a moment (restart, KILL, network): the
      // transaction rolled back (or, if its COMMIT went through unseen,
      // applying it again is harmless); the batch is retried.
      if (!this.lost.tolerate(err)) throw err;
      this.o.log.warn({ err }, 'apply: connection lost; retrying the batch');
      await new Promise((r) => setTimeout(r, 500));
      return false;
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
      this.refresh = [];
      this.refreshRounds = 0;
      return true;
    } catch (err) {
      const e = err as { code?: string; message?: string };
      if (e.code === 'ER_DUP_ENTRY') this.retries.dupRetries++;
      // The locking read can deadlock with the application's transactions; InnoDB
      // rolled our batch back, so it is simply retried.
      if ((e.code === 'ER_LOCK_DEADLOCK' || e.code === 'ER_LOCK_WAIT_TIMEOUT') && ++this.lockFailures <= LOCK_RETRIES) {
        this.retries.lockRetries++;
        this.o.log.debug({ attempt: this.lockFailures, code: e.code }, 'apply: lock conflict, retrying the batch');
        return false;
      }
      if (e.code === 'ER_DUP_ENTRY' && this.refreshRounds < REFRESH_ROUNDS && (await this.collectColliding(conn, e.message ?? ''))) {
        this.refreshRounds++;
        this.o.log.debug({ msg: e.message, refresh: this.refresh.length }, 'apply: duplicate with stale ghost rows; refreshing them with the batch');
        return false;
      }
      // While the stream lags behind the binlog position seen at the first
      // duplicate, the change that frees the value is probably not received
      // yet: such retries don't count. Counting them failed a healthy run with
      // E_APPLY_UNIQUE whenever the stream lagged > ~1 s (big unrelated
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
        throw new GhostwrightError('E_APPLY_UNIQUE', `the new table's unique key rejects rows of the original: ${e.message}`, {
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

  /**
   * Adds to `refresh` the ghost rows outside the failed batch that hold its
   * rows' values of the unique key named in the error; true when it found new
   * ones. A failure of this diagnostic read only means no help from it.
   */
  private async collectColliding(conn: PoolConnection | Connection, message: string): Promise<boolean> {
    const name = /for key '(?:[^']*\.)?([^'.]*)'$/.exec(message)?.[1];
    if (!name || this.lastKeys.length === 0) return false;
    try {
      const uniqueKey = await this.uniqueKeyColumns(conn, name);
      const q = uniqueKey && buildCollidingKeys({ ...this.spec(this.lastKeys), uniqueKey });
      if (!q) return false;
      const [rows] = await conn.query({ sql: q.sql, rowsAsArray: true }, q.params);
      const known = new Set(this.refresh.map(tupleId));
      let added = false;
      for (const k of rows as unknown[][]) {
        if (known.has(tupleId(k))) continue;
        known.add(tupleId(k));
        this.refresh.push(k);
        added = true;
      }
      return added;
    } catch (err) {
      this.o.log.debug({ err: (err as Error).message }, 'apply: could not look up the colliding ghost rows');
      return false;
    }
  }

  private async uniqueKeyColumns(conn: PoolConnection | Connection, name: string): Promise<string[] | null> {
    if (!this.uniqueKeys.has(name)) {
      const rows = await queryRows(conn, `SHOW INDEX FROM ${qualified(this.o.ghost)} WHERE Key_name = ?`, [name]);
      const columns = rows.sort((a, b) => Number(a.Seq_in_index) - Number(b.Seq_in_index)).map((r) => String(r.Column_name));
      this.uniqueKeys.set(name, columns.length && rows.every((r) => Number(r.Non_unique) === 0 && r.Sub_part == null && r.Column_name != null) ? columns : null);
    }
    return this.uniqueKeys.get(name) ?? null;
  }

  private spec(keys: readonly KeyTuple[]) {
    const plan = this.o.plan;
    return { source: this.o.source, ghost: this.o.ghost, pairs: plan.mapping.pairs, sourceKey: plan.sourceKey, targetKey: plan.targetKey, keys, index: plan.keyName };
  }

  /**
   * Returns once the commit of every change the stream has received is
   * visible to reads that start afterwards (the batch's keys were all
   * received before this is called). Run before the batch's transaction.
   *
   * Where the server commits in binlog order, one barrier does it: a write
   * to the changelog, in autocommit. Its commit returns only after every
   * transaction earlier in the binlog has committed in the engine: MariaDB's
   * group commit runs the engines' commit_ordered in binlog order (the next
   * group's under LOCK_commit_ordered taken before LOCK_log is released),
   * as MySQL's commit stage does with binlog_order_commits=ON. No row of the
   * application is locked or waited for. Measured (test/integration/
   * mysql-visibility.test.ts): a read right after an event missed its commit
   * in ~1% of tries, and after the barrier in none.
   *
   * Otherwise (MySQL with binlog_order_commits=OFF, or no changelog: a
   * revert), locking reads of the keys wait for their writers, in autocommit
   * statements of their own so a shared lock lasts only while its read runs:
   * the keys free now are read without waiting (SKIP LOCKED), and the plain
   * read that may wait then covers only those a writer still holds (or that
   * are deleted), never holding a batch's worth of rows while it waits.
   */
  async awaitCommits(conn: PoolConnection | Connection, keys: readonly KeyTuple[]): Promise<void> {
    if (this.o.changelog && (await this.commitsOrdered(conn))) {
      const w = buildChangelogWrite(this.o.changelog, BARRIER_HINT, String(++this.barriers));
      await queryExec(conn, w.sql, w.params);
      return;
    }
    let wait = keys;
    if (this.skipLocked) {
      const q = buildLockKeys(this.spec(keys), this.skipLocked);
      const [rows] = await conn.query({ sql: q.sql, rowsAsArray: true }, q.params);
      const free = new Set((rows as unknown[][]).map(keyText));
      wait = keys.filter((k) => !free.has(keyText(k)));
    }
    if (wait.length) {
      const q = buildLockKeys(this.spec(wait));
      await queryRows(conn, q.sql, q.params);
    }
  }

  /** MariaDB always commits in binlog order; MySQL's setting is read again every ORDER_CHECK_MS. */
  private async commitsOrdered(conn: PoolConnection | Connection): Promise<boolean> {
    if (this.o.server.flavor === 'mariadb' || Date.now() - this.orderCheckedAt < ORDER_CHECK_MS) return this.ordered;
    this.ordered = Number((await queryRows(conn, 'SELECT @@GLOBAL.binlog_order_commits AS o'))[0]?.o) === 1;
    this.orderCheckedAt = Date.now();
    return this.ordered;
  }

  private async write(conn: PoolConnection | Connection, work: ApplyWork, locked: boolean): Promise<void> {
    // Wait for the commits of EVERY key first, then place the keys the copy
    // may still read. Only then the ghost is written: an INSERT ... SELECT
    // into a table with an AUTO_INCREMENT column holds the table's AUTO-INC
    // lock to the end of the statement (innodb_autoinc_lock_mode=1,
    // MariaDB's default), so an INSERT whose read waited for the
    // application's row locks stalled every copy chunk behind it (measured:
    // copy 14k rows/s under sysbench). Under the cut-over's LOCK TABLES
    // (`locked`, autocommit off: the statements already form a transaction)
    // no writer is left to wait for but those of the keys ahead, read as
    // before, in the transaction.
    const lockKeys = locked ? work.ahead : [...work.write, ...work.ahead, ...this.refresh];
    if (!locked && lockKeys.length) await this.awaitCommits(conn, lockKeys);
    if (!locked) await conn.query('START TRANSACTION');
    try {
      let keys = work.write;
      if (locked && lockKeys.length) {
        const lock = buildLockKeys(this.spec(lockKeys));
        await queryRows(conn, lock.sql, lock.params);
      }
      if (work.ahead.length) keys = [...keys, ...work.settle()];
      if (this.refresh.length) {
        const seen = new Set(keys.map(tupleId));
        keys = [...keys, ...this.refresh.filter((k) => !seen.has(tupleId(k)))];
      }
      this.lastKeys = keys;
      if (keys.length) {
        const spec = this.spec(keys);
        const del = buildApplyDelete(spec);
        const ins = buildApplyInsert(spec, locked);
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
