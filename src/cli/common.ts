/** Small pieces every command shares: logger from flags, output to stdout, URL from flag or env. */
import type { Command } from 'commander';
import { RefusedError, type ExitCode } from '../errors.js';
import { createLogger, type Logger } from '../log.js';

export interface GlobalFlags {
  logLevel?: string;
  verbose?: boolean;
  quiet?: boolean;
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** --log-level wins; --verbose is debug, --quiet is error; else the command's default. */
export function logLevelOf(flags: GlobalFlags & { json?: boolean }, defaultLevel?: string): (typeof LOG_LEVELS)[number] {
  if (flags.verbose && flags.quiet) throw new RefusedError('E_BAD_FLAG', '--verbose and --quiet contradict each other', { hint: 'pass one of them, or --log-level' });
  return (flags.logLevel ?? (flags.verbose ? 'debug' : flags.quiet ? 'error' : undefined) ?? defaultLevel ?? (flags.json ? 'warn' : 'info')) as (typeof LOG_LEVELS)[number];
}

export function loggerFor(cmd: Command, defaultLevel?: string): Logger {
  const flags = cmd.optsWithGlobals() as GlobalFlags & { json?: boolean };
  return createLogger({ level: logLevelOf(flags, defaultLevel), pretty: process.stderr.isTTY === true && !flags.json });
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
    const n = value.trim() === '' ? NaN : Number(value);
    if (!Number.isInteger(n) || n < 0) throw new RefusedError('E_BAD_FLAG', `${name} must be a non-negative integer, got "${value}"`);
    return n;
  };
}

export const PROGRESS_MODES = ['bar', 'json', 'none'] as const;

/** A whole number >= 1. */
export function positiveIntOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new RefusedError('E_BAD_FLAG', `${name} must be a whole number of at least 1, got "${value}"`);
    return n;
  };
}

/** A number of seconds (fractions allowed); `positive` refuses 0. */
export function secondsOption(name: string, { positive }: { positive: boolean }) {
  return (value: string): number => {
    const n = value.trim() === '' ? NaN : Number(value);
    if (!Number.isFinite(n) || n < 0 || (positive && n === 0)) {
      throw new RefusedError('E_BAD_FLAG', `${name} must be a number of seconds${positive ? ' above 0' : ' (0 or more)'}, got "${value}"`);
    }
    return n;
  };
}

const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration above 0 as milliseconds: `90s`, `30m`, `1h`, `2d`, or `1h30m`. */
export function durationOption(name: string) {
  return (value: string): number => {
    const text = value.trim().toLowerCase();
    const parts = [...text.matchAll(/(\d+(?:\.\d+)?)([smhd])/g)];
    const ms = parts.reduce((sum, p) => sum + Number(p[1]) * DURATION_UNITS[p[2]!]!, 0);
    if (!parts.length || parts.map((p) => p[0]).join('') !== text || !(ms > 0)) {
      throw new RefusedError('E_BAD_FLAG', `${name} must be a duration above 0 such as 90s, 30m, 1h or 2d, got "${value}"`);
    }
    return Math.round(ms);
  };
}

/** `auto` (let the tool pick) or a whole number >= 1. */
export function threadsOption(name: string) {
  const int = positiveIntOption(name);
  return (value: string): number | 'auto' => {
    if (value === 'auto') return 'auto';
    try {
      return int(value);
    } catch {
      throw new RefusedError('E_BAD_FLAG', `${name} must be "auto" or a whole number of at least 1, got "${value}"`);
    }
  };
}

/** An http:// or https:// URL. */
export function httpUrlOption(name: string) {
  return (value: string): string => {
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      throw new RefusedError('E_BAD_FLAG', `${name} must be an http:// or https:// URL, got "${value}"`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RefusedError('E_BAD_FLAG', `${name} must be an http:// or https:// URL, got "${value}"`);
    return value;
  };
}

/** One of a fixed set of words. */
export function choiceOption<T extends string>(name: string, choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) throw new RefusedError('E_BAD_FLAG', `${name} must be one of ${choices.join(', ')}; got "${value}"`);
    return value as T;
  };
}

/** The command already printed its outcome; only the exit code is left to set. */
export class ReportedExit extends Error {
  constructor(readonly exitCode: ExitCode) {
    super(`exit ${exitCode}`);
  }
}
