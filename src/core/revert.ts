/**
 * `alter --revert`, as a runbook: the kept old table becomes the table again,
 * holding every write made to the new table since the cut-over.
 *
 *   inspect the kept old table -> refuse what can't be reverted -> stream the
 *     writes since the cut-over into it -> catch up -> verify -> cut-over
 *
 * The engine does the work with the forward run's own parts (stream, apply,
 * verification point, cut-over); the verification and the cut-over's
 * retries here are the forward run's too (core/verify.ts, core/cutover.ts).
 * A dry run (no --execute) only reports what it would do. Until the swap the
 * new table stays the table, and the old one keeps its name.
 */
import { parseConnectionUrl, redactedUrl } from '../connection.js';
import type { Engine, EngineCatalog } from '../engine/engine.js';
import type { RevertJob } from '../engine/revert-contract.js';
import { GhostwrightError, statusForExit, toGhostwrightError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { cutOverWithRetries } from './cutover.js';
import { newLiveMigration } from './live.js';
import type { AlterOptions } from './options.js';
import type { AlterReport } from './report.js';
import { verifyGhost, type VerifySupervisor } from './verify.js';

/** How long the revert's stream may take to catch up before the swap. */
const CATCH_UP_MS = 60_000;

export interface RevertDeps {
  /** The engines (src/alter.ts wires engine/index.ts's engineCatalog). */
  engines: EngineCatalog;
  log?: Logger;
  /** Aborts the revert cleanly before its swap (SIGINT/SIGTERM from the CLI). */
  signal?: AbortSignal;
}

export async function runRevert(options: AlterOptions, deps: RevertDeps): Promise<AlterReport> {
  const log = deps.log ?? silentLogger;
  const started = Date.now();
  const report: AlterReport = { status: 'failed', engine: 'unknown', table: options.table, rowsCopied: 0, eventsApplied: 0, durationMs: 0, copyMs: 0, cutOverStallMs: 0, cutOverAttempts: 0, oldTable: null };
  let engine: Engine | null = null;
  let job: RevertJob | null = null;
  let swapped = false;
  try {
    const spec = parseConnectionUrl(options.url, process.env, options.password !== undefined ? { password: options.password } : {});
    engine = await deps.engines.connect(spec, log);
    report.engine = engine.dialect;
    const ref = engine.tableRef(options.table);
    report.table = `${ref.schema}.${ref.name}`;
    job = engine.revert({ table: ref, cutOverLockTimeoutMs: options.cutOverLockTimeoutMs, maxBacklogEvents: options.maxBacklogEvents }, log);

    const prepared = await job.prepare();
    const target = prepared.target;
    report.revert = target;
    log.info({ table: report.table, oldTable: target.oldTable, from: target.from, url: redactedUrl(spec) }, 'revert: found the kept old table');
    if (target.defaulted.length) log.warn({ columns: target.defaulted }, 'revert: rows written since the cut-over get these old-shape columns\' defaults');
    if (!options.execute) {
      report.status = 'dry-run';
      return report;
    }

    const supervisor = quietSupervisor(options, report.table, engine.dialect, deps.signal);
    const stream = await prepared.startStream();
    supervisor.setState('catching-up');
    await stream.waitCaughtUp(CATCH_UP_MS);
    report.verify = await verifyGhost(stream, supervisor, options, log);
    const cut = await cutOverWithRetries(stream, supervisor, options, log);
    swapped = true;
    report.cutOverStallMs = Math.round(cut.stallMs);
    report.cutOverAttempts = cut.attempts;
    report.oldTable = cut.oldTable;
    report.eventsApplied = stream.streamStats().eventsApplied;
    report.status = 'done';
    return report;
  } catch (err) {
    const error = toGhostwrightError(err);
    report.status = swapped ? 'done' : statusForExit(error.exitCode);
    if (!swapped) report.error = error.toJSON();
    log.debug({ err: error }, 'revert did not complete');
    return report;
  } finally {
    // Before a swap, abort puts the old table back as it was found; after it, only connections remain.
    if (job) await (swapped ? job.cleanup() : job.abort()).catch((e: unknown) => log.warn({ err: e }, 'revert: cleanup incomplete'));
    report.durationMs = Date.now() - started;
    await engine?.close().catch(() => undefined);
  }
}

/** The verification and the cut-over report to a supervisor; a revert has no throttler or socket, only a signal. */
function quietSupervisor(options: AlterOptions, table: string, engine: string, signal?: AbortSignal): VerifySupervisor {
  const live = newLiveMigration({ chunkSize: options.chunkSize, maxLagMs: options.throttle.maxLagMs }, { table, engine });
  return {
    live,
    setState(state) {
      live.progress.state = state;
    },
    checkAborted() {
      if (signal?.aborted) throw new GhostwrightError('E_INTERRUPTED', 'interrupted: revert aborted', { hint: 'the new table stays the table and the old one keeps its name; run the revert again when ready' });
    },
  };
}
