/**
 * The change stream: a pgoutput logical replication slot read through
 * pg-logical-replication. It does NOT carry row values to the ghost: it only
 * collects the KEYS of changed rows (old and new key of an update, the key of
 * a delete). The applier then copies those keys' current rows from the
 * original by SQL, so type fidelity is exact by construction and replaying a
 * key twice is harmless.
 *
 * The keys go to the engine-neutral ChangeBacklog (core/change-backlog.ts),
 * each with its transaction's xid: pgoutput sends a transaction once its
 * commit record is flushed, so every change decoded here is COMMITTED, but
 * may not be VISIBLE to other snapshots yet (apply.ts waits for that).
 *
 * Positions: a commit is acknowledged to the server (its commitEndLsn) only
 * once the backlog's low-water position passed it, i.e. every key received
 * before it was applied (or left to the copy); keepalives are answered with
 * that position, never with the received one, so the slot keeps the WAL of
 * anything not yet applied. Only when nothing is pending (no transaction
 * open, every received commit applied, no key queued, acknowledgements not
 * held, the library's queue drained) is a keepalive answered with the
 * server's sent position, as PostgreSQL's own apply worker does: no commit
 * of ours lies before it unapplied. Without that, a fast shutdown waits for
 * us (its walsender exits only once the client confirmed everything sent,
 * the shutdown checkpoint included) until the server's stop times out.
 * A lost connection is reopened from it
 * (replication-link.ts): the server sends again what followed it. While the
 * cut-over applies keys inside its own transaction, acknowledgements are
 * held (holdAcks): that transaction may still roll back.
 *
 * Memory: the library's flowControl mode awaits our handler before reading the
 * next message. Above the backlog's high-water mark (maxBacklog distinct
 * keys) the handler waits until the applier brought it below the low one; the
 * library stops reading the socket, and the server buffers WAL in the slot
 * instead of in our heap.
 */
import type pg from 'pg';
import type { Pgoutput } from 'pg-logical-replication';
import type { ConnectionSpec } from '../../connection.js';
import { GhostwrightError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { ChangeBacklog } from '../../core/change-backlog.js';
import { inTransaction } from './connect.js';
import { compareLsn, lsnAfter } from './lsn.js';
import { TextPgoutputPlugin, unchangedFrom } from './pgoutput.js';
import { ReplicationLink } from './replication-link.js';

export const MARKER_PREFIX = 'ghostwright';

/**
 * Emits marker `id` into the WAL in a transaction of its own. A walsender
 * only sends FLUSHED WAL: with synchronous_commit=off the marker could wait
 * up to wal_writer_delay (or longer) in memory; a synchronous commit flushes
 * it and everything before it.
 */
export async function emitWalMarker(pool: pg.Pool, id: string): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query(`SELECT set_config('synchronous_commit', 'on', true)`);
    await client.query(`SELECT pg_logical_emit_message(true, $1, $2)`, [MARKER_PREFIX, id]);
  });
}

export interface StreamConfig {
  spec: ConnectionSpec;
  slot: string;
  publication: string;
  /** Read the slot with origin 'none' (16+, see origin.ts). */
  originNone?: boolean;
  keyColumns: string[];
  /** Changes of this table (the changelog, also published) are positions to acknowledge, not data. */
  ignoreTable?: { schema: string; name: string };
  maxBacklog: number;
  /** The slot's consistent point: what we may acknowledge before anything was applied. */
  startLsn: string;
  log: Logger;
}

export class ChangeStream {
  private link: ReplicationLink | null = null;
  /** Changed keys and received commits; its applied position is what the slot may forget. */
  readonly queue: ChangeBacklog<string>;
  private currentXid = 0;
  /** Between a BEGIN and its COMMIT. */
  private inTxn = false;
  private txnMarkers: string[] = [];
  /** marker id -> count of commits received up to its transaction */
  private markers = new Map<string, number>();
  /** Above the high-water mark: the handler holds the library (and so the socket). */
  private pressured = false;
  /** The position acknowledged to the server (held back during the cut-over's transaction). */
  private acked: string;
  private acksHeld = false;
  private waiters: Array<() => void> = [];
  eventsReceived = 0;
  error: Error | null = null;

