/**
 * Verification before cut-over (`--verify`, on by default): every row of the
 * original and the ghost compared at ONE consistent point by checksums, before
 * the swap makes the ghost the table: with a single integer key in one
 * statement per table, both at once, that checksums every span of key values
 * in one read of the table (VerifyPoint.spans, engine/key-spans.ts), else
 * chunk by chunk.
 *
 * The engine fixes the point (a snapshot of both tables at which the ghost
 * holds every change before it: on MySQL a brief write lock on the original,
 * no longer than the cut-over's, while the stream applies everything before
 * it; on PostgreSQL no lock, see engine/postgres/verify.ts) and checksums the shared columns as the ghost
 * holds them. A chunk that differs is copied again from the original as it is
 * by then, and checked again at a new point: a difference the stream would
 * have fixed is gone, one that persists is a defect (of the copy, the apply,
 * or the ALTER's conversion), and the cut-over is refused (E_VERIFY) with the
 * keys named. The original table is never touched.
 */
import type { KeyTuple, Migration, VerifyChunk, VerifyPoint } from '../engine/engine.js';
import { GhostwrightError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AlterOptions } from './options.js';
import type { MigrationSupervisor } from './supervisor.js';

export interface VerifyReport {
  /** When it began (epoch ms): benches line it up with a load's own timeline. */
  startedAt: number;
  ms: number;
  /** Rows of the original compared. */
  rows: number;
  chunks: number;
  /** Chunks that differed at the first point and were copied again. */
  recopiedChunks: number;
  /** Longest time writers were held to fix a point, ms. */
  lockMs: number;
  /** Shared columns the engine could not compare exactly, with why. */
  uncompared: string[];
}

/** Keys named in an E_VERIFY message. */
const MAX_KEYS = 10;

/** What verification needs of a run: the forward ALTER's, or a revert's (core/revert.ts). */
export type VerifyTarget = Pick<Migration, 'openVerifyPoint' | 'recopyRange'>;
export type VerifySupervisor = Pick<MigrationSupervisor, 'setState' | 'checkAborted' | 'live'>;
type VerifyOptions = Pick<AlterOptions, 'verify' | 'cutOverRetries'>;

/** The verification phase; skipped (undefined) with --no-verify. */
export async function verifyGhost(online: VerifyTarget, supervisor: VerifySupervisor, options: VerifyOptions, log: Logger): Promise<VerifyReport | undefined> {
  if (!options.verify) return undefined;
  const started = Date.now();
  supervisor.setState('verifying');
  const live = supervisor.live.progress;
  live.rowsVerified = 0;
  const report: VerifyReport = { startedAt: started, ms: 0, rows: 0, chunks: 0, recopiedChunks: 0, lockMs: 0, uncompared: [] };
  const differing: { after: KeyTuple | null; through: KeyTuple }[] = [];
  const point = await fixPoint(online, supervisor, options, log, report);
  report.uncompared = point.uncompared;
  if (point.uncompared.length) log.warn({ columns: point.uncompared }, 'verification leaves these columns out');
  try {
    let after: KeyTuple | null = null;
    const tally = (chunk: VerifyChunk): void => {
      report.chunks++;
      report.rows += chunk.rows;
      live.rowsVerified = report.rows;
      if (!chunk.same) differing.push({ after: chunk.after, through: chunk.through });
      after = chunk.through;
    };
    // One pass over each table when the engine offers it (a single integer
    // key: spans of key values), else chunk by chunk.
    const spans = point.spans ? await unlessAborted(point.spans(), supervisor) : null;
    if (spans) spans.forEach(tally);
    else {
      for (;;) {
        supervisor.checkAborted();
        const chunk = await point.chunk(after, point.chunkRows ?? Math.max(1000, supervisor.live.settings.chunkSize));
        if (!chunk) break;
        tally(chunk);
      }
    }
    // Ghost rows above the original's last key (or any, when the original
    // has none) are in no chunk: they would survive the swap as extra rows.
    const beyond = await point.ghostKeyAfter(after);
    if (beyond) {
      report.chunks++;
      differing.push({ after, through: beyond });
    }
  } finally {
    await point.close();
  }
  if (differing.length) {
    log.warn({ chunks: differing.length }, 'verification: chunks differ; copying them again');
    report.recopiedChunks = differing.length;
    for (const r of differing) await online.recopyRange(r.after, r.through);
    const again = await fixPoint(online, supervisor, options, log, report);
    const keys: KeyTuple[] = [];
    try {
      for (const r of differing) {
        if ((await again.range(r.after, r.through)).same) continue;
        keys.push(...(await again.differingKeys(r.after, r.through, MAX_KEYS - keys.length)));
        if (keys.length >= MAX_KEYS) break;
      }
    } finally {
      await again.close();
    }
    if (keys.length) {
      throw new GhostwrightError('E_VERIFY', `the new table differs from the original at ${keys.length}${keys.length >= MAX_KEYS ? '+' : ''} key(s), even after copying them again: ${keys.map((k) => `(${k.map(String).join(', ')})`).join(', ')}`, {
        hint: 'the cut-over was refused and the original is untouched; compare those rows of the original and the ghost (re-run with --no-verify only once the cause is understood)',
      });
    }
  }
  report.ms = Date.now() - started;
  log.info({ ms: report.ms, rows: report.rows, chunks: report.chunks, recopied: report.recopiedChunks, lockMs: report.lockMs }, 'verification: the new table equals the original');
  return report;
}

/**
 * `work`'s result, or the run's stop as soon as it must stop (checked every
 * 250 ms): one pass over a large table is one long statement, which the
 * point's close() cancels.
 */
async function unlessAborted<T>(work: Promise<T>, supervisor: VerifySupervisor): Promise<T> {
  let timer: ReturnType<typeof setInterval> | undefined;
  const stop = new Promise<never>((_, reject) => {
    timer = setInterval(() => {
      try {
        supervisor.checkAborted();
      } catch (err) {
        reject(err);
      }
    }, 250);
  });
  try {
    return await Promise.race([work, stop]);
  } finally {
    clearInterval(timer);
    work.catch(() => undefined);
  }
}

/** Fixes a consistent point, retrying a lock timeout as the cut-over does. */
async function fixPoint(online: VerifyTarget, supervisor: VerifySupervisor, options: VerifyOptions, log: Logger, report: VerifyReport): Promise<VerifyPoint> {
  const attempts = Math.max(1, options.cutOverRetries);
  for (let attempt = 1; ; attempt++) {
    supervisor.checkAborted();
    try {
      const point = await online.openVerifyPoint();
      report.lockMs = Math.max(report.lockMs, point.lockMs);
      return point;
    } catch (err) {
      if (!(err instanceof GhostwrightError && err.code === 'E_VERIFY_LOCK_TIMEOUT') || attempt >= attempts) throw err;
      const backoff = Math.min(10_000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random());
      log.warn({ attempt, backoffMs: Math.round(backoff), err }, 'verification could not fix its point in time; retrying');
      await new Promise((r) => setTimeout(r, backoff));
    }
  }
}
