/**
 * Is the server answering at all? A frozen server (SIGSTOP, a stuck storage
 * layer, a VM paused by its host) keeps its TCP connections open and answers
 * nothing: queries and connects simply wait. Without this probe the status
 * blamed whatever measurement went stale first (MySQL: replica lag, since
 * the heartbeat stopped). The probe runs `SELECT 1` on its own session,
 * never behind the migration's busy pool, each with a short timeout, and
 * reports how long the server has been silent.
 */
import type { SqlSession } from '../engine/engine.js';

/** Silent for longer than this counts as not responding. */
export const SILENT_AFTER_MS = 3000;

export class ServerProbe {
  private lastAnswerAt: number;
  private session: SqlSession | null = null;
  private opening: Promise<SqlSession> | null = null;
  private busy = false;
  private closed = false;

  constructor(
    private readonly open: () => Promise<SqlSession>,
    private readonly timeoutMs = 2000,
    private readonly now: () => number = Date.now,
  ) {
    this.lastAnswerAt = now();
  }

  /** Milliseconds the server has not answered, once that passes SILENT_AFTER_MS; else null. */
  silentMs(): number | null {
    const ms = this.now() - this.lastAnswerAt;
    return ms > SILENT_AFTER_MS ? ms : null;
  }

  /** One probe; at most one runs at a time, and it never waits longer than the timeout. */
  async tick(): Promise<void> {
    if (this.busy || this.closed) return;
    this.busy = true;
    try {
      if (!this.session) {
        // A connect to a frozen server waits as long as the freeze: keep that one attempt, don't pile up more.
        this.opening ??= this.open().then((s) => {
          this.opening = null;
          if (this.closed) void s.close().catch(() => undefined);
          else this.session = s;
          return s;
        });
        this.opening.catch(() => (this.opening = null));
        await timeout(this.opening, this.timeoutMs);
      }
      const session = this.session;
      if (!session) return;
      try {
        await timeout(session.query('SELECT 1'), this.timeoutMs);
      } catch (err) {
        // A query that timed out may still be queued on that connection: use a new one next time.
        this.session = null;
        void session.close().catch(() => undefined);
        throw err;
      }
      this.lastAnswerAt = this.now();
    } catch {
      /* silent: silentMs() grows */
    } finally {
      this.busy = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const s = this.session;
    this.session = null;
    // Not awaited when the server is frozen: closing would wait for it.
    if (s) await timeout(s.close(), 1000).catch(() => undefined);
  }
}

export function describeSilence(ms: number): string {
  return `server not responding for ${Math.round(ms / 1000)} s`;
}

function timeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}
