/**
 * Postponing and retrying the cut-over. The swap itself is the engine's
 * (LOCK TABLES + a queued RENAME on MySQL, one transaction on PostgreSQL); here: wait while
 * the DBA postpones it, run the before-cut-over hook, and retry a lock
 * timeout with exponential backoff and jitter. Each attempt blocks writers at
 * most --cut-over-lock-timeout, and a failed attempt leaves the original in place.
 */
import { isCutOverPostponed } from './flags.js';
import type { CutOverResult, Migration } from '../engine/engine.js';
import { GhostwrightError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AlterOptions } from './options.js';
import type { MigrationSupervisor } from './supervisor.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * While postponed the stream keeps applying, so the final catch-up stays
 * short, in gathered batches (Migration.relaxApply): gentler on the
 * application, which may run for hours beside a postponed cut-over.
 */
export async function waitWhilePostponed(supervisor: MigrationSupervisor, options: AlterOptions, m: Pick<Migration, 'relaxApply'>): Promise<void> {
  try {
    for (;;) {
      supervisor.checkAborted();
      if (!isCutOverPostponed(options.postponeCutOverFlagFile, supervisor.live.settings)) {
        // A failing on-before-cut-over hook postpones: the hook is asked again
        // every few seconds until it passes (or a DBA runs `cut-over`).
        const verdict = await supervisor.hook('on-before-cut-over');
        if (verdict.ok || supervisor.live.settings.cutOverNow) return;
      }
      supervisor.setState('postponed');
      m.relaxApply(true);
      await sleep(options.postponeCutOverFlagFile || supervisor.live.settings.postponeCutOver ? 250 : 2000);
    }
  } finally {
    m.relaxApply(false);
  }
}

export async function cutOverWithRetries(
  online: Pick<Migration, 'waitCaughtUp' | 'cutOver'>,
  supervisor: Pick<MigrationSupervisor, 'setState' | 'checkAborted'>,
  options: Pick<AlterOptions, 'cutOverRetries'>,
  log: Logger,
): Promise<CutOverResult & { attempts: number }> {
  const attempts = Math.max(1, options.cutOverRetries);
  for (let attempt = 1; ; attempt++) {
    supervisor.checkAborted();
    supervisor.setState('cutting-over');
    try {
      await online.waitCaughtUp(60_000);
      const result = await online.cutOver();
      log.info({ attempt, stallMs: result.stallMs }, 'cut-over done');
      return { ...result, attempts: attempt };
    } catch (err) {
      // Both leave the original untouched, and both pass when the load does.
      const retryable = err instanceof GhostwrightError && (err.code === 'E_CUTOVER_LOCK_TIMEOUT' || err.code === 'E_CUTOVER_CATCHUP_TIMEOUT');
      if (!retryable || attempt >= attempts) throw err;
      const backoff = Math.min(10_000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random());
      log.warn({ attempt, backoffMs: Math.round(backoff), err }, 'cut-over timed out under its lock; original untouched, retrying');
      supervisor.setState('catching-up');
      await sleep(backoff);
    }
  }
}
