/** Small pieces every command shares: logger from flags, output to stdout, URL from flag or env. */
import type { Command } from 'commander';
import { RefusedError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';

export interface GlobalFlags {
  logLevel?: string;
}

export function loggerFor(cmd: Command, defaultLevel?: string): Logger {
  const flags = cmd.optsWithGlobals() as GlobalFlags & { json?: boolean };
  const level = (flags.logLevel ?? defaultLevel ?? (flags.json ? 'warn' : 'info')) as 'info';
  return createLogger({ level, pretty: process.stderr.isTTY === true && !flags.json });
}

export function requireUrl(url: string | undefined): string {
  const value = url ?? process.env.GHOSTWRIGHT_URL;
  if (!value) throw new RefusedError('E_NO_URL', 'no database URL given', { hint: 'pass --url mysql://... or postgres://..., or set GHOSTWRIGHT_URL' });
  return value;
}

export function printJson(data: unknown): void {
  process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function intOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new RefusedError('E_BAD_FLAG', `${name} must be a non-negative integer, got "${value}"`);
    return n;
  };
}

/** The command already printed its outcome; only the exit code is left to set. */
export class ReportedExit extends Error {
  constructor(readonly exitCode: 0 | 1 | 2) {
    super(`exit ${exitCode}`);
  }
}
