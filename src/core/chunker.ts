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
import type { KeyTuple } from '../engine/engine.js';

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

/**
 * A chunk's end by arithmetic instead of a boundary read, for a copy key that
 * is one integer column.
 *
 * The boundary read (the key `size` rows ahead: an index walk over the
 * chunk's keys) was a fifth of the copy's server time on 1M pgbench rows
 * under load (PostgreSQL 17: 1215 of 5711 ms summed over workers). An
 * integer key holds at most one row per value, so the span (after, after +
 * size] holds at most `size` rows: a chunk is never larger than asked, only
 * smaller where the key has gaps. So the span is used only while the key is
 * dense where the copy is: the last chunk held at least DENSE_KEY rows per key
 * value. After a sparse chunk (gaps, a deleted stretch) the next end is read
 * again, which steps over the gap at once.
 */
export const DENSE_KEY = 0.5;

/** A chunk the copier ran: (after, last] held `rows` rows. */
export interface ChunkSpan {
  after: KeyTuple | null;
  last: KeyTuple | null;
  rows: number;
}

/**
 * The next chunk's end after `previous`, for an integer key: a key value
 * (`value` writes it as the engine binds it), null for "to the range's end"
 * (the span reaches upTo), or undefined when it must be read (no dense
 * previous chunk, or no upper bound).
 */
export function arithmeticEnd(previous: ChunkSpan | null, upTo: KeyTuple | null, size: number, value: (v: bigint) => unknown): KeyTuple | null | undefined {
  if (!previous || previous.after === null || previous.last === null || upTo === null) return undefined;
  const from = BigInt(String(previous.last[0]));
  const span = from - BigInt(String(previous.after[0]));
  if (span <= 0n || previous.rows < DENSE_KEY * Number(span)) return undefined;
  const end = from + BigInt(Math.max(1, Math.floor(size)));
  return end >= BigInt(String(upTo[0])) ? null : [value(end)];
}
