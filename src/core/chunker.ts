/**
 * Chunk sizing: start at the configured size and adapt towards a target time
 * per chunk, so a chunk never holds its snapshot (and the row locks the
 * application waits on) much longer than --chunk-time. Pure: time in, size out.
 *
 * Far from the target the size moves multiplicatively (up to 4x up, down to
 * a quarter), so a run that starts at 5000 rows on a fast server reaches its
 * cap within three chunks instead of a dozen; near the target (within 2x) it
 * moves halfway towards the ideal, so noisy timings don't make it oscillate.
 * Spirit's dynamic chunker aims at the same target time (500 ms) but grows by
 * at most 1.5x a step; a copy of 1M rows is over before that has settled.
 */
export interface ChunkerLimits {
  min: number;
  max: number;
  targetMs: number;
}

export const DEFAULT_LIMITS: ChunkerLimits = { min: 100, max: 100_000, targetMs: 500 };

/** Next chunk size after a chunk of `size` rows took `elapsedMs`. */
export function nextChunkSize(size: number, elapsedMs: number, rows: number, limits: ChunkerLimits): number {
  if (rows < size) return size; // a short (last) chunk says nothing about speed
  const ratio = limits.targetMs / Math.max(1, elapsedMs);
  let factor: number;
  if (ratio >= 2) factor = Math.min(4, ratio);
  else if (ratio <= 0.5) factor = Math.max(0.25, ratio);
  else factor = 1 + (ratio - 1) / 2;
  const next = Math.round(size * factor);
  return Math.min(limits.max, Math.max(limits.min, next));
}
