/**
 * Flag files, gh-ost style (read by core: the throttler and the cut-over ask
 * them; the control socket only reports them): a DBA (or a deploy script) touches a file to
 * throttle, panic or hold the cut-over, and removes it to let go. Existence is
 * all that counts; the content is ignored.
 *
 * Cut-over postponement: the cut-over waits while the postpone flag file
 * exists or the `postpone-cut-over` command is in force, unless the `cut-over`
 * command was given (settings.cutOverNow), which wins over both. gh-ost's
 * `unpostpone` is the same as our `cut-over`; our `unpostpone` only clears the
 * socket command and leaves a flag file in charge.
 */
import { existsSync } from 'node:fs';
import type { LiveSettings } from './live.js';

export function flagExists(path: string | null | undefined): boolean {
  return path !== null && path !== undefined && path !== '' && existsSync(path);
}

/** Why the cut-over must wait now, or null when it may go ahead. */
export function postponeReason(flagFile: string | null, settings: LiveSettings): string | null {
  if (settings.cutOverNow) return null;
  if (settings.postponeCutOver) return 'postpone-cut-over command';
  if (flagExists(flagFile)) return `postpone flag file ${flagFile}`;
  return null;
}

export function isCutOverPostponed(flagFile: string | null, settings: LiveSettings): boolean {
  return postponeReason(flagFile, settings) !== null;
}
