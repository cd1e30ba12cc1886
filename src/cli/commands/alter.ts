import type { Command } from 'commander';
import { parseLoadSpec } from '../../core/load-spec.js';
import { runOnlineAlter, runRevert } from '../../alter.js';
import { alterOptions, replicaChoice, type AlterOptions } from '../../core/options.js';
import type { AlterReport } from '../../core/report.js';
import { exitForStatus, RefusedError } from '../../errors.js';
import { envelope, printEnvelope } from '../envelope.js';
import { choiceOption, collect, durationOption, httpUrlOption, intOption, loggerFor, positiveIntOption, PROGRESS_MODES, ReportedExit, requireUrl, secondsOption, threadsOption } from '../common.js';
import { resolvePassword, warnPasswordInArgv, type PasswordFlags } from '../password.js';
import { gracefulInterrupts } from '../signals.js';

interface AlterFlags extends PasswordFlags {
  url?: string;
  table: string;
  alter?: string;
  revert?: boolean;
  execute?: boolean;
  chunkSize: number;
  chunkTime: number;
  threads: number | 'auto';
  okToDropTable?: boolean;
  cutOverLockTimeout: number;
  cutOverRetries: number;
  verify?: boolean;
  postponeCutOverFlagFile?: string;
  replica: string[];
  maxLoad?: string;
  criticalLoad?: string;
  criticalLoadIntervalMillis?: number;
  criticalLoadHibernateSeconds: number;
  throttleHttp?: string;
  maxLagMillis: number;
  maxRetainedWalMb: number;
  throttleFlagFile?: string;
  panicFlagFile?: string;
  throttleQuery?: string;
  heartbeatIntervalMillis: number;
  socket?: string;
  hooksPath?: string;
  statusInterval: number;
  progress?: 'bar' | 'json' | 'none';
  maxBacklog: number;
  deferIndexes?: boolean;
  maxShare: number;
  streamStartTimeout: number;
  json?: boolean;
  exactRowcount?: boolean;
  timestampOldTable?: boolean;
  initiallyDropGhostTable?: boolean;
  initiallyDropOldTable?: boolean;
  resume?: boolean;
  checkpointIntervalMillis?: number;
  revertWindow?: number;
}

