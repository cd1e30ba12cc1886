/**
 * Riding out a short loss of the server (a restart, a failover, a KILL of
 * our session): work that failed on a lost connection is retried while the
 * server has been gone for less than the window; a longer outage fails the
 * run as before (and with a checkpoint written, `--resume` goes on later).
 * Retrying is safe where the work is idempotent: a batch of the applier
 * (re-reads current rows), a chunk of the copy (after its range's ghost rows
 * beyond the progress are removed again), a position read.
 */
import { isConnectionLost } from '../errors.js';

export const RECONNECT_WINDOW_MS = 30_000;

export class ReconnectBudget {
  private since: number | null = null;

  constructor(private readonly windowMs = RECONNECT_WINDOW_MS) {}

  /** True when `err` is a lost connection and the loss began less than the window ago: wait, then retry. */
  tolerate(err: unknown): boolean {
    if (!isConnectionLost(err)) return false;
    this.since ??= Date.now();
    return Date.now() - this.since < this.windowMs;
  }

  /** The server answered again. */
  ok(): void {
    this.since = null;
  }

  /** Runs fn until it succeeds, retrying lost connections within the window (`between` runs before each retry). */
  async run<T>(fn: () => Promise<T>, between?: (err: unknown) => Promise<void>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await fn();
        this.ok();
        return out;
      } catch (err) {
        if (!this.tolerate(err)) throw err;
        await new Promise((r) => setTimeout(r, Math.min(1000, 100 * attempt)));
        if (between) await this.run(() => between(err));
      }
    }
  }
}
