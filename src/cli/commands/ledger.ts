/**
 * The ledger commands (`migrate`, `info`, `validate`, `baseline`, `repair`,
 * `undo`, `clean`, `lint`): a thin layer over src/ledger. Human tables on
 * stdout, or JSON with --json; "validate found problems" and "lint found
 * refuse-level issues" exit 1.
 */
import { Option, type Command } from 'commander';
import { parseConnectionUrl, type Dialect } from '../../connection.js';
import { GhostwrightError, RefusedError } from '../../errors.js';
import type { LedgerOptions } from '../../ledger/index.js';
import { loadLedgerConfig, type LedgerFlags } from '../../ledger/config.js';
import { loadMigrations } from '../../ledger/files.js';
import { choiceOption, collect, intOption, loggerFor, positiveIntOption, PROGRESS_MODES, ReportedExit } from '../common.js';
import { envelope, printEnvelope, type RunStatus } from '../envelope.js';
import { passwordOptions, resolvePassword, warnPasswordInArgv, type PasswordFlags } from '../password.js';
import { gracefulInterrupts } from '../signals.js';
import { formatDryRun, formatFindings, formatInfo, formatMigrate } from './ledger-format.js';

/**
 * The ledger (its runner, lint rules and SQL parsers) loads when a ledger
 * command runs: every `alter` paid its start-up before, 0.1-0.2 s on our
 * loaded 2-core machine.
 */
const ledger = () => import('../../ledger/index.js');

type Flags = LedgerFlags & PasswordFlags & { json?: boolean; dialect?: string };

function common(cmd: Command): Command {
  cmd
    .option('--url <url>', 'database URL (mysql://, mariadb://, postgres://); env GHOSTWRIGHT_URL')
    .option('--dir <dir>', 'migrations directory (default ./migrations); env GHOSTWRIGHT_DIR')
    .option('--table <name>', 'history table (default ghostwright_schema_history)')
    .option('--connect-retries <n>', 'retry connecting this many times, with backoff (database still starting)', intOption('--connect-retries'))
    .option('--lock-timeout <s>', 'seconds to wait for another runner\'s migration lock (default 600)', intOption('--lock-timeout'))
    .option('--placeholder <name=value>', 'placeholder value for ${name} (repeatable)', collect)
    .option('--json', 'print the result as JSON on stdout')
    .option('--config-file <path>', 'a Flyway config file (flyway.toml or flyway.conf; default: the one in the working directory)')
    .option('--locations <location>', 'Flyway-style migrations folder, filesystem:<dir> (same as --dir)')
    .option('--user <name>', 'database user for a URL without one (Flyway: -user=)')
    .addOption(new Option('--password <password>', 'Flyway: -password= (visible in ps: prefer --password-file)').hideHelp());
  return passwordOptions(cmd);
}

/** Options for a command; `writes` commands obey SIGINT/SIGTERM gracefully (src/cli/signals.ts). */
async function options(flags: Flags, cmd: Command, writes = false): Promise<LedgerOptions> {
  warnPasswordInArgv([flags.url]);
  warnPasswordInArgv(flags.replica ?? [], '--replica');
  // A delegated online ALTER shows its progress bar when a person is watching.
  const progress = flags.progress ?? (process.stderr.isTTY && !flags.json ? 'bar' : undefined);
  const resolved = loadLedgerConfig({ ...flags, ...(progress ? { progress } : {}) });
  if (!resolved.url) throw new RefusedError('E_NO_URL', 'no database URL given', { hint: 'pass --url, set GHOSTWRIGHT_URL, or put "url" in ghostwright.config.json' });
  if (flags.password !== undefined) warnPasswordInArgv([`mysql://u:${encodeURIComponent(flags.password)}@h/d`], '-password');
  const password = (await resolvePassword(flags)) ?? resolved.password;
  return { ...resolved, url: resolved.url, log: loggerFor(cmd), ...(password !== undefined ? { password } : {}), ...(writes ? { signal: gracefulInterrupts() } : {}) };
}