export function registerAlter(program: Command): void {
  program
    .command('alter')
    .description('change a table online: ghost table + change stream + atomic swap (dry run unless --execute)')
    .option('--url <url>', 'database URL (mysql://, mariadb://, postgres://); env GHOSTWRIGHT_URL')
    .requiredOption('--table <name>', 'table to change, optionally schema-qualified')
    .option('--alter <sql>', 'clauses after ALTER TABLE <table>, or a whole ALTER TABLE statement for the same table (required unless --revert)')
    .option('--revert', 'swap the kept old table (_<table>_del) back in, with every write made since the cut-over (dry run unless --execute)')
    .option('--revert-window <duration>', 'PostgreSQL: keep the replication slot after the cut-over this long (e.g. 1h), so alter --revert can swap back; its WAL is retained meanwhile', durationOption('--revert-window'))
    .option('--execute', 'migrate for real (default: dry run that proves the ALTER on a ghost table and prints the plan)')
    .option('--chunk-size <n>', 'rows per chunk to start with; adapts to --chunk-time', positiveIntOption('--chunk-size'), 5000)
    .option('--chunk-time <ms>', 'target time per chunk', positiveIntOption('--chunk-time'), 500)
    .option('--threads <n|auto>', 'parallel copy workers over disjoint key ranges; auto (default): one per core, at most 4, for a server on this machine, else 4', threadsOption('--threads'), 'auto')
    .option('--ok-to-drop-table', 'drop the old table after cut-over (default: keep it as _<table>_del)')
    .option('--cut-over-lock-timeout <s>', 'seconds writers may be blocked per cut-over attempt', secondsOption('--cut-over-lock-timeout', { positive: true }), 3)
    .option('--cut-over-retries <n>', 'cut-over attempts before giving up', positiveIntOption('--cut-over-retries'), 5)
    .option('--verify', 'compare every row of the ghost with the original at one consistent point before the cut-over (default)')
    .option('--no-verify', 'skip that comparison')
    .option('--postpone-cut-over-flag-file <file>', 'while this file exists, keep streaming and postpone the cut-over')
    .option('--replica <url|none>', 'replica to watch for lag (repeatable); default: the replicas the primary reports; none: watch no replica', collect, [])
    .option('--max-load <spec>', 'pause copying above these, e.g. Threads_running=25 (PG: active_sessions=40)')
    .option('--critical-load <spec>', 'abort above these')
    .option('--critical-load-interval-millis <ms>', 'abort only when critical load lasts this long (0: at once)', intOption('--critical-load-interval-millis'), 0)
    .option('--critical-load-hibernate-seconds <s>', 'instead of aborting on critical load, pause copying and all throttle checks this long, then go on (0: abort)', secondsOption('--critical-load-hibernate-seconds', { positive: false }), 0)
    .option('--throttle-http <url>', 'pause copying while a HEAD request to this URL does not answer 200 within 1 s', httpUrlOption('--throttle-http'))
    .option('--max-lag-millis <ms>', 'pause copying while a replica lags more than this', intOption('--max-lag-millis'), 1500)
    .option('--max-retained-wal-mb <mb>', 'PostgreSQL: pause copying while our slot retains more WAL', intOption('--max-retained-wal-mb'), 1024)
    .option('--throttle-flag-file <file>', 'pause copying while this file exists')
    .option('--panic-flag-file <file>', 'abort at once, cleanly, when this file appears')
    .option('--throttle-query <sql>', 'pause copying while this query returns a value > 0')
    .option('--heartbeat-interval-millis <ms>', 'heartbeat for replica lag', intOption('--heartbeat-interval-millis'), 100)
    .option('--socket <path>', 'control socket (default: in the temp dir, named after the table)')
    .option('--hooks-path <dir>', 'directory of hook executables (on-startup, on-success, ...)')
    .option('--status-interval <s>', 'seconds between status lines and on-status hooks', secondsOption('--status-interval', { positive: true }), 10)
    .option('--progress <mode>', 'bar | json | none (default: bar on a terminal, else none)', choiceOption('--progress', PROGRESS_MODES))
    .option('--no-defer-indexes', "build the new table's indexes while copying (as gh-ost and pt-osc do) instead of once after the copy")
    .option('--max-backlog <n>', 'queued change events above which the stream pauses', positiveIntOption('--max-backlog'), 50_000)
    .option('--max-share <percent>', 'each copy worker is busy at most this % of the time (gh-ost --nice-ratio as a share; socket: max-share=N)', shareOption, 100)
    .option('--stream-start-timeout <s>', 'PostgreSQL: seconds the slot creation may wait for transactions already running', intOption('--stream-start-timeout'), 60)
    .option('--initially-drop-ghost-table', 'drop a ghost (and changelog) left by an earlier run on this table before starting, instead of refusing')
    .option('--initially-drop-old-table', 'drop a kept _<table>_del before starting, instead of refusing')
    .option('--resume', 'continue the interrupted run on this table (same --alter) from its checkpoint: its ghost, copy progress and stream position')
    .option('--checkpoint-interval-millis <ms>', 'how often the checkpoint (copy progress + stream position, for --resume) is written; also at each phase change', positiveIntOption('--checkpoint-interval-millis'), 2000)
    .option('--timestamp-old-table', 'keep the old table as _<table>_<UTC yyyymmddhhmmss>_del, so a kept _<table>_del does not stand in the way')
    .option('--exact-rowcount', 'count the rows (SELECT COUNT(*), in the background on its own connection) for an exact progress total instead of the estimate')
    .option('--json', 'print the final report as JSON on stdout')
    .option('--password-file <path>', 'read the database password from this file (first line), for URLs without one; keeps it out of `ps`')
    .option('--ask-pass', 'prompt for the database password on the terminal (not echoed)')
    .action(async (flags: AlterFlags, cmd: Command) => {
      warnPasswordInArgv([flags.url]);
      warnPasswordInArgv(flags.replica, '--replica');
      const password = await resolvePassword(flags);
      const options: AlterOptions = Object.freeze({ ...toOptions(flags), ...(password !== undefined ? { password } : {}) });
      // The progress bar owns the terminal line: only warnings and errors may interrupt it.
      const log = loggerFor(cmd, options.progress === 'bar' ? 'warn' : undefined);
      const deps = { log, signal: gracefulInterrupts() };
      const report: AlterReport = flags.revert ? await runRevert(options, deps) : await runOnlineAlter(options, deps);
      if (flags.json) printEnvelope(envelope('alter', report.status, report, report.error));
      else process.stdout.write(formatReport(report));
      if (report.status === 'refused' || report.status === 'failed' || report.status === 'unreachable') throw new ReportedExit(exitForStatus(report.status));
    });
}

