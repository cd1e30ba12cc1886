/**
 * Where a password may come from without being in argv, where `ps` shows it
 * to every local user (and to every hook the run starts):
 *   --password-file PATH   the file's first line (what Docker/Kubernetes secrets mount);
 *   --ask-pass             typed at the terminal, not echoed (gh-ost's flag);
 *   MYSQL_PWD / PGPASSWORD as before.
 * Precedence: a password in the URL, then these flags, then the environment.
 * A password that did come in argv (in --url or --replica) still works, with
 * one warning on stderr (never in --json stdout).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { read } from 'read';
import { parseConnectionUrl } from '../connection.js';
import { RefusedError } from '../errors.js';

export interface PasswordFlags {
  passwordFile?: string;
  askPass?: boolean;
}

export function passwordOptions(cmd: Command): Command {
  return cmd
    .option('--password-file <path>', 'read the database password from this file (first line), for URLs without one; keeps it out of `ps`')
    .option('--ask-pass', 'prompt for the database password on the terminal (not echoed)');
}

let warned = false;

/** Warns once per process when a URL given on the command line holds a password. */
export function warnPasswordInArgv(urls: Array<string | undefined>, flagName = '--url'): void {
  if (warned) return;
  for (const url of urls) {
    if (!url || !hasPassword(url)) continue;
    warned = true;
    process.stderr.write(
      `warning: a password is in the command line (${flagName}): \`ps\` shows it to every local user, and to hooks; ` +
        'use --password-file, --ask-pass or MYSQL_PWD / PGPASSWORD instead\n',
    );
    return;
  }
}

function hasPassword(url: string): boolean {
  try {
    return parseConnectionUrl(url, {}).password !== undefined;
  } catch {
    return false; // the real parse reports it
  }
}

/** The password from --password-file or --ask-pass, if either is given. */
export async function resolvePassword(flags: PasswordFlags, stdin: NodeJS.ReadStream = process.stdin): Promise<string | undefined> {
  if (flags.passwordFile !== undefined && flags.askPass) {
    throw new RefusedError('E_BAD_FLAG', '--password-file and --ask-pass both give the password', { hint: 'pass only one of them' });
  }
  if (flags.passwordFile !== undefined) return readPasswordFile(flags.passwordFile);
  if (!flags.askPass) return undefined;
  if (!stdin.isTTY) {
    throw new RefusedError('E_NO_TTY', '--ask-pass needs a terminal on stdin, and stdin is not one', {
      hint: 'in scripts and jobs use --password-file PATH or MYSQL_PWD / PGPASSWORD',
    });
  }
  const password = await read({ prompt: 'Database password: ', silent: true, replace: '', input: stdin, output: process.stderr });
  if (!password) throw new RefusedError('E_BAD_FLAG', 'no password was typed', { hint: 'type the password, or leave out --ask-pass' });
  return String(password);
}

export function readPasswordFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RefusedError('E_BAD_FLAG', `cannot read --password-file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      hint: 'give a readable file whose first line is the password',
    });
  }
  // The first line, as a mounted secret or `echo pw > file` writes it: the newline is not part of it.
  const password = text.split(/\r?\n/, 1)[0] ?? '';
  if (password === '') throw new RefusedError('E_BAD_FLAG', `--password-file ${path} is empty`, { hint: 'put the password on the first line' });
  return password;
}