function out(command: string, flags: Flags, data: object, human: () => string, status: RunStatus = 'done'): void {
  if (flags.json) printEnvelope(envelope(command, status, data));
  else process.stdout.write(human());
}

export function registerLedger(program: Command): void {
  common(program.command('migrate'))
    .description('apply pending versioned migrations in order, then changed repeatables')
    .option('--target <version>', 'migrate up to and including this version')
    .option('--out-of-order', 'also apply pending versions older than the current one')
    .option('--baseline-on-migrate', 'baseline a non-empty schema that has no history table yet')
    .option('--baseline-version <version>', 'version for --baseline-on-migrate (default 1)')
    .option('--dry-run', 'print how each pending statement would run (direct / instant / online) and why; change nothing')
    .option('--online-threshold <rows>', 'rows above which a rewriting ALTER runs through the online engine (default 1000000)', intOption('--online-threshold'))
    .option('--installed-by <name>', 'recorded in the history (default: the database user)')
    .option('--chunk-size <n>', 'online engine: rows per chunk to start with', positiveIntOption('--chunk-size'))
    .option('--max-load <spec>', 'online engine: pause copying above these, e.g. Threads_running=25')
    .option('--critical-load <spec>', 'online engine: abort above these')
    .option('--max-lag-millis <ms>', 'online engine: pause copying while a replica lags more than this', intOption('--max-lag-millis'))
    .option('--replica <url>', 'online engine: replica to watch for lag (repeatable)', collect)
    .option('--progress <mode>', 'online engine progress: bar | json | none (default: bar on a terminal)', choiceOption('--progress', PROGRESS_MODES))
    .option('--postpone-cut-over-flag-file <file>', 'online engine: while this file exists, keep streaming and postpone the cut-over')
    .action(async (flags: Flags, cmd: Command) => {
      const result = await (await ledger()).migrate(await options(flags, cmd, true));
      out('migrate', flags, result, () => (result.dryRun ? formatDryRun(result.dryRun) : formatMigrate(result)), result.dryRun ? 'dry-run' : 'done');
    });

  common(program.command('info'))
    .description('show every migration and its state')
    .option('--target <version>', 'show versions above this as above-target')
    .option('--out-of-order', 'treat older pending versions as pending, not ignored')
    .action(async (flags: Flags, cmd: Command) => {
      const result = await (await ledger()).info(await options(flags, cmd));
      out('info', flags, result, () => formatInfo(result));
    });

  common(program.command('validate'))
    .description('check applied migrations against the files (checksums, failures, missing files, older pending versions); exit 1 on problems')
    .option('--out-of-order', 'allow pending versions older than the current one')
    .action(async (flags: Flags, cmd: Command) => {
      const result = await (await ledger()).validate(await options(flags, cmd));
      const failure = new GhostwrightError('E_VALIDATE', `validate found ${result.problems.length} problem(s)`, { exitCode: 1, hint: 'fix the files, or run `ghostwright repair`' });
      if (flags.json) {
        printEnvelope(envelope('validate', result.valid ? 'done' : 'failed', result, result.valid ? undefined : failure.toJSON()));
        if (!result.valid) throw new ReportedExit(1);
        return;
      }
      if (result.valid) process.stdout.write('validate: ok\n');
      else {
        process.stdout.write(`${result.problems.map((p) => p.message).join('\n')}\n`);
        throw failure;
      }
    });

  common(program.command('baseline'))
    .description('start the history of an existing schema at a version')
    .option('--baseline-version <version>', 'version the existing schema is at (default 1)')
    .action(async (flags: Flags, cmd: Command) => {
      const result = await (await ledger()).baseline(await options(flags, cmd, true));
      out('baseline', flags, result, () => `baseline: ${result.created ? 'created at' : 'already at'} version ${result.version}\n`);
    });

  common(program.command('repair'))
    .description('remove failed rows, realign checksums with the files, mark migrations with missing files as deleted')
    .action(async (flags: Flags, cmd: Command) => {
      const result = await (await ledger()).repair(await options(flags, cmd, true));
      out('repair', flags, result, () =>
        [
          `removed failed: ${result.removedFailed.join(', ') || '-'}`,
          `realigned:      ${result.realigned.join(', ') || '-'}`,
          `marked deleted: ${result.markedDeleted.join(', ') || '-'}`,
          '',
        ].join('\n'),
      );
    });

  common(program.command('undo'))
    .description('run U<version> files in reverse order: the latest version, or every version above --target')
    .option('--target <version>', 'undo every applied version above this one')
    .action(async (flags: Flags, cmd: Command) => {
      const result = await (await ledger()).undo(await options(flags, cmd, true));
      out('undo', flags, result, () => `${result.undone.map((u) => `undone ${u.version} (${u.script}) in ${u.executionTime} ms`).join('\n') || 'nothing to undo'}\nschema version: ${result.current ?? '(none)'}\n`);
    });

  common(program.command('clean'))
    .description('DROP every table, view, sequence, type and routine in the schema (refused unless --clean-enabled)')
    .option('--clean-enabled', 'allow clean (never in production); env GHOSTWRIGHT_CLEAN_ENABLED=true')
    .action(async (flags: Flags, cmd: Command) => {
      const result = await (await ledger()).clean(await options(flags, cmd, true));
      out('clean', flags, result, () => `dropped ${result.dropped.length} object(s)${result.dropped.length ? `: ${result.dropped.join(', ')}` : ''}\n`);
    });

  program
    .command('lint [files...]')
    .description('report unsafe operations in migration files (default: every migration in --dir); exit 1 on refuse-level findings')
    .option('--url <url>', 'database URL, only to pick the dialect; env GHOSTWRIGHT_URL')
    .option('--dialect <dialect>', 'mysql | postgres (default: from --url)')
    .option('--dir <dir>', 'migrations directory (default ./migrations)')
    .option('--json', 'print the findings as JSON on stdout')
    .action(async (files: string[], flags: Flags) => {
      warnPasswordInArgv([flags.url]);
      // A delegated online ALTER shows its progress bar when a person is watching.
  const progress = flags.progress ?? (process.stderr.isTTY && !flags.json ? 'bar' : undefined);
  const resolved = loadLedgerConfig({ ...flags, ...(progress ? { progress } : {}) });
      const dialect = lintDialect(flags.dialect, resolved.url);
      const paths = files.length ? files : listFiles(resolved.dir ?? 'migrations');
      const findings = await (await ledger()).lint(paths, { dialect });
      const refused = findings.filter((f) => f.severity === 'refuse').length;
      const failure = new GhostwrightError('E_LINT', `lint found ${refused} refuse-level issue(s)`, { exitCode: 1, hint: 'rewrite them as suggested, or add `-- ghostwright:ignore <id>` above the statement' });
      if (flags.json) {
        printEnvelope(envelope('lint', refused ? 'failed' : 'done', { findings }, refused ? failure.toJSON() : undefined));
        if (refused) throw new ReportedExit(1);
        return;
      }
      process.stdout.write(formatFindings(findings));
      if (refused) throw failure;
    });
}

function lintDialect(flag: string | undefined, url: string | undefined): Dialect {
  if (flag === 'mysql' || flag === 'mariadb') return 'mysql';
  if (flag === 'postgres' || flag === 'postgresql') return 'postgres';
  if (flag) throw new RefusedError('E_BAD_FLAG', `--dialect must be mysql or postgres, got "${flag}"`);
  if (url) return parseConnectionUrl(url).dialect;
  throw new RefusedError('E_NO_DIALECT', 'lint needs to know the SQL dialect', { hint: 'pass --dialect mysql|postgres or --url' });
}

function listFiles(dir: string): string[] {
  const set = loadMigrations(dir);
  return [...set.versioned, ...set.undo, ...set.repeatable].map((f) => f.path);
}
