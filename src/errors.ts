/**
 * Typed errors with a stable code, a fix hint a DBA can act on, and the exit
 * code the CLI maps them to: 0 done, 1 failed, 2 refused / bad input,
 * 3 the server could not be reached (nothing changed; a retry may help).
 * Every code is listed, with its meaning, in ./error-codes.ts.
 */
export type ExitCode = 0 | 1 | 2 | 3;

/** Exit code for "could not reach the server": a scheduler may retry. */
export const EXIT_UNREACHABLE = 3;

export interface ErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Refusals (bad input, unsupported settings) exit 2; runtime failures exit 1. */
  exitCode?: ExitCode;
  /** Machine-readable specifics (a table, a check id, a version) kept out of the code. */
  details?: Record<string, unknown>;
}

export interface ErrorJson {
  code: string;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}

export class GhostwrightError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: ExitCode;
  readonly details: Record<string, unknown> | undefined;
  /** What the operation had done before it failed (e.g. the migrations already applied); --json prints it. */
  partial: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GhostwrightError';
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
    this.details = options.details;
  }

  toJSON(): ErrorJson {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

/** Bad input or a state we refuse to work in: nothing was changed. Exit 2. */
export class RefusedError extends GhostwrightError {
  constructor(code: string, message: string, options: Omit<ErrorOptions, 'exitCode'> = {}) {
    super(code, message, { ...options, exitCode: 2 });
    this.name = 'RefusedError';
  }
}

/** The server did not answer (refused, timed out, host unknown): nothing changed, a retry may help. Exit 3. */
export class UnreachableError extends GhostwrightError {
  constructor(message: string, options: Omit<ErrorOptions, 'exitCode'> = {}) {
    super('E_UNREACHABLE', message, { ...options, exitCode: EXIT_UNREACHABLE });
    this.name = 'UnreachableError';
  }
}

/** Network error codes that mean "no server answered", as opposed to "the server said no". */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE', 'PROTOCOL_CONNECTION_LOST']);

/** True when a connect failure means the server was not reached (also inside AggregateError / causes). */
export function isUnreachable(err: unknown): boolean {
  const seen = new Set<unknown>();
  const walk = (e: unknown): boolean => {
    if (!e || typeof e !== 'object' || seen.has(e)) return false;
    seen.add(e);
    const o = e as { code?: unknown; message?: unknown; errors?: unknown; cause?: unknown };
    if (typeof o.code === 'string' && UNREACHABLE_CODES.has(o.code)) return true;
    // pg reports its own connect timeout without a code.
    if (typeof o.message === 'string' && /connection timeout|timeout expired|Connection terminated unexpectedly/i.test(o.message) && !o.code) return true;
    if (Array.isArray(o.errors) && o.errors.some(walk)) return true;
    return walk(o.cause);
  };
  return walk(err);
}

/**
 * True when a running session lost its server: a restart, a KILL, a network
 * cut (mysql2 and pg codes), as opposed to the server refusing a statement.
 */
export function isConnectionLost(err: unknown): boolean {
  const seen = new Set<unknown>();
  const walk = (e: unknown): boolean => {
    if (!e || typeof e !== 'object' || seen.has(e)) return false;
    seen.add(e);
    const o = e as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof o.code === 'string' && (UNREACHABLE_CODES.has(o.code) || LOST_CODES.has(o.code))) return true;
    if (typeof o.message === 'string' && /server has gone away|connection lost|closed state|Connection terminated|terminating connection|is not queryable/i.test(o.message)) return true;
    return walk(o.cause);
  };
  return walk(err);
}

/** Server-side ends of a session: shutdown in progress, the session KILLed; PostgreSQL admin/crash shutdown, connection failure. */
const LOST_CODES = new Set(['ER_SERVER_SHUTDOWN', 'ER_CONNECTION_KILLED', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_CLIENT_INTERACTION_TIMEOUT', '57P01', '57P02', '57P03', '08006', '08003']);

/** The outcome word of a failed run, as --json prints it in "status". */
export type FailureStatus = 'refused' | 'failed' | 'unreachable';

export function statusForExit(exitCode: ExitCode): FailureStatus {
  return exitCode === 2 ? 'refused' : exitCode === EXIT_UNREACHABLE ? 'unreachable' : 'failed';
}

export function exitForStatus(status: string): ExitCode {
  return status === 'refused' ? 2 : status === 'unreachable' ? EXIT_UNREACHABLE : status === 'failed' ? 1 : 0;
}

export function isGhostwrightError(err: unknown): err is GhostwrightError {
  return err instanceof GhostwrightError;
}

/** The error as a GhostwrightError that carries the results so far (one convention: throw, with `partial`). */
export function withPartial(err: unknown, partial: Record<string, unknown>): GhostwrightError {
  const e = toGhostwrightError(err);
  e.partial = { ...partial, ...(e.partial ?? {}) };
  return e;
}

/** Wraps anything thrown into a GhostwrightError, keeping the original as cause. */
export function toGhostwrightError(err: unknown, code = 'E_FAILED'): GhostwrightError {
  if (err instanceof GhostwrightError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new GhostwrightError(code, message, { cause: err });
}
