/**
 * The online ALTER, as a DBA's runbook:
 *
 *   inspect -> [resume?] -> preflight -> create ghost -> start stream -> copy rows
 *     -> catch up -> verify -> [postpone?] -> cut-over -> cleanup -> report
 *
 * A resumed run (--resume, core/checkpoint.ts) attaches to the interrupted
 * run's ghost instead of creating one, restarts the stream from the
 * checkpoint and copies each range on from its progress: the same runbook.
 *
 * Each step is one call; the dialect lives behind the engine contract, the
 * copy loop and the cut-over retries live in their own modules. Whatever
 * happens after the ghost exists, the original table stays untouched unless
 * the cut-over committed, and abort() removes what we created.
 */
import { parseConnectionUrl, redactedUrl, type ConnectionSpec } from '../connection.js';
import type { Engine, EngineCatalog, GhostShape, Migration, OnlineAlter, TableRef } from '../engine/engine.js';
import type { CopyPlan } from './columns.js';
import { GhostwrightError, statusForExit, toGhostwrightError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { checkAlter } from './alter-text.js';
import { describePlan, planCopy } from './copy-plan.js';
import { copyTable } from './copier.js';
import { cutOverWithRetries, waitWhilePostponed } from './cutover.js';
import type { LiveMigration } from './live.js';
import { oldTableStamp } from './names.js';
import { initialDrops } from './initial-drop.js';
import { leftoverCheck } from './leftovers.js';
import type { AlterOptions } from './options.js';
import type { AlterReport } from './report.js';
import type { MigrationObservers } from './observers.js';
import { preflight } from './preflight.js';
import { MigrationSupervisor } from './supervisor.js';
import { verifyGhost } from './verify.js';
import { checkResumeKey, type Checkpoint } from './checkpoint.js';
import { Checkpointer, CopyProgress } from './checkpointer.js';
import { findCheckpoint, keepForResume, leftoversBesidesRun, swapCommitted, testKillPoint } from './resume.js';
import { newApplyStats, newCopyStats, roundStats } from './run-stats.js';

export interface MigratorDeps {
  /** The engines (engine/index.ts's engineCatalog; src/alter.ts wires it). */
  engines: EngineCatalog;
  /** Progress, hooks, control socket (src/alter.ts wires the real ones); none when absent. */
  observers?: MigrationObservers;
  log?: Logger;
  /** Aborts the migration cleanly (SIGINT/SIGTERM from the CLI). */
  signal?: AbortSignal;
  /** Observe or steer the live state (tests, embedding applications). */
  live?: LiveMigration;
  /** Runs once the copy is done, before catch-up and verification (tests inject faults here). */
  afterCopy?: () => Promise<void>;
  /** Runs after each chunk that did not finish its range, with the number of such chunks so far (tests inject faults here). */
  afterChunk?: (chunk: number) => Promise<void>;
  /** Preflight check ids whose failure does not refuse the run (tests drive paths the preflight refuses). */
  ignoreChecks?: readonly string[];
}

export async function runOnlineAlter(options: AlterOptions, deps: MigratorDeps): Promise<AlterReport> {
  const log = deps.log ?? silentLogger;
  const started = Date.now();
  const report: AlterReport = {
    status: 'failed',
    engine: 'unknown',
    table: options.table,
    rowsCopied: 0,
    eventsApplied: 0,
    startedAt: started,
    durationMs: 0,
    copyMs: 0,
    cutOverStallMs: 0,
    cutOverAttempts: 0,
    oldTable: null,
  };
  let engine: Engine | null = null;
  let online: OnlineAlter | null = null;
  let migration: Migration | null = null;
  let swapped = false;
  let supervisor: MigrationSupervisor | null = null;
  let checkpoint: Checkpoint | null = null;
  let checkpointer: Checkpointer | null = null;
  try {
    const withPassword = options.password !== undefined ? { password: options.password } : {};
    const spec = parseConnectionUrl(options.url, process.env, withPassword);
    const replicas = options.replicas.map((r) => parseConnectionUrl(r, process.env, withPassword));
    // The dialect's real parser reads --alter before anything connects:
    // anything but one ALTER TABLE of this table is refused here.
    const parser = await deps.engines.alterParser(spec.dialect);
    const parsed = parser.parseAlter(options.alter);
    const fold = spec.dialect === 'mysql' ? (n: string) => n.toLowerCase() : (n: string) => n;
    const same = (a: string, b: string): boolean => fold(a) === fold(b);
    checkAlter(parsed, parser.parseTable(options.table), same);
    engine = await deps.engines.connect(spec, log);
    report.engine = engine.dialect;
    const ref = engine.tableRef(options.table);
    report.table = `${ref.schema}.${ref.name}`;
    const clauses = checkAlter(parsed, ref, same);
    const stamp = options.timestampOldTable ? oldTableStamp(new Date(started)) : undefined;

    // inspect + preflight: refuse before anything is written.
    const original = await engine.inspect(ref);
    log.info({ table: report.table, rows: original.estimatedRows, url: redactedUrl(spec) }, 'inspected');
    online = engine.onlineAlter(
      {
        table: ref,
        alter: clauses,
        cutOverLockTimeoutMs: options.cutOverLockTimeoutMs,
        dropOldTable: options.dropOldTable,
        ...(stamp ? { oldTableStamp: stamp } : {}),
        maxBacklogEvents: options.maxBacklogEvents,
        ...(options.deferIndexes === false ? { deferIndexes: false } : {}),
        streamStartTimeoutMs: options.streamStartTimeoutMs,
        maxRetainedWalBytes: options.throttle.maxRetainedWalBytes,
        resume: options.resume,
        ...(options.revertWindowMs ? { revertWindowMs: options.revertWindowMs } : {}),
      },
      { replicas, discoverReplicas: options.replicaDiscovery, log },
    );
    // resume: an interrupted run's checkpoint is continued with --resume, refused without.
    checkpoint = await findCheckpoint(online, options, report.table, clauses, () => engine!.leftovers(ref));
    if (checkpoint) report.resumed = { phase: checkpoint.phase, rowsCopied: checkpoint.rowsCopied, streamPosition: checkpoint.streamPosition };
    if (checkpoint && options.execute && swapCommitted(checkpoint, await engine.leftovers(ref))) {
      await finishCommittedSwap(engine, online, ref, options);
      swapped = true;
      report.status = 'done';
      return report;
    }
    const drops = await initialDrops(engine, ref, options, stamp !== undefined);
    if (drops.length > 0) {
      report.initiallyDropped = drops.map((d) => d.name);
      log.warn({ leftovers: report.initiallyDropped }, options.execute ? 'dropped leftovers of an earlier run' : 'with --execute, would drop leftovers of an earlier run first');
    }
    // A dry run drops nothing, but an old table it would drop is not in its way;
    // a ghost is (the dry run proves the ALTER on a ghost of that name).
    const ignore = options.execute ? [] : drops.filter((d) => d.kind === 'old-table').map((d) => d.name);
    const recheck = checkpoint
      ? () => leftoversBesidesRun(engine!, ref, ignore, stamp !== undefined)
      : ignore.length
        ? async () => leftoverCheck(ref, (await engine!.leftovers(ref)).filter((l) => !ignore.includes(l.name)), { oldTableStamped: stamp !== undefined })
        : undefined;
    const warnings = await preflight(online, original, recheck, deps.ignoreChecks);
    for (const w of warnings) log.warn({ check: w.id, detail: w.detail }, w.title);

    supervisor = await MigrationSupervisor.start({ options, engine, probe: online.probe, tables: online.tables, table: report.table, spec, live: deps.live, signal: deps.signal, log, estimatedRows: original.estimatedRows, observers: deps.observers });
    await supervisor.hook('on-startup');

    // ghost: created like the original, then altered; this also proves the
    // ALTER valid. A dry run only probes it and leaves nothing behind.
    // On resume: the interrupted run's ghost, as it is (its stream restarts
    // from the checkpoint).
    const validate = async (g: GhostShape): Promise<CopyPlan> => {
      const plan = planCopy(original, g.shape, parsed, fold);
      if (checkpoint) checkResumeKey(checkpoint, { name: plan.keyName, columns: plan.sourceKey });
      g.checkPlan(plan);
      await supervisor!.hook('on-validated');
      return plan;
    };
    if (!options.execute) {
      let plan: CopyPlan;
      let indexesAfterCopy: string[] | undefined;
      if (checkpoint) {
        plan = await validate(await online.attach!(checkpoint));
        await online.abort({ keepForResume: true });
      } else {
        const probed = await online.probeGhost();
        plan = await validate(probed);
        indexesAfterCopy = probed.deferredIndexes(plan);
        await probed.drop();
      }
      report.status = 'dry-run';
      report.plan = describePlan(original, plan, options, online.tables, warnings);
      if (indexesAfterCopy) report.plan.indexesAfterCopy = indexesAfterCopy;
      return report;
    }
    const ghost = checkpoint ? await online.attach!(checkpoint) : await online.createGhost();
    const plan = await validate(ghost);

    // stream first: every change committed after this point reaches the ghost.
    const m = await ghost.startStream(plan);
    migration = m;
    await supervisor.hook('on-rowcount-complete');
    supervisor.beginCopy(m);
    await supervisor.hook('on-begin-copy');
    const progress = new CopyProgress(checkpoint?.rowsCopied ?? 0);
    supervisor.live.progress.rowsCopied = progress.rowsCopied;
    const cps = new Checkpointer({ migration: m, table: report.table, alter: clauses, key: { name: plan.keyName, columns: plan.sourceKey }, progress, state: () => supervisor!.live.progress.state, log, intervalMs: options.checkpointIntervalMs });
    checkpointer = cps;
    const copyStarted = Date.now();
    const copyStats = newCopyStats();
    report.stats = { copy: copyStats, apply: newApplyStats() };
    report.rowsCopied = await copyTable(m, supervisor, options, { progress, resumed: checkpoint?.ranges, begun: () => cps.start(), stats: copyStats, log, afterChunk: chunkHook(deps.afterChunk) });
    report.copyMs = Date.now() - copyStarted;
    log.info({ copy: roundStats(copyStats), apply: m.streamStats().apply }, 'copy done');
    supervisor.copyFinished();
    await cps.write('catching-up');

    await deps.afterCopy?.();

    supervisor.setState('catching-up');
    await m.waitCaughtUp(60_000);
    report.verify = await verifyGhost(m, supervisor, options, log);
    await waitWhilePostponed(supervisor, options, m);
    await cps.write('cutting-over');
    cps.pause();
    const cut = await cutOverWithRetries(m, supervisor, options, log);
    swapped = true;
    testKillPoint('after-swap');
    report.cutOverStallMs = Math.round(cut.stallMs);
    report.cutOverAttempts = cut.attempts;
    report.oldTable = cut.oldTable;

    supervisor.quiesce();
    supervisor.setState('cleaning-up');
    report.eventsApplied = m.streamStats().eventsApplied;
    report.stats = roundStats({ copy: copyStats, apply: m.streamStats().apply ?? newApplyStats() });
    await online.cleanup();
    report.status = 'done';
    supervisor.setState('done');
    await supervisor.hook('on-success');
    return report;
  } catch (err) {
    const error = toGhostwrightError(err);
    checkpointer?.stop();
    // No heartbeat into a changelog the abort is about to drop (it logged 'heartbeat failed' on every SIGINT).
    supervisor?.quiesce();
    report.status = statusForExit(error.exitCode);
    report.error = error.toJSON();
    if (online) {
      report.eventsApplied = safeStats(migration);
      // After a committed swap the new table is live: only the stream and
      // changelog remain to clean up, never the ghost (it IS the table now).
      // abort() also closes the migration's connections, so it runs on every
      // path, refusals included; engines drop only what this run created.
      if (swapped) await online.cleanup().catch((e: unknown) => log.warn({ err: e }, 'cleanup after cut-over failed'));
      else {
        const keep = keepForResume(error, { checkpointed: checkpointer !== null, resuming: checkpoint !== null });
        await online.abort({ keepForResume: keep });
        if (keep && !checkpoint) report.error = { ...error.toJSON(), hint: `the ghost and the checkpoint are kept: continue with the same command and --resume (${error.hint ?? error.message})` };
      }
    }
    if (swapped) {
      report.status = 'done';
      delete report.error;
    }
    supervisor?.setState(report.status === 'done' ? 'done' : 'failed');
    await supervisor?.hook(report.status === 'done' ? 'on-success' : 'on-failure', { GHOSTWRIGHT_ERROR: error.message });
    // The report carries the error; the CLI prints it once (logging it too printed it twice).
    log.debug({ err: error }, 'online alter did not complete');
    return report;
  } finally {
    checkpointer?.stop();
    report.durationMs = Date.now() - started;
    if (supervisor) {
      report.phases = { setup: Math.round((supervisor.startedAt - started) / 10) / 100, ...supervisor.timeline() };
      report.rowsCopied = Math.max(report.rowsCopied, supervisor.live.progress.rowsCopied);
      if (options.execute) report.replicas = { discovery: options.replicaDiscovery, watched: Object.keys(supervisor.live.progress.replicaLagMs) };
      await supervisor.stop();
    }
    await engine?.close().catch(() => undefined);
  }
}

/** Numbers the chunks for MigratorDeps.afterChunk (the copy's workers share one count). */
function chunkHook(hook: MigratorDeps['afterChunk']): (() => Promise<void>) | undefined {
  let chunks = 0;
  return hook && (() => hook(++chunks));
}

/** The interrupted run had swapped the tables: only its changelog (and, with --ok-to-drop-table, the old table) is left. */
async function finishCommittedSwap(engine: Engine, online: OnlineAlter, ref: TableRef, options: AlterOptions): Promise<void> {
  const old = (await engine.leftovers(ref)).filter((l) => l.kind === 'old-table' && !l.timestamped);
  if (options.dropOldTable && old.length) await engine.dropLeftovers(ref, old);
  await online.cleanup();
}

function safeStats(migration: Migration | null): number {
  try {
    return migration?.streamStats().eventsApplied ?? 0;
  } catch {
    return 0;
  }
}

export type { ConnectionSpec };
export { GhostwrightError };
