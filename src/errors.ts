/**
 * Typed errors with a stable code, a fix hint a DBA can act on, and the exit
 * code the CLI maps them to: 0 done, 1 failed, 2 refused / bad input.
 */
export type ExitCode = 0 | 1 | 2;

export interface ErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Refusals (bad input, unsupported settings) exit 2; runtime failures exit 1. */
  exitCode?: ExitCode;
}

export class GhostwrightError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: ExitCode;

  constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GhostwrightError';
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
  }

  toJSON(): { code: string; message: string; hint?: string } {
    return this.hint ? { code: this.code, message: this.message, hint: this.hint } : { code: this.code, message: this.message };
  }
}

/** Bad input or a state we refuse to work in: nothing was changed. Exit 2. */
export class RefusedError extends GhostwrightError {
  constructor(code: string, message: string, options: Omit<ErrorOptions, 'exitCode'> = {}) {
    super(code, message, { ...options, exitCode: 2 });
    this.name = 'RefusedError';
  }
}

export function isGhostwrightError(err: unknown): err is GhostwrightError {
  return err instanceof GhostwrightError;
}

/** Wraps anything thrown into a GhostwrightError, keeping the original as cause. */
export function toGhostwrightError(err: unknown, code = 'E_FAILED'): GhostwrightError {
  if (err instanceof GhostwrightError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new GhostwrightError(code, message, { cause: err });
}
