/**
 * `--max-share P`: the DBA's trade between the copy's speed and the
 * application's share of the server. Each copy worker is busy at most P% of
 * the wall time: after a chunk that took t ms it rests t * (100 - P) / P ms.
 *
 * This is gh-ost's --nice-ratio (rest = t * ratio) stated the other way
 * round: a share a DBA can reason about ("the copy may take half the
 * server") instead of a ratio ("nice 1.0"). A share bounds the copy's load
 * whatever the application does; a latency target (Spirit and gh-ost have
 * none; both throttle on replica lag and thresholds) would have to guess from
 * a probe query which latency the application sees, and on a busy server a
 * probe's own latency moves with the copy's chunk size more than with the
 * application's. The throttler's thresholds (max-load, lag) still apply on
 * top. P = 100 means no rest (the default).
 *
 * Pure: time in, time out. The supervisor sleeps it between chunks.
 */
export const SHARE_LIMITS = [1, 100] as const;

/** Milliseconds a worker rests after a chunk that kept it busy `busyMs`, at `sharePercent`. */
export function restAfterChunk(busyMs: number, sharePercent: number): number {
  if (!(sharePercent > 0) || sharePercent >= 100 || busyMs <= 0) return 0;
  return Math.round((busyMs * (100 - sharePercent)) / sharePercent);
}

/** `share ≤50%` for the progress line, or null when the copy may take the whole server. */
export function shareText(sharePercent: number): string | null {
  return sharePercent >= 100 ? null : `share ≤${sharePercent}%`;
}