export function toOptions(flags: AlterFlags): AlterOptions {
  const progress = flags.progress ?? (process.stderr.isTTY && !flags.json ? 'bar' : 'none');
  return alterOptions({
    url: requireUrl(flags.url),
    table: flags.table,
    alter: alterText(flags),
    execute: flags.execute === true,
    chunkSize: Math.max(1, flags.chunkSize),
    chunkTimeMs: flags.chunkTime,
    ...(flags.threads === 'auto' ? {} : { threads: Math.max(1, flags.threads) }),
    dropOldTable: flags.okToDropTable === true,
    cutOverLockTimeoutMs: Math.round(flags.cutOverLockTimeout * 1000),
    cutOverRetries: flags.cutOverRetries,
    verify: flags.verify !== false,
    exactRowcount: flags.exactRowcount === true,
    timestampOldTable: flags.timestampOldTable === true,
    initiallyDropGhostTable: flags.initiallyDropGhostTable === true,
    initiallyDropOldTable: flags.initiallyDropOldTable === true,
    resume: flags.resume === true,
    checkpointIntervalMs: flags.checkpointIntervalMillis ?? 2000,
    revertWindowMs: revertWindow(flags),
    postponeCutOverFlagFile: flags.postponeCutOverFlagFile ?? null,
    ...replicaChoice(flags.replica),
    socketPath: flags.socket ?? null,
    hooksPath: flags.hooksPath ?? null,
    statusIntervalMs: Math.round(flags.statusInterval * 1000),
    progress,
    maxBacklogEvents: flags.maxBacklog,
    ...(flags.deferIndexes === false ? { deferIndexes: false } : {}),
    streamStartTimeoutMs: flags.streamStartTimeout * 1000,
    throttle: {
      maxLoad: flags.maxLoad ? parseLoadSpec(flags.maxLoad) : {},
      criticalLoad: flags.criticalLoad ? parseLoadSpec(flags.criticalLoad) : {},
      criticalLoadIntervalMs: flags.criticalLoadIntervalMillis ?? 0,
      criticalLoadHibernateMs: Math.round(flags.criticalLoadHibernateSeconds * 1000),
      throttleHttp: flags.throttleHttp ?? null,
      maxLagMs: flags.maxLagMillis,
      maxRetainedWalBytes: flags.maxRetainedWalMb * 1024 * 1024,
      throttleFlagFile: flags.throttleFlagFile ?? null,
      panicFlagFile: flags.panicFlagFile ?? null,
      throttleQuery: flags.throttleQuery ?? null,
      heartbeatIntervalMs: flags.heartbeatIntervalMillis,
      maxSharePercent: flags.maxShare,
    },
  });
}

/** --revert-window needs the old table kept, and belongs to the forward ALTER. */
function revertWindow(flags: AlterFlags): number | null {
  if (flags.revertWindow === undefined) return null;
  if (flags.okToDropTable) throw new RefusedError('E_USAGE', '--revert-window keeps the old table for a revert: it cannot go with --ok-to-drop-table', { hint: 'drop one of the two flags' });
  if (flags.revert) throw new RefusedError('E_USAGE', '--revert-window belongs to the forward alter, not to --revert', { hint: 'drop --revert-window' });
  return flags.revertWindow;
}

