/**
 * The binlog stream of one table (@vlasky/zongji): row events become changed
 * KEYS in the engine-neutral ChangeBacklog (core/change-backlog.ts); commits advance the received position. Row values are
 * never decoded into the ghost: the applier re-reads them from the original
 * by SQL, so type fidelity does not depend on binlog decoding. Only key
 * values travel, bound back exactly (BIGINT beyond 2^53 as strings, binary
 * keys as Buffers, BINARY(n) re-padded with the 0x00 bytes the binlog strips).
 *
 * zongji has no backpressure of its own: above maxBacklog queued keys (the
 * backlog's high-water mark) the binlog socket is paused (TCP then holds the
 * server back) and resumed below half of it (the low-water mark).
 */
import ZongJi from '@vlasky/zongji';
import type { AnyBinlogEvent } from '@vlasky/zongji';
import type { ConnectionSpec } from '../../connection.js';
import type { Logger } from '../../log.js';
import { GhostwrightError } from '../../errors.js';
import type { KeyTuple, TableRef } from '../engine.js';
import { ChangeBacklog } from '../../core/change-backlog.js';
import { comparePositions, connectionOptions, type BinlogPosition } from './connect.js';
import { RECONNECT_WINDOW_MS } from '../../core/reconnect.js';
import { isDdlOnTable, keyNormalizer } from './binlog-decode.js';

/**
 * A lost binlog connection is resumed for this long after the first loss of
 * a streak (a server restart takes seconds), every 100 ms to 1 s.
 */
const RESTART_WINDOW_MS = RECONNECT_WINDOW_MS;

export interface StreamOptions {
  spec: ConnectionSpec;
  table: TableRef;
  /** Key columns of the original, in key order, with their COLUMN_TYPE. */
  key: ReadonlyArray<{ name: string; type: string }>;
  start: BinlogPosition;
  /** DDL on the table up to this position is expected (a revert starts before the cut-over's own RENAME). */
  allowDdlUntil?: BinlogPosition;
  maxBacklog: number;
  log: Logger;
}

export class BinlogStream {
  readonly queue: ChangeBacklog<BinlogPosition>;
  private zongji: ZongJi | null = null;
  private file: string;
  private paused = false;
  private waiters: Array<() => void> = [];
  private readonly norm: Array<(v: unknown) => unknown>;
  /** First error of the stream (connection lost, DDL on the table, ...). */
  error: Error | null = null;
  /** Set during our own cut-over, whose RENAME mentions the table. */
  allowDdl = false;
  /** How often the socket was paused for backpressure (observability, tests). */
  pauses = 0;
  /** How often a lost binlog connection was resumed. */
  restarts = 0;
  private lastRestartAt = 0;
  /** When the current streak of losses began (reset once the stream has run a minute without one). */
  private lossSince = 0;
  private stopping = false;

  constructor(private readonly opts: StreamOptions) {
    this.queue = new ChangeBacklog<BinlogPosition>({
      start: opts.start,
      compare: comparePositions,
      marks: { high: opts.maxBacklog, low: Math.floor(opts.maxBacklog / 2) },
      onPressure: (pause) => this.pressure(pause),
    });
    this.file = opts.start.file;
    this.norm = keyNormalizer(opts.key.map((k) => k.type));
  }

  start(): Promise<void> {
    return this.connect(this.opts.start);
  }

