/**
 * `ghostwright <command>`: a thin layer over the library. Exit codes: 0 ok,
 * 1 failed, 2 refused or bad input, 3 server not reached (retry may help). --json output goes to stdout, logs and
 * errors to stderr; a password never appears in either.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { redactUrlText } from '../connection.js';
import { GhostwrightError, isGhostwrightError, RefusedError } from '../errors.js';
import { failureEnvelope, printEnvelope } from './envelope.js';
import { applyConfig } from './config.js';
import { choiceOption, LOG_LEVELS, ReportedExit } from './common.js';
import { fromFlywayArgs } from './flyway-args.js';
import { installSignalHandlers, receivedSignal, signalExitCode } from './signals.js';
import { registerAlter } from './commands/alter.js';
import { registerCleanup } from './commands/cleanup.js';
import { registerControl } from './commands/control.js';
import { registerDemo } from './commands/demo.js';
import { registerDoctor } from './commands/doctor.js';
import { registerInspect } from './commands/inspect.js';
import { registerLedger } from './commands/ledger.js';
import { registerSandbox } from './commands/sandbox.js';

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Commands that read env and file through applyConfig; the ledger commands resolve theirs in src/ledger/config.ts. */
const CONFIGURED_COMMANDS = new Set(['alter', 'doctor', 'inspect', 'control']);

export function buildProgram(): Command {
  const program = new Command('ghostwright')
    .description('online schema changes for MySQL/MariaDB and PostgreSQL, with a Flyway-style migration ledger')
    .version(version())
    .option('--log-level <level>', 'trace | debug | info | warn | error | fatal | silent', choiceOption('--log-level', LOG_LEVELS))
    .option('--verbose', 'shorthand for --log-level debug')
    .option('--quiet', 'shorthand for --log-level error')
    .showHelpAfterError()
    .exitOverride();
  registerDoctor(program);
  registerInspect(program);
  registerAlter(program);
  registerCleanup(program);
  registerLedger(program);
  registerControl(program);
  registerSandbox(program);
  registerDemo(program);
  for (const cmd of program.commands) cmd.exitOverride();
  // flags > GHOSTWRIGHT_* > ghostwright.config.json, before the action reads its options.
  program.hook('preAction', (_program, action) => {
    if (CONFIGURED_COMMANDS.has(action.name())) applyConfig(action);
  });
  return program;
}

export async function main(rawArgv: string[]): Promise<void> {
  const argv = fromFlywayArgs(rawArgv);
  const json = argv.includes('--json');
  const program = buildProgram();
  const uninstall = installSignalHandlers();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    process.exitCode = exitCodeFor(err, json ? commandName(program, argv) : null);
  } finally {
    uninstall();
  }
  // Stopped by a signal (after cleaning up): say so the way a shell would.
  const signal = receivedSignal();
  if (signal) process.exitCode = signalExitCode(signal);
}

/** `migrate`, `sandbox start`, ...: the words of argv that name a (sub)command. */
export function commandName(program: Command, argv: string[]): string {
  const words: string[] = [];
  let cmd: Command = program;
  for (const a of argv.slice(2)) {
    const sub = cmd.commands.find((c) => c.name() === a || c.aliases().includes(a));
    if (!sub) continue;
    words.push(sub.name());
    cmd = sub;
  }
  return words.join(' ') || 'ghostwright';
}

/** Prints the error once (stderr; and the JSON envelope on stdout with --json) and returns the exit code. */
function exitCodeFor(err: unknown, jsonCommand: string | null): number {
  if (err instanceof ReportedExit) return err.exitCode;
  if (err instanceof CommanderError) {
    // --help and --version end through here with exit code 0; commander already printed the message.
    if (err.exitCode === 0) return 0;
    if (jsonCommand !== null) printEnvelope(failureEnvelope(jsonCommand, new RefusedError('E_USAGE', err.message.replace(/^error: /, ''), { hint: 'see --help' })));
    return 2;
  }
  const error = isGhostwrightError(err) ? err : new GhostwrightError('E_INTERNAL', err instanceof Error ? err.message : String(err), { cause: err });
  if (jsonCommand !== null) printEnvelope(failureEnvelope(jsonCommand, error));
  process.stderr.write(`error: ${redactUrlText(error.message)}\n`);
  if (error.hint) process.stderr.write(`  fix: ${redactUrlText(error.hint)}\n`);
  if (process.env.GHOSTWRIGHT_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  return error.exitCode;
}
