/**
 * The row copy: keyset chunks over the shared key, optionally split into
 * disjoint key ranges copied by parallel workers. Between chunks each worker
 * asks the supervisor whether it may go on (throttling, panic, signals) and
 * holds back while the stream's backlog is above its high-water mark.
 */
import pLimit from 'p-limit';
import type { ChunkResult, CopyRange, KeyTuple, Migration, RowCopy } from '../engine/engine.js';
import { arithmeticEnd, DEFAULT_LIMITS, nextChunkSize, type ChunkSpan } from './chunker.js';
import type { AlterOptions } from './options.js';
import type { MigrationSupervisor } from './supervisor.js';
import { remainingRanges, type RangeProgress } from './checkpoint.js';
import type { CopyProgress } from './checkpointer.js';
import { countChunk, countThrottle, type CopyStats } from './run-stats.js';
import { CopyWallClock } from './copy-wall.js';
import type { Logger } from '../log.js';

export interface CopyTracking {
  progress: CopyProgress;
  /** The checkpoint's ranges when resuming. */
  resumed?: readonly RangeProgress[] | undefined;
  /** Runs once the ranges are known, before the first chunk (the first checkpoint). */
  begun?: () => Promise<void>;
  /** Where the copy's time goes (the report's stats), and a debug line per chunk. */
  stats?: CopyStats;
  log?: Logger;
  /** Runs after each chunk that did not finish its range (MigratorDeps.afterChunk). */
  afterChunk?: (() => Promise<void>) | undefined;
}

/**
 * Copies every row that exists when the copy starts; rows added later arrive
 * through the stream. Each committed chunk is reported to `progress` (the
 * checkpoints). On resume, `resumed` is the checkpoint's ranges: each goes
 * on after its progress, finished ones are skipped.
 */
export async function copyTable(migration: Migration, supervisor: MigrationSupervisor, options: AlterOptions, tracking: CopyTracking): Promise<number> {
  const { progress, resumed } = tracking;
  const wall = tracking.stats ? new CopyWallClock(Date.now()) : undefined;
  let ranges: CopyRange[];
  if (resumed) ranges = resumed.map((r) => ({ after: r.after, upTo: r.upTo }));
  else {
    const bounds = await migration.keyBounds();
    const threads = Math.max(1, options.threads);
    const points = bounds && threads > 1 ? await migration.splitPoints(threads) : [];
    ranges = bounds ? toRanges(points, bounds.max) : [];
  }
  const copy = migration.beginCopy(ranges, resumed);
  progress.begin(ranges, resumed);
  await tracking.begun?.();
  const todo = resumed ? remainingRanges(resumed) : ranges;
  const limit = pLimit(Math.max(1, options.threads));
  let total = 0;
  await Promise.all(
    todo.map((range, i) =>
      range
        ? limit(async () => {
            total += await copyRange({ migration, copy }, supervisor, options, range, (last, rows) => progress.chunkDone(i, last, rows), { ...tracking, wall });
          })
        : null,
    ),
  );
  if (wall && tracking.stats) tracking.stats.wall = wall.result();
  return total;
}

/** n split points -> n+1 ranges covering (-inf, max]: (null, p1], (p1, p2], ..., (pn, max]. */
export function toRanges(points: KeyTuple[], max: KeyTuple): CopyRange[] {
  const ranges: CopyRange[] = [];
  let after: KeyTuple | null = null;
  for (const p of points) {
    ranges.push({ after, upTo: p });
    after = p;
  }
  ranges.push({ after, upTo: max });
  return ranges;
}

async function copyRange(
  { migration, copy }: { migration: Migration; copy: RowCopy },
  supervisor: MigrationSupervisor,
  options: AlterOptions,
  range: CopyRange,
  committed: (last: KeyTuple | null, rows: number) => void,
  { stats, log, wall, afterChunk }: Pick<CopyTracking, 'stats' | 'log' | 'afterChunk'> & { wall: CopyWallClock | undefined },
): Promise<number> {
  const live = supervisor.live;
  const limits = { ...DEFAULT_LIMITS, targetMs: options.chunkTimeMs };
  let cursor: CopyRange = { ...range };
  let copied = 0;
  let size = live.settings.chunkSize;
  /** The last chunk, for an integer key's next end by arithmetic (chunker.ts). */
  let previous: ChunkSpan | null = null;
  for (;;) {
    const reason = live.progress.throttleReason;
    let t = Date.now();
    await supervisor.waitUntilClear();
    let now = Date.now();
    // No reason: the wait was the throttler's first reading of the load, not a pause.
    if (stats) countThrottle(stats, reason ?? live.progress.throttleReason ?? 'first load reading', now - t);
    wall?.span('throttle', t, now);
    t = now;
    await waitForBacklog(migration, supervisor, options.maxBacklogEvents);
    now = Date.now();
    if (stats) stats.backlogWaitMs += now - t;
    wall?.span('backlog', t, now);
    // A DBA's `chunk-size=N` on the socket wins over the adaptive size.
    if (live.settings.chunkSize !== options.chunkSize && live.settings.chunkSize !== size) size = live.settings.chunkSize;
    const end: KeyTuple | null | undefined = copy.integerKey ? arithmeticEnd(previous, cursor.upTo, size, copy.integerKey) : undefined;
    const t0 = Date.now();
    const chunk: ChunkResult = await copy.copyChunk(cursor, size, end);
    const t1 = Date.now();
    // Busy: the server worked for this chunk (its boundary read included); waiting for the window is not work.
    const busyMs = t1 - t0 - (chunk.windowWaitMs ?? 0);
    if (stats) countChunk(stats, { size, rows: chunk.rows, ms: busyMs - (chunk.boundaryMs ?? 0), boundaryMs: chunk.boundaryMs ?? 0, windowWaitMs: chunk.windowWaitMs ?? 0, span: end !== undefined });
    if (wall) {
      // copyChunk reads the boundary, then waits for the window, then inserts.
      const b = t0 + (chunk.boundaryMs ?? 0);
      const w = b + (chunk.windowWaitMs ?? 0);
      wall.span('boundary', t0, b);
      wall.span('window', b, w);
      wall.span('chunk', w, t1);
    }
    log?.debug({ size, rows: chunk.rows, ms: busyMs, boundaryMs: chunk.boundaryMs, windowWaitMs: chunk.windowWaitMs, backlog: migration.streamStats().backlog }, 'chunk');
    copied += chunk.rows;
    live.progress.rowsCopied += chunk.rows;
    committed(chunk.last, chunk.rows);
    if (!chunk.last) return copied;
    await afterChunk?.();
    // A span of `size` key values is as full as the key is dense: sized by its time, like a full chunk.
    if (live.settings.chunkSize === options.chunkSize) size = nextChunkSize(size, busyMs, end ? size : chunk.rows, limits);
    previous = { after: cursor.after, last: chunk.last, rows: chunk.rows };
    t = Date.now();
    await supervisor.restAfterChunk(busyMs);
    now = Date.now();
    if (stats) stats.shareRestMs += now - t;
    wall?.span('share', t, now);
    cursor = { after: chunk.last, upTo: cursor.upTo };
  }
}

/** The copy adds work for nobody while the stream is behind: let it drain first. */
async function waitForBacklog(migration: Migration, supervisor: MigrationSupervisor, max: number): Promise<void> {
  while (migration.streamStats().backlog > max) {
    supervisor.checkAborted();
    await new Promise((r) => setTimeout(r, 50));
  }
}