  /**
   * Opens a binlog dump from `from`. Replaying from an earlier position is
   * harmless (keys are deduplicated and re-read), so a lost connection is
   * resumed from zongji's last safe point (a transaction boundary whose events
   * we have all handled) a few times before the stream counts as failed.
   */
  private connect(from: BinlogPosition): Promise<void> {
    const z = new ZongJi(connectionOptions(this.opts.spec));
    this.zongji = z;
    this.paused = false;
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      z.on('ready', () => {
        ready = true;
        resolve();
      });
      z.on('error', (err: Error) => {
        if (!ready) {
          reject(err);
          return;
        }
        if (this.zongji === z) this.reconnect(z, err);
      });
      z.on('binlog', (evt: AnyBinlogEvent) => {
        if (this.zongji !== z) return;
        try {
          this.onEvent(evt);
        } catch (err) {
          this.fail(err as Error);
        }
      });
      z.start({
        // Random, and far from real server ids: two streams with one id kick each other off.
        serverId: 100_000 + Math.floor(Math.random() * 4_000_000_000),
        filename: from.file,
        position: from.position,
        includeSchema: { [this.opts.table.schema]: [this.opts.table.name] },
      });
    });
  }

  private reconnect(old: ZongJi, err: Error): void {
    const from = { file: String(old.options.filename ?? this.file), position: Number(old.options.position ?? 4) };
    this.zongji = null;
    try {
      old.stop();
    } catch {
      /* already down */
    }
    if (this.error || this.stopping) return;
    // A blip an hour into a long copy is not the same failure as a loop of them.
    if (Date.now() - this.lastRestartAt > 60_000) {
      this.restarts = 0;
      this.lossSince = Date.now();
    }
    this.lastRestartAt = Date.now();
    ++this.restarts;
    if (Date.now() - this.lossSince > RESTART_WINDOW_MS) {
      this.fail(new GhostwrightError('E_STREAM', `binlog stream failed: ${err.message}`, { cause: err, hint: 'check the server log and the network; the last checkpoint is kept: rerun the same command with --resume to go on' }));
      return;
    }
    this.opts.log.warn({ err, from: `${from.file}:${from.position}`, attempt: this.restarts }, 'binlog stream lost; resuming');
    // The file name tracks rotations; positions we mark continue in that file.
    this.file = from.file;
    setTimeout(() => {
      if (this.stopping || this.error) return;
      this.connect(from).then(
        () => this.opts.log.info({ from: `${from.file}:${from.position}` }, 'binlog stream resumed'),
        (e: unknown) => this.reconnectFailed(from, e as Error),
      );
    }, Math.min(1000, 100 * this.restarts));
  }

  private reconnectFailed(from: BinlogPosition, err: Error): void {
    if (this.stopping) return;
    const z = this.zongji;
    if (z) this.reconnect(z, err);
    else this.fail(new GhostwrightError('E_STREAM', `binlog stream could not resume from ${from.file}:${from.position}: ${err.message}`, { cause: err }));
  }

  private fail(err: Error): void {
    if (!this.error) {
      this.error = err;
      this.opts.log.error({ err }, 'binlog stream failed');
    }
    this.wake();
  }

  private keyOf(row: Record<string, unknown>): KeyTuple {
    return this.opts.key.map((k, i) => {
      if (!(k.name in row)) throw new GhostwrightError('E_STREAM', `row image lacks key column ${k.name}`, { hint: 'binlog_row_image must be FULL' });
      return this.norm[i]!(row[k.name]);
    });
  }

  private onEvent(evt: AnyBinlogEvent): void {
    switch (evt.getEventName()) {
      case 'writerows':
      case 'deleterows': {
        const e = evt as Extract<AnyBinlogEvent, { getEventName(): 'writerows' }>;
        for (const row of e.rows) this.queue.add(this.keyOf(row));
        this.afterAdd();
        return;
      }
      case 'updaterows': {
        // Both images: a key update must delete the old key from the ghost.
        const e = evt as Extract<AnyBinlogEvent, { getEventName(): 'updaterows' }>;
        for (const row of e.rows) {
          this.queue.add(this.keyOf(row.before));
          this.queue.add(this.keyOf(row.after));
        }
        this.afterAdd();
        return;
      }
      case 'tablemap':
        return;
      case 'rotate': {
        const e = evt as Extract<AnyBinlogEvent, { getEventName(): 'rotate' }>;
        this.file = e.binlogName;
        this.mark(e.position);
        return;
      }
      case 'query': {
        const e = evt as Extract<AnyBinlogEvent, { getEventName(): 'query' }>;
        const expected = this.allowDdl || (this.opts.allowDdlUntil !== undefined && comparePositions({ file: this.file, position: e.nextPosition }, this.opts.allowDdlUntil) <= 0);
        if (!expected && isDdlOnTable(e.query, this.opts.table.name) && (e.schema === this.opts.table.schema || e.query.includes(this.opts.table.schema))) {
          this.fail(new GhostwrightError('E_DDL_DURING_ALTER', `the table was changed while migrating: ${e.query.slice(0, 200)}`, { hint: 'do not run DDL on the table during an online ALTER; rerun afterwards' }));
        }
        this.mark(e.nextPosition);
        return;
      }
      default:
        this.mark(evt.nextPosition);
    }
  }

  /** Transaction boundaries (and standalone events) carry real positions; MariaDB writes 0 inside transactions. */
  private mark(position: number): void {
    if (position > 0) this.queue.commit({ file: this.file, position });
    this.wake();
  }

  private afterAdd(): void {
    this.wake();
  }

  /** The backlog crossed a water mark: stop or resume reading the binlog socket. */
  private pressure(pause: boolean): void {
    const conn = this.zongji?.connection;
    if (pause && !this.paused && conn) {
      this.paused = true;
      this.pauses++;
      conn.pause();
      this.opts.log.debug({ backlog: this.queue.size }, 'binlog stream paused: backlog above high-water mark');
    } else if (!pause && this.paused) {
      this.paused = false;
      conn?.resume();
    }
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Resolves on the next event (or after ms). */
  waitForActivity(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const z = this.zongji;
    this.zongji = null;
    if (!z) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 2000);
      z.once('stopped', () => {
        clearTimeout(t);
        resolve();
      });
      try {
        if (this.paused) z.connection?.resume();
        z.stop();
      } catch {
        clearTimeout(t);
        resolve();
      }
    });
    this.wake();
  }
}