  constructor(private readonly cfg: StreamConfig) {
    this.acked = cfg.startLsn;
    // One pause after the high-water mark: the distinct keys held stay at maxBacklog.
    const high = Math.max(1, cfg.maxBacklog - 1);
    this.queue = new ChangeBacklog<string>({
      start: cfg.startLsn,
      compare: compareLsn,
      marks: { high, low: Math.floor(high / 2) },
      onPressure: (pause) => {
        this.pressured = pause;
        this.wake();
      },
      onApplied: (lsn) => {
        if (!this.acksHeld) this.acknowledge(lsn);
        this.wake();
      },
    });
  }

  /** Row changes received and not applied yet (queued, or in the batch being applied), as on MySQL. */
  get backlog(): number {
    return this.queue.backlog;
  }

  get eventsApplied(): number {
    return this.queue.eventsApplied;
  }

  /** The position acknowledged to the slot. */
  get position(): string {
    return this.acked;
  }

  private acknowledge(lsn: string): void {
    // After a reconnect the server sends again commits we had applied but
    // whose acknowledgement it never got: the position never moves back.
    if (!lsnAfter(lsn, this.acked)) return;
    this.acked = lsn;
    this.link?.acknowledge(lsn);
  }

  /**
   * Held: positions the backlog applies are not acknowledged (the cut-over
   * applies keys in a transaction that may roll back, and then redoes them).
   * Released: the backlog's applied position is acknowledged at once.
   */
  holdAcks(on: boolean): void {
    this.acksHeld = on;
    if (!on) this.acknowledge(this.queue.applied);
  }

  async start(timeoutMs = 15_000): Promise<void> {
    // A lost connection is reopened from the applied position (replication-link.ts).
    this.link = new ReplicationLink(
      { spec: this.cfg.spec, slot: this.cfg.slot, plugin: () => new TextPgoutputPlugin({ publication: this.cfg.publication, originNone: this.cfg.originNone ?? false }), log: this.cfg.log },
      {
        message: (msg) => this.onMessage(msg),
        appliedLsn: () => this.acked,
        keepalive: (walEnd, drained, reply) => this.keepalive(walEnd, drained, reply),
        failed: (err) => this.fail(err),
        // Markers of a transaction cut off by the loss come again with it.
        reconnected: () => {
          this.txnMarkers = [];
          this.inTxn = false;
        },
      },
    );
    await this.link.start(timeoutMs);
  }

  /**
   * Nothing received is left to apply: the server's sent position can be
   * confirmed (see the top of this file); otherwise a requested reply gets
   * the applied position, or wal_sender_timeout would end the connection
   * during a long copy.
   */
  private keepalive(walEnd: string, drained: boolean, reply: boolean): void {
    const before = this.acked;
    const q = this.queue;
    if (drained && !this.inTxn && !this.acksHeld && !this.error && q.size === 0 && q.externalPending === 0 && q.appliedCommits === q.receivedCommits) this.acknowledge(walEnd);
    if (reply && this.acked === before) this.link?.acknowledge(this.acked);
  }

  /** Connections reopened after a loss. */
  get restarts(): number {
    return this.link?.restarts ?? 0;
  }

  private fail(err: Error): void {
    if (this.link === null) return;
    if (!this.error) {
      this.error = err instanceof GhostwrightError ? err : new GhostwrightError('E_STREAM', `replication stream failed: ${err.message}`, { cause: err });
      this.cfg.log.error({ err }, 'replication stream failed');
    }
    this.wake();
  }

  private keyOf(tuple: Record<string, unknown> | null | undefined): string[] | null {
    if (!tuple) return null;
    const key: string[] = [];
    for (const col of this.cfg.keyColumns) {
      const v = tuple[col];
      if (typeof v !== 'string') return null;
      key.push(v);
    }
    return key;
  }

