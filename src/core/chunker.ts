/**
 * Chunk sizing: start at the configured size and adapt towards a target time
 * per chunk, so a chunk never holds its snapshot (and the applies queued
 * behind it) much longer than --chunk-time. Pure: time in, size out.
 */
export interface ChunkerLimits {
  min: number;
  max: number;
  targetMs: number;
}

export const DEFAULT_LIMITS: ChunkerLimits = { min: 100, max: 100_000, targetMs: 500 };

/** Next chunk size after a chunk of `size` rows took `elapsedMs`. Moves at most 2x per step. */
export function nextChunkSize(size: number, elapsedMs: number, rows: number, limits: ChunkerLimits): number {
  if (rows < size) return size; // a short (last) chunk says nothing about speed
  const ratio = limits.targetMs / Math.max(1, elapsedMs);
  const factor = Math.min(2, Math.max(0.5, ratio));
  // Smooth: move halfway towards the ideal to avoid oscillating on noisy timings.
  const next = Math.round(size * (1 + (factor - 1) / 2));
  return Math.min(limits.max, Math.max(limits.min, next));
}
