/**
 * `ghostwright control --socket PATH <command...>`: talks to a running
 * migration's control socket, prints its answer. A missing socket exits 2
 * (RefusedError); an `error: ...` answer (bad command or value) exits 2 too,
 * after printing the answer.
 */
import type { Command } from 'commander';
import { sendControlCommand } from '../../control/client.js';
import { HELP } from '../../control/commands.js';
import { defaultSocketPath, findDefaultSockets } from '../../control/socket.js';
import { RefusedError } from '../../errors.js';
import { intOption, ReportedExit } from '../common.js';
import { envelope, printEnvelope } from '../envelope.js';

export function registerControl(program: Command): void {
  program
    .command('control')
    .description('send a command to a running migration (status, throttle, chunk-size=N, cut-over, panic, help, ...)')
    .option('--socket <path>', 'the control socket of the migration')
    .option('--table <table>', 'find the default socket of a migration of this table (t, schema.t, or db.schema.t on PostgreSQL)')
    .option('--timeout <ms>', 'how long to wait for the answer', intOption('--timeout'), 5000)
    .option('--json', 'print the answer in the JSON envelope on stdout (a JSON answer, e.g. of `status json`, as an object)')
    .argument('<command...>', 'the command and its arguments, e.g. status json, max-load=Threads_running=30')
    .addHelpText('after', `\n${HELP}\n`)
    .action(async (words: string[], opts: { socket?: string; table?: string; timeout: number; json?: boolean }) => {
      const path = opts.socket ?? (opts.table ? socketOfTable(opts.table) : undefined);
      if (!path) {
        throw new RefusedError('E_NO_SOCKET', 'no control socket given', {
          hint: 'pass --socket PATH (printed by the migration at start) or --table TABLE for the default path',
        });
      }
      const request = words.join(' ');
      const answer = await sendControlCommand(path, request, opts.timeout);
      if (opts.json) {
        // The failure envelope is printed by main from the thrown error, like every command's.
        if (isErrorAnswer(answer)) throw new RefusedError('E_CONTROL_REFUSED', `the migration refused \`${request}\`: ${answer}`, { hint: 'see `ghostwright control --socket PATH help`' });
        printEnvelope(envelope('control', 'done', { socket: path, request, answer: parsedAnswer(answer) }));
        return;
      }
      process.stdout.write(`${answer}\n`);
      if (isErrorAnswer(answer)) throw new ReportedExit(2);
    });
}

/** The one default socket of a migration of `table` (the name holds the schema, and on PostgreSQL the database). */
function socketOfTable(table: string): string {
  const found = findDefaultSockets(table);
  if (found.length === 1) return found[0]!;
  if (found.length > 1) {
    throw new RefusedError('E_NO_SOCKET', `several migrations of a table named ${table} are running: ${found.join(', ')}`, { hint: 'pass --socket with one of them, or --table schema.table' });
  }
  return defaultSocketPath(table);
}

/** A JSON answer (`status json`) as an object, any other answer as its text. */
function parsedAnswer(answer: string): unknown {
  if (!answer.startsWith('{')) return answer;
  try {
    return JSON.parse(answer) as unknown;
  } catch {
    return answer;
  }
}

function isErrorAnswer(answer: string): boolean {
  if (answer.startsWith('error:')) return true;
  if (!answer.startsWith('{')) return false;
  try {
    return (JSON.parse(answer) as { ok?: unknown }).ok === false;
  } catch {
    return false;
  }
}