/** --alter, or nothing with --revert (which reads the old shape from the kept table). */
function alterText(flags: AlterFlags): string {
  if (flags.revert && flags.alter !== undefined) throw new RefusedError('E_USAGE', '--revert takes no --alter: it swaps the kept old table back in as it is', { hint: 'drop --alter, or drop --revert to run that ALTER' });
  if (flags.revert) return '';
  if (flags.alter === undefined) throw new RefusedError('E_USAGE', "required option '--alter <sql>' not specified", { hint: 'give --alter "ADD COLUMN ...", or --revert to swap back the last cut-over' });
  return flags.alter;
}

/** `watched r1, r2` / `none found` / `none watched (--replica none)`. */
export function replicasText(r: AlterReport['replicas']): string {
  if (!r) return 'unknown';
  if (r.watched.length) return `watched ${r.watched.join(', ')}`;
  return r.discovery ? 'none found (lag not watched)' : 'none watched (--replica none)';
}

function shareOption(value: string): number {
  const n = Number(value.replace(/%$/, ''));
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new RefusedError('E_BAD_FLAG', `--max-share must be a whole percent from 1 to 100, got "${value}"`);
  return n;
}

export function formatReport(r: AlterReport): string {
  const lines = [`${r.status}: ${r.engine} ${r.table}`];
  if (r.plan) {
    const p = r.plan;
    lines.push(
      `  key:          ${p.key.name} (${p.key.columns.join(', ')})`,
      `  rows:         ~${p.estimatedRows} (~${Math.round(p.estimatedBytes / 1048576)} MiB)`,
      `  chunking:     ${p.chunkSize} rows to start, ${p.threads} worker(s)`,
      `  columns:      ${p.columnsCopied.join(', ')}`,
    );
    if (p.columnsAdded.length) lines.push(`  added:        ${p.columnsAdded.join(', ')} (take their defaults)`);
    if (p.columnsDropped.length) lines.push(`  dropped:      ${p.columnsDropped.join(', ')}`);
    if (p.indexesAfterCopy) lines.push(`  indexes:      ${p.indexesAfterCopy.length ? `built after the copy: ${p.indexesAfterCopy.join(', ')}` : 'all kept through the copy'}`);
    lines.push(`  cut-over:     ${p.cutOver}`);
    for (const w of p.warnings) lines.push(`  warning:      ${w}`);
    lines.push('  (dry run: nothing changed; add --execute to migrate)');
  }
  if (r.revert) {
    lines.push(
      `  revert:       ${r.revert.oldTable} back in as ${r.table}, with the writes since its cut-over at ${r.revert.swappedAt} (from ${r.revert.from})`,
      `  columns:      ${r.revert.columns.join(', ')}`,
    );
    if (r.revert.defaulted.length) lines.push(`  defaulted:    ${r.revert.defaulted.join(', ')} (rows written since the cut-over take their defaults)`);
    if (r.status === 'dry-run') lines.push('  (dry run: nothing changed; add --execute to revert)');
  }
  if (r.status === 'done') {
    const rate = r.copyMs > 0 ? Math.round((r.rowsCopied * 1000) / r.copyMs) : 0;
    lines.push(
      `  rows copied:  ${r.rowsCopied} in ${r.copyMs} ms (${rate} rows/s)`,
      `  events:       ${r.eventsApplied} applied from the change stream`,
      `  cut-over:     writers blocked ${r.cutOverStallMs} ms (attempts: ${r.cutOverAttempts})`,
      `  replicas:     ${replicasText(r.replicas)}`,
      `  old table:    ${r.oldTable ?? 'dropped'}`,
      `  duration:     ${r.durationMs} ms`,
    );
  }
  if (r.error) {
    lines.push(`  error:        ${r.error.code}: ${r.error.message}`);
    if (r.error.hint) lines.push(`  fix:          ${r.error.hint}`);
  }
  return `${lines.join('\n')}\n`;
}
