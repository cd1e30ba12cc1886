/**
 * `ghostwright <command>`: a thin layer over the library. Exit codes: 0 ok,
 * 1 failed, 2 refused or bad input, 3 server not reached (retry may help). --json output goes to stdout, logs and
 * errors to stderr; a password never appears in either.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { redactUrlText } from '../connection.js';
import { isGhostwrightError, statusForExit } from '../errors.js';
import { choiceOption, LOG_LEVELS, ReportedExit } from './common.js';
import { registerAlter } from './commands/alter.js';
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
  registerLedger(program);
  registerControl(program);
  registerSandbox(program);
  registerDemo(program);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const json = argv.includes('--json');
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    process.exitCode = exitCodeFor(err, json);
  }
}

function exitCodeFor(err: unknown, json: boolean): number {
  if (err instanceof ReportedExit) return err.exitCode;
  if (err instanceof CommanderError) {
    // --help and --version end through here with exit code 0.
    return err.exitCode === 0 ? 0 : 2;
  }
  if (isGhostwrightError(err)) {
    if (json) process.stdout.write(`${JSON.stringify({ status: statusForExit(err.exitCode), error: err.toJSON() }, null, 2)}\n`);
    process.stderr.write(`error: ${redactUrlText(err.message)}\n`);
    if (err.hint) process.stderr.write(`  fix: ${redactUrlText(err.hint)}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  if (json) process.stdout.write(`${JSON.stringify({ status: 'failed', error: { code: 'E_INTERNAL', message: redactUrlText(message) } }, null, 2)}\n`);
  process.stderr.write(`error: ${redactUrlText(message)}\n`);
  if (process.env.GHOSTWRIGHT_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  return 1;
}
