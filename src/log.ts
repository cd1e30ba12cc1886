/**
 * Structured logs (pino) on stderr; stdout is reserved for --json output.
 * Passwords never reach a log line: known secret paths are redacted and any
 * URL-shaped string has its password masked by the serializer.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { redactUrlText } from './connection.js';

export type { Logger };

export interface LogOptions {
  level?: LevelWithSilent;
  /** Human-readable lines (pino-pretty) when stderr is a terminal. */
  pretty?: boolean;
}

const REDACT = ['password', '*.password', '*.*.password', 'spec.password', 'conn.password', 'PGPASSWORD', 'MYSQL_PWD'];

export function createLogger(options: LogOptions = {}): Logger {
  const level = options.level ?? 'info';
  const base = {
    level,
    redact: { paths: REDACT, censor: '***' },
    hooks: {
      logMethod(args: unknown[], method: (...a: unknown[]) => void) {
        method.apply(this, args.map((a) => (typeof a === 'string' ? redactUrlText(a) : a)));
      },
    },
    serializers: {
      err: (err: unknown) => {
        const e = err as { message?: string; code?: string; hint?: string; stack?: string };
        return { code: e?.code, message: redactUrlText(String(e?.message ?? err)), hint: e?.hint };
      },
    },
  };
  if (options.pretty) {
    return pino(base, pino.transport({ target: 'pino-pretty', options: { destination: 2, colorize: colorEnabled(), ignore: 'pid,hostname' } }));
  }
  return pino(base, pino.destination(2));
}

/**
 * Colours on stderr: off with NO_COLOR (any non-empty value, no-color.org) or
 * FORCE_COLOR=0 / false; on with any other FORCE_COLOR; else when stderr is a terminal.
 */
export function colorEnabled(env: NodeJS.ProcessEnv = process.env, isTTY: boolean = process.stderr.isTTY === true): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined) return !/^(0|false)$/i.test(env.FORCE_COLOR);
  return isTTY;
}

/** A logger that drops everything: for library callers and unit tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
