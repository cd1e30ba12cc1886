/**
 * The two promises a ledger command's outcome makes, kept in one place:
 *
 * - Exit 2 (refused) and 3 (unreachable) mean nothing changed. Either one
 *   coming after this run changed something (created the history table,
 *   applied a file, ran a callback) is reported as a failure (exit 1) that
 *   says what changed.
 * - A signal stops the run at the next safe point: between statements, or
 *   inside a delegated online ALTER, which then drops its ghost, changelog,
 *   slot and publication itself. What was applied stays recorded as progress
 *   (no failed row), so the next `migrate` simply resumes.
 */
import { parseConnectionUrl } from '../connection.js';
import { EXIT_UNREACHABLE, GhostwrightError, isGhostwrightError } from '../errors.js';

export class ChangeLog {
  private readonly changes: string[] = [];

  note(what: string): void {
    this.changes.push(what);
  }

  get changed(): boolean {
    return this.changes.length > 0;
  }

  /** A refusal (or unreachable server) after changes becomes a failure that lists them; anything else passes through. */
  outcome(err: unknown): unknown {
    if (!isGhostwrightError(err) || !nothingChangedCode(err.exitCode) || !this.changed) return err;
    const what = this.changes.length > 6 ? [...this.changes.slice(0, 6), `${this.changes.length - 6} more`] : this.changes;
    return new GhostwrightError(err.code, `${err.message} (this run had already changed the database: ${what.join(', ')})`, { hint: err.hint, cause: err, exitCode: 1 });
  }
}

/** The exit codes that promise nothing was changed. */
export function nothingChangedCode(code: number): boolean {
  return code === 2 || code === EXIT_UNREACHABLE;
}

export function interruptedError(signal: AbortSignal, where: string, hint: string): GhostwrightError {
  return new GhostwrightError('E_INTERRUPTED', `interrupted by ${String(signal.reason ?? 'a signal')} ${where}`, { hint });
}

/** Throws E_INTERRUPTED when the run's signal was aborted. */
export function checkInterrupted(signal: AbortSignal | undefined, where: string, hint: string): void {
  if (signal?.aborted) throw interruptedError(signal, where, hint);
}

/**
 * What to do about an online ALTER that may have left helpers behind (its
 * own clean-up failed, or the process was killed before it could run): the
 * one command that removes them on purpose. The URL is shown only when it
 * holds no password.
 */
export function leftoversHint(url: string, table: string): string {
  let shown = '<URL>';
  try {
    if (parseConnectionUrl(url, {}).password === undefined) shown = url;
  } catch {
    /* keep <URL> */
  }
  // The table as --table reads it (quoted by the dialect), quoted once more for the shell.
  const arg = /^[\w.]+$/.test(table) ? table : `'${table.replace(/'/g, "'\\''")}'`;
  return `run \`ghostwright cleanup --url ${shown} --table ${arg} --execute\` (without --execute it lists what it removes), then migrate again`;
}
