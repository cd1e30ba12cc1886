/**
 * The replication connection under the change stream, and what keeps it up.
 *
 * A walsender ends for reasons that are no fault of the migration:
 * pg_terminate_backend, a failover of a proxy, wal_sender_timeout after the
 * server (or our process) was frozen for a while. The slot keeps its
 * confirmed position through all of that: only commits whose every key was
 * APPLIED were ever acknowledged (see stream.ts). So a lost connection is
 * reopened with START_REPLICATION from our applied position; the server then
 * sends again every transaction after it, which the stream applies again by
 * key: harmless, since the apply re-reads each key's current row.
 *
 * Bounds: each attempt gets ATTEMPT_TIMEOUT_MS (a frozen server accepts TCP
 * connections and never answers), retries back off up to MAX_BACKOFF_MS, and
 * one loss gives up after `reconnectBudgetMs`; more than MAX_LOSSES_PER_MINUTE
 * losses in a minute is a loop, not a blip, and fails the stream too. The
 * slot missing (42704) is never retried: its WAL is gone.
 */
import { LogicalReplicationService, type Pgoutput } from 'pg-logical-replication';
import type { ConnectionSpec } from '../../connection.js';
import { GhostwrightError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { clientConfig, SESSION_ENDED_CODES, sqlState } from './connect.js';
import { lsnBefore } from './lsn.js';

type Plugin = Parameters<LogicalReplicationService['subscribe']>[0];

const ATTEMPT_TIMEOUT_MS = 10_000;
const MAX_BACKOFF_MS = 5_000;
const MAX_LOSSES_PER_MINUTE = 10;
/** Polls (2 ms apart) for the library to hand over what came before a keepalive. */
const KEEPALIVE_SETTLE_TRIES = 50;
/** The first START_REPLICATION is sent this often when the server ends its walsender (see start). */
const FIRST_OPEN_TRIES = 5;
/** How long one lost connection is retried before the stream fails (a 60 s server freeze must fit). */
export const DEFAULT_RECONNECT_BUDGET_MS = 180_000;

export interface LinkHandlers {
  message(msg: Pgoutput.Message): Promise<void>;
  /** The position to restart from: the APPLIED one. */
  appliedLsn(): string;
  /**
   * A keepalive: the server has sent (or skipped) everything before walEnd.
   * `drained`: every message received before it has been handled.
   */
  keepalive(walEnd: string, drained: boolean, reply: boolean): void;
  /** The link is down for good. */
  failed(err: GhostwrightError): void;
  /** Each new connection: a transaction cut off by the loss arrives again, whole. */
  reconnected(): void;
}

export interface LinkConfig {
  spec: ConnectionSpec;
  slot: string;
  plugin: () => Plugin;
  log: Logger;
  reconnectBudgetMs?: number;
}

export class ReplicationLink {
  private service: LogicalReplicationService | null = null;
  private stopping = false;
  private losses: number[] = [];
  /** Connections reopened after a loss (observability, tests). */
  restarts = 0;
  /** Since when the link is down and being reopened; null while it is up. */
  downSince: number | null = null;

  constructor(
    private readonly cfg: LinkConfig,
    private readonly on: LinkHandlers,
  ) {}

  /**
   * The first connection. A failure here is the caller's to report, except a
   * walsender the server ended as it started (pg_terminate_backend, an
   * admin or crash shutdown: 57P01/02/03): the slot is there, so the same
   * START_REPLICATION is sent again a few times, as after a loss.
   */
  async start(timeoutMs: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.open(timeoutMs);
        return;
      } catch (err) {
        if (this.stopping || attempt >= FIRST_OPEN_TRIES || !SESSION_ENDED_CODES.has(sqlState(err) ?? '')) throw err;
        this.cfg.log.warn({ err, attempt }, 'replication stream: the server ended the walsender as it started; opening it again');
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  }

  /**
   * Confirms `lsn` on the current connection (a lost one re-reads from the
   * slot anyway). The library sends what it is given plus one; the server
   * must get exactly `lsn`, as from its own apply worker: a commit's end, or
   * the sent position of a keepalive, which a fast shutdown's walsender
   * waits to see confirmed exactly before it exits.
   */
  acknowledge(lsn: string): void {
    void this.service?.acknowledge(lsnBefore(lsn)).catch(() => undefined);
  }

  get up(): boolean {
    return this.service !== null && this.downSince === null;
  }

  private open(timeoutMs: number): Promise<void> {
    const service = new LogicalReplicationService(
      clientConfig(this.cfg.spec, { application_name: 'ghostwright_stream', connectionTimeoutMillis: Math.min(timeoutMs, ATTEMPT_TIMEOUT_MS), keepAlive: true }),
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
    );
    this.service = service;
    let started = false;
    service.on('data', (_lsn: string, msg: Pgoutput.Message) => (this.service === service ? this.on.message(msg) : undefined));
    service.on('heartbeat', (walEnd: string, _ts: number, shouldRespond: boolean) => {
      // A keepalive often arrives in the same read as the messages before it,
      // which the library has queued but not yet handed to us: answer once
      // they are handled (a few ms), or after ~100 ms with drained = false.
      let tries = 0;
      const answer = (): void => {
        if (this.service !== service) return;
        const done = drained(service);
        if (!done && ++tries < KEEPALIVE_SETTLE_TRIES) setTimeout(answer, 2);
        else this.on.keepalive(walEnd, done, shouldRespond);
      };
      setImmediate(answer);
    });
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => lose(new GhostwrightError('E_STREAM', `replication stream did not start within ${timeoutMs} ms`)), timeoutMs);
      const lose = (err: Error): void => {
        clearTimeout(timer);
        if (this.service !== service) return;
        this.service = null;
        void service.destroy().catch(() => undefined);
        if (!started) reject(err);
        else this.lost(err);
      };
      service.on('start', () => {
        clearTimeout(timer);
        started = true;
        resolve();
      });
      service.on('error', (err: Error) => lose(err));
      service.subscribe(this.cfg.plugin(), this.cfg.slot, this.on.appliedLsn()).then(
        () => lose(new Error('the replication connection ended')),
        (err: unknown) => lose(err as Error),
      );
    });
  }

  private lost(err: Error): void {
    if (this.stopping) return;
    const now = Date.now();
    this.losses = [...this.losses.filter((t) => now - t < 60_000), now];
    if (this.losses.length > MAX_LOSSES_PER_MINUTE) {
      this.on.failed(new GhostwrightError('E_STREAM', `replication stream lost ${this.losses.length} times within a minute: ${err.message}`, { cause: err, hint: 'check the server log and the network; the original table is untouched' }));
      return;
    }
    this.cfg.log.warn({ err, from: this.on.appliedLsn() }, 'replication stream lost; reconnecting from the applied position');
    this.downSince = now;
    void this.reconnect(err);
  }

  private async reconnect(first: Error): Promise<void> {
    const budget = this.cfg.reconnectBudgetMs ?? DEFAULT_RECONNECT_BUDGET_MS;
    const since = this.downSince ?? Date.now();
    let last = first;
    for (let attempt = 1; !this.stopping; attempt++) {
      const left = budget - (Date.now() - since);
      if (left <= 0) break;
      await new Promise((r) => setTimeout(r, Math.min(MAX_BACKOFF_MS, 100 * 2 ** (attempt - 1), left)));
      if (this.stopping) return;
      try {
        this.on.reconnected();
        await this.open(Math.max(1000, Math.min(ATTEMPT_TIMEOUT_MS, budget - (Date.now() - since))));
        this.restarts++;
        this.downSince = null;
        this.cfg.log.info({ from: this.on.appliedLsn(), attempt, downMs: Date.now() - since }, 'replication stream resumed');
        return;
      } catch (err) {
        last = err as Error;
        // The slot is gone: nothing to resume from.
        if (sqlState(err) === '42704') break;
        this.cfg.log.debug({ err, attempt }, 'replication stream: reconnect attempt failed');
      }
    }
    if (this.stopping) return;
    this.on.failed(
      new GhostwrightError('E_STREAM', `replication stream lost and not resumed within ${Math.round((Date.now() - since) / 1000)} s: ${last.message}`, {
        cause: last,
        hint: 'check that the server is up and the slot still exists (pg_replication_slots); the original table is untouched, rerun when it is',
      }),
    );
  }

  /**
   * Drops the connection and reopens it as after a loss (from the applied
   * position, with the same backoff and budget). For a server shutting down:
   * its walsender exits only once we confirm all it sent, which we can't
   * while keys are held unapplied (postgres/deferred-indexes.ts), so we let
   * go instead and come back when it is up.
   */
  cycle(reason: string): void {
    const service = this.service;
    if (!service || this.stopping || this.downSince !== null) return;
    this.service = null;
    void service.destroy().catch(() => undefined);
    this.lost(new Error(reason));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const service = this.service;
    this.service = null;
    if (service) await service.destroy().catch(() => undefined);
  }
}

/**
 * True when the library has handed every message it received to our handler
 * and the handler returned: with flowControl it queues messages and emits
 * keepalives at once, ahead of the queue. Read from its internals; if a
 * version lacks them the answer is false, and keepalives are answered with
 * the applied position only (the behaviour before).
 */
function drained(service: LogicalReplicationService): boolean {
  const s = service as unknown as { _processing?: unknown; _messageQueue?: unknown };
  return s._processing === false && Array.isArray(s._messageQueue) && s._messageQueue.length === 0;
}
