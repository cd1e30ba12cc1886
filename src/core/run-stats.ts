/**
 * Where a run's time went, as plain counters: the copy workers (chunks, how
 * long each waited and why), the applier (batches, keys, conflicts) and the
 * copy window between them. They answer "why is the copy slow under load?"
 * from the JSON report (`stats`) and the debug log, without a profiler.
 * Every time is in ms, summed over the workers (two workers waiting 1 s each
 * count 2 s).
 */
import type { ApplyStats } from '../engine/engine.js';
import type { CopyWall } from './copy-wall.js';

export type { ApplyStats };

export interface CopyStats {
  chunks: number;
  rows: number;
  /** Time inside the chunks' INSERT ... SELECT (window wait excluded). */
  chunkMs: number;
  /** Time finding each chunk's upper key. */
  boundaryMs: number;
  /** Chunks whose end was a span of key values, not read (an integer key, core/chunker.ts arithmeticEnd). */
  spanChunks: number;
  /** Chunks waiting for the copy window (an exclusive batch or the cut-over). */
  windowWaitMs: number;
  /** Waiting for the throttler, by reason (max-load, lag, flag file, ...). */
  throttleWaitMs: number;
  throttleReasons: Record<string, number>;
  /** Waiting for the stream's backlog to drain below --max-backlog-events. */
  backlogWaitMs: number;
  /** Resting for --max-share. */
  shareRestMs: number;
  /** Chunk size: the first, the largest and the last used. */
  firstChunkRows: number;
  maxChunkRows: number;
  lastChunkRows: number;
  /** The slowest chunk, ms. */
  maxChunkMs: number;
  /** The copy's WALL time by what its workers did (core/copy-wall.ts); set when the copy ends. */
  wall?: CopyWall;
}

export interface RunStats {
  copy: CopyStats;
  apply: ApplyStats;
}

export function newCopyStats(): CopyStats {
  return {
    chunks: 0, rows: 0, chunkMs: 0, boundaryMs: 0, spanChunks: 0, windowWaitMs: 0, throttleWaitMs: 0, throttleReasons: {}, backlogWaitMs: 0, shareRestMs: 0,
    firstChunkRows: 0, maxChunkRows: 0, lastChunkRows: 0, maxChunkMs: 0,
  };
}

export function newApplyStats(): ApplyStats {
  return { batches: 0, keys: 0, written: 0, leftToCopy: 0, requeued: 0, batchMs: 0, maxBatchMs: 0, maxBatchKeys: 0, lockRetries: 0, dupRetries: 0, windowWaitMs: 0, idleRounds: 0, gatherMs: 0 };
}

/** One chunk's figures into the totals. */
export function countChunk(s: CopyStats, c: { size: number; rows: number; ms: number; boundaryMs: number; windowWaitMs: number; span?: boolean }): void {
  s.chunks++;
  if (c.span) s.spanChunks++;
  s.rows += c.rows;
  s.chunkMs += c.ms;
  s.boundaryMs += c.boundaryMs;
  s.windowWaitMs += c.windowWaitMs;
  if (!s.firstChunkRows) s.firstChunkRows = c.size;
  s.maxChunkRows = Math.max(s.maxChunkRows, c.size);
  s.lastChunkRows = c.size;
  s.maxChunkMs = Math.max(s.maxChunkMs, c.ms);
}

/** Throttle wait by reason; the reason text loses its numbers so one cause is one entry. */
export function countThrottle(s: CopyStats, reason: string | null, ms: number): void {
  if (ms <= 0) return;
  s.throttleWaitMs += ms;
  const key = (reason ?? 'unknown').replace(/[\d.]+/g, 'N').slice(0, 80);
  s.throttleReasons[key] = (s.throttleReasons[key] ?? 0) + ms;
}

/** Whole milliseconds, for the report. */
export function roundStats<T extends object>(s: T): T {
  return JSON.parse(JSON.stringify(s, (_k, v: unknown) => (typeof v === 'number' ? Math.round(v) : v))) as T;
}
