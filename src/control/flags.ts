/**
 * Flag files, gh-ost style: a DBA (or a deploy script) touches a file to
 * throttle, panic or hold the cut-over, and removes it to let go. Existence is
 * all that counts; the content is ignored.
 *
 * Cut-over postponement: the cut-over waits while the postpone flag file
 * exists or the `postpone-cut-over` command is in force, unless the `cut-over`
 * command was given (settings.cutOverNow), which wins over both. gh-ost's
 * `unpostpone` is the same as our `cut-over`; our `unpostpone` only clears the
 * socket command and leaves a flag file in charge.
 */
import { existsSync } from 'node:fs';
import type { LiveMigration, LiveSettings } from '../core/live.js';

export function flagExists(path: string | null | undefined): boolean {
  return path !== null && path !== undefined && path !== '' && existsSync(path);
}

/** Why the cut-over must wait now, or null when it may go ahead. */
export function postponeReason(flagFile: string | null, settings: LiveSettings): string | null {
  if (settings.cutOverNow) return null;
  if (settings.postponeCutOver) return 'postpone-cut-over command';
  if (flagExists(flagFile)) return `postpone flag file ${flagFile}`;
  return null;
}

export function isCutOverPostponed(flagFile: string | null, settings: LiveSettings): boolean {
  return postponeReason(flagFile, settings) !== null;
}

export interface PostponeWaitOptions {
  flagFile: string | null;
  live: LiveMigration;
  /** Re-check period, default 500 ms. */
  pollMs?: number;
  signal?: AbortSignal;
  /**
   * Called on every poll while postponed; throw to stop waiting (e.g. the
   * throttler decided to abort on panic). Keep the stream applying meanwhile.
   */
  check?: () => void | Promise<void>;
  /** Called once when the wait starts, with the reason (for logs and the on-begin-postponed moment). */
  onPostponed?: (reason: string) => void;
}

/**
 * Waits until the cut-over may go ahead. Sets progress.state to 'postponed'
 * while waiting and restores the previous state afterwards. Returns how long
 * it waited, in ms.
 */
export async function waitWhilePostponed(o: PostponeWaitOptions): Promise<number> {
  const started = Date.now();
  let reason = postponeReason(o.flagFile, o.live.settings);
  if (reason === null) return 0;
  const previous = o.live.progress.state;
  o.live.progress.state = 'postponed';
  o.onPostponed?.(reason);
  try {
    while (reason !== null) {
      o.signal?.throwIfAborted();
      await o.check?.();
      await delay(o.pollMs ?? 500, o.signal);
      reason = postponeReason(o.flagFile, o.live.settings);
    }
  } finally {
    if (o.live.progress.state === 'postponed') o.live.progress.state = previous;
  }
  return Date.now() - started;
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason ?? new Error('aborted'));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