  private add(key: string[] | null, what: string): void {
    if (!key) throw new GhostwrightError('E_STREAM_KEY', `a ${what} event carries no value for the key columns ${this.cfg.keyColumns.join(', ')}`, {
      hint: 'the table needs REPLICA IDENTITY covering the copy key (DEFAULT with that primary key, USING INDEX on it, or FULL)',
    });
    this.queue.add(key, this.currentXid);
    this.eventsReceived++;
  }

  private ignored(rel: Pgoutput.MessageRelation): boolean {
    const t = this.cfg.ignoreTable;
    return t !== undefined && rel.schema === t.schema && rel.name === t.name;
  }

  private async onMessage(msg: Pgoutput.Message): Promise<void> {
    if (this.error) return;
    if ((msg.tag === 'insert' || msg.tag === 'update' || msg.tag === 'delete') && this.ignored(msg.relation)) return;
    try {
      switch (msg.tag) {
        case 'begin':
          this.currentXid = msg.xid;
          this.inTxn = true;
          return;
        case 'insert':
          this.add(this.keyOf(msg.new), 'insert');
          break;
        case 'update': {
          // 'K' (key changed, identity DEFAULT/INDEX) or 'O' (identity FULL) carry the old key.
          // An old tuple that lacks our key columns (identity changed under us) is an error, not a skip.
          const oldTuple = msg.key ?? msg.old;
          if (oldTuple) this.add(this.keyOf(oldTuple), 'update');
          this.add(this.keyOf(msg.new) ?? this.keyOf(unchangedFrom(msg.new, oldTuple, this.cfg.keyColumns)), 'update');
          break;
        }
        case 'delete':
          this.add(this.keyOf(msg.key ?? msg.old), 'delete');
          break;
        case 'truncate':
          this.queue.truncate(this.currentXid);
          break;
        case 'message':
          if (msg.prefix === MARKER_PREFIX) this.txnMarkers.push(Buffer.from(msg.content).toString('utf8'));
          return;
        case 'commit': {
          // A transaction with no change of ours and nothing queued is applied at once (see ChangeBacklog).
          const before = this.queue.receivedCommits;
          if (msg.commitEndLsn) this.queue.commit(msg.commitEndLsn);
          // Sent again after a reconnect: its markers were recorded the first time.
          if (this.queue.receivedCommits > before) for (const id of this.txnMarkers) this.markers.set(id, this.queue.receivedCommits);
          this.txnMarkers = [];
          this.inTxn = false;
          this.wake();
          return;
        }
        default:
          return;
      }
      this.wake();
      // Backpressure: hold the library (and so the socket) until the applier drains.
      while (this.pressured && !this.error && this.link) await this.waitFor(() => !this.pressured, 1000);
    } catch (err) {
      this.fail(err as Error);
    }
  }

  /** Keys to apply that no event brought (rows the copy had to skip): queued like changed keys. */
  addKeys(keys: readonly string[][]): void {
    for (const k of keys) this.queue.addExternal([...k]);
    if (keys.length) this.wake();
  }

  /** True once the marker's transaction was received and everything up to it applied. */
  markerApplied(id: string): boolean {
    const seq = this.markers.get(id);
    return seq !== undefined && seq <= this.queue.appliedCommits;
  }

  markerReceived(id: string): boolean {
    return this.markers.has(id);
  }

  forgetMarker(id: string): void {
    this.markers.delete(id);
  }

  /** Resolves when cond() holds or after timeoutMs (check cond() again). */
  async waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond() && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(50, Math.max(1, deadline - Date.now())));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves on stream or applier activity, or after ms. */
  waitForActivity(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Lets go of the replication connection and reopens it (replication-link.ts cycle). */
  cycle(reason: string): void {
    this.link?.cycle(reason);
  }

  async stop(): Promise<void> {
    const link = this.link;
    this.link = null;
    this.wake();
    if (link) await link.stop();
  }
}
