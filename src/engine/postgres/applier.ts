/**
 * The applier: turns batches of changed keys into two statements on the
 * ghost — delete the keys that no longer exist in the original, upsert the
 * current rows of the others from the original. Both read the ORIGINAL by
 * SQL, so the ghost receives exactly what the server stores.
 *
 * Visibility: pgoutput sends a transaction once its commit record is flushed,
 * which can be a moment BEFORE the transaction becomes visible to other
 * snapshots (the committing backend still has to leave the proc array, and
 * waits for synchronous standbys first). Reading its keys too early would see
 * the old row and lose the change, so a batch runs in a REPEATABLE READ
 * transaction whose snapshot is first checked to include every transaction of
 * the batch; if not, it retries with a fresh snapshot.
 */
import type pg from 'pg';
import { GhostwrightError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { CopyGate } from '../../core/copy-gate.js';
import { qualified } from './ident.js';
import { applyDeleteSql, applyRemoveAllSql, applyUpsertSql, type CopiedSpans, type CopySpec } from './sql.js';
import { sqlState } from './connect.js';
import type { Batch, ChangeStream } from './stream.js';

const SUB_BATCH = 1000;
/** A unique violation on another key that lasts this long is real (the data breaks a constraint the ALTER added). */
const UNIQUE_RETRY_MS = 30_000;

/** True when every 32-bit xid is visible in a snapshot printed as 'xmin:xmax:xip,...' (xid8 values). */
export function xidsVisible(snapshot: string, xids: readonly number[]): boolean {
  const [, xmaxText, xipText] = snapshot.split(':');
  const xmax = Number(BigInt(xmaxText ?? '0') & 0xffffffffn);
  const running = new Set((xipText ?? '').split(',').filter(Boolean).map((x) => Number(BigInt(x) & 0xffffffffn)));
  for (const xid of xids) {
    if (xid === 0) continue;
    // modulo-2^32 comparison, as the server compares xids: xid precedes xmax
    const diff = (xmax - xid) >>> 0;
    if (diff === 0 || diff >= 0x80000000 || running.has(xid)) return false;
  }
  return true;
}

export class Applier {
  private paused = false;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private busy: Promise<void> | null = null;
  private uniqueFailingSince: number | null = null;

  constructor(
    private readonly pool: pg.Pool,
    private readonly stream: ChangeStream,
    private readonly spec: CopySpec,
    private readonly gate: CopyGate,
    private readonly log: Logger,
    /** Where the copy has been (read inside the gate, so no chunk moves it meanwhile); see CopiedSpans. */
    private readonly copied: () => CopiedSpans | null,
  ) {}

  /** Paused: nothing is applied (or left to the copy) until resume(), i.e. until the copy's ranges are known. */
  start(paused = false): void {
    this.paused = paused;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (this.paused || this.stream.error || this.stream.backlog === 0) {
        await this.stream.waitFor(() => this.stopped || (!this.paused && !this.stream.error && this.stream.backlog > 0), 200);
        continue;
      }
      const work = this.gate.apply(() => this.applyInBackground());
      this.busy = work;
      try {
        await work;
      } catch (err) {
        this.stream.error = err instanceof GhostwrightError ? err : new GhostwrightError('E_APPLY', `applying changes to the ghost failed: ${(err as Error).message}`, { cause: err });
        this.log.error({ err }, 'apply failed');
      } finally {
        this.busy = null;
      }
    }
  }

  private async applyInBackground(): Promise<void> {
    const batch = this.stream.take();
    if (!batch) return;
    const client = await this.pool.connect();
    let done = false;
    try {
      const deadline = Date.now() + 30_000;
      for (;;) {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
        const snap = await client.query<{ s: string }>('SELECT pg_current_snapshot()::text AS s');
        if (xidsVisible(snap.rows[0]!.s, batch.xids)) break;
        await client.query('ROLLBACK');
        if (Date.now() > deadline) throw new GhostwrightError('E_APPLY', 'committed transactions did not become visible within 30 s');
        await new Promise((r) => setTimeout(r, 2));
      }
      await this.applyBatch(client, batch, this.uniqueFailingSince !== null);
      await client.query('COMMIT');
      done = true;
      this.uniqueFailingSince = null;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      // A unique violation on ANOTHER unique key: rows of the batch swapped
      // values (retried in replace mode), or a row whose change we have not
      // received yet still holds the value in the ghost (retried once the
      // stream delivers it). Only a lasting one is an error.
      if (sqlState(err) === '23505') {
        this.uniqueFailingSince ??= Date.now();
        if (Date.now() - this.uniqueFailingSince < UNIQUE_RETRY_MS) {
          this.log.debug({ err }, 'unique violation while applying; retrying in replace mode');
          await new Promise((r) => setTimeout(r, 20));
          return;
        }
        throw new GhostwrightError('E_APPLY_UNIQUE', `applying changes violates a unique constraint of the new table for ${UNIQUE_RETRY_MS / 1000} s: ${(err as Error).message}`, {
          cause: err,
          hint: 'the data breaks a unique constraint the ALTER adds; fix the data or the ALTER',
        });
      }
      throw err;
    } finally {
      client.release();
      this.stream.finish(batch, done);
    }
  }

  /** Applies one batch on the given connection (inside whatever transaction it is in). */
  async applyBatch(client: pg.ClientBase, batch: Batch, replace = false): Promise<void> {
    // TRUNCATE of the original: empty the ghost; keys received since then
    // are in this batch or later ones and re-read from the original.
    if (batch.truncate) await client.query(`TRUNCATE ${qualified(this.spec.ghost)}`);
    // A widened key: only replace mode finds every ghost row of a key (see CopySpec.conflictKey).
    replace ||= !sameColumns(this.spec.conflictKey ?? this.spec.targetKey, this.spec.targetKey);
    if (replace) {
      // all deletes first, so rows that swapped unique values can't collide
      for (let i = 0; i < batch.keys.length; i += SUB_BATCH) {
        const del = applyRemoveAllSql(this.spec, batch.keys.slice(i, i + SUB_BATCH));
        await client.query(del.sql, del.params);
      }
    }
    // One view of the copy's progress for the whole batch: no chunk runs while a batch is applied.
    const copied = this.copied();
    for (let i = 0; i < batch.keys.length; i += SUB_BATCH) {
      const keys = batch.keys.slice(i, i + SUB_BATCH);
      const del = applyDeleteSql(this.spec, keys);
      if (!replace) await client.query(del.sql, del.params);
      const up = applyUpsertSql(this.spec, keys, copied);
      await client.query(up.sql, up.params);
    }
  }

  /**
   * Applies everything queued now on the given connection (the cut-over's,
   * which holds the lock, so the original is frozen).
   *
   * `final`: the cut-over's marker was received before this take, so every
   * change committed before the lock is in this batch or already applied; a
   * unique collision can then only be rows of the batch that swapped values,
   * which replace mode resolves. Before the marker arrives that is NOT so: the
   * batch reads its keys' final rows while changes of OTHER keys are still on
   * their way (a row that gave its unique value away still holds it in the
   * ghost until its own change is received). Such a collision used to fail the
   * whole cut-over (E_CUTOVER, not retried). Now the batch is rolled back to
   * the savepoint, its keys go back to the queue, and 'conflict' tells the
   * caller to wait for the marker before draining again.
   */
  async drainOn(client: pg.ClientBase, final = true): Promise<Batch | 'conflict' | null> {
    const batch = this.stream.take();
    if (!batch) return null;
    let done = false;
    try {
      await client.query('SAVEPOINT gw_apply');
      try {
        await this.applyBatch(client, batch);
      } catch (err) {
        if (sqlState(err) !== '23505') throw err;
        await client.query('ROLLBACK TO SAVEPOINT gw_apply');
        try {
          await this.applyBatch(client, batch, true);
        } catch (again) {
          if (final || sqlState(again) !== '23505') throw again;
          await client.query('ROLLBACK TO SAVEPOINT gw_apply');
          await client.query('RELEASE SAVEPOINT gw_apply');
          return 'conflict';
        }
      }
      await client.query('RELEASE SAVEPOINT gw_apply');
      done = true;
    } finally {
      this.stream.finish(batch, done);
    }
    return batch;
  }

  /** Stops background applies (waits for the one running); the cut-over then applies on its own connection. */
  async pause(): Promise<void> {
    this.paused = true;
    this.stream.wake();
    if (this.busy) await this.busy.catch(() => undefined);
  }

  resume(): void {
    this.paused = false;
    this.stream.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stream.wake();
    if (this.loop) await this.loop.catch(() => undefined);
  }
}

const sameColumns = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((c) => b.includes(c));
