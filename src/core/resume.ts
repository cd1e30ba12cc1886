/**
 * The resume step of the runbook (core/checkpoint.ts holds the record and
 * the pure decisions): find the interrupted run's checkpoint, refuse or
 * accept it, and finish a run whose cut-over had already committed when it
 * was killed (the ghost is gone: it IS the table now).
 */
import type { Engine, Leftover, OnlineAlter, TableRef } from '../engine/engine.js';
import { isConnectionLost, isUnreachable, RefusedError, type GhostwrightError } from '../errors.js';
import { resumeDecision, type Checkpoint } from './checkpoint.js';
import { leftoverCheck } from './leftovers.js';
import type { AlterOptions } from './options.js';

/** The checkpoint this run continues, or null for a fresh run; refuses (exit 2) otherwise. */
export async function findCheckpoint(online: OnlineAlter, options: AlterOptions, table: string, alter: string): Promise<Checkpoint | null> {
  if (options.resume === true && (options.initiallyDropGhostTable || options.timestampOldTable)) {
    throw new RefusedError('E_BAD_FLAG', `--resume cannot be combined with ${options.initiallyDropGhostTable ? '--initially-drop-ghost-table' : '--timestamp-old-table'}`, {
      hint: '--resume continues the interrupted run with its ghost and old-table name; drop the other flag',
    });
  }
  if (!online.readCheckpoint || !online.attach || !online.trimToCheckpoint) {
    if (options.resume === true) throw new RefusedError('E_BAD_FLAG', '--resume is not supported by this engine yet', { hint: 'run without --resume after ghostwright cleanup' });
    return null;
  }
  return resumeDecision(await online.readCheckpoint(), { table, alter, resume: options.resume });
}

/** The run's cut-over committed before it was killed: its ghost is gone and the checkpoint says it was cutting over. */
export function swapCommitted(cp: Checkpoint, leftovers: readonly Leftover[]): boolean {
  return cp.phase === 'cutting-over' && !leftovers.some((l) => l.kind === 'ghost');
}

/** Preflight's leftover check for a resumed run: its own ghost and changelog are expected. */
export async function leftoversBesidesRun(engine: Engine, ref: TableRef, ignore: readonly string[], oldTableStamped: boolean) {
  // The run's own helpers; on PostgreSQL also its slot, publication and origins (attach checks they are the run's and usable).
  const own: readonly Leftover['kind'][] = ['ghost', 'changelog', 'slot', 'publication', 'origin'];
  const found = (await engine.leftovers(ref)).filter((l) => !own.includes(l.kind) && !ignore.includes(l.name));
  return leftoverCheck(ref, found, { oldTableStamped });
}

/**
 * A failed run keeps its ghost, changelog and checkpoint for `--resume`
 * when the server went away (restart, network) after the first checkpoint,
 * or when a resume was refused (a refusal changes nothing).
 */
export function keepForResume(error: GhostwrightError, o: { checkpointed: boolean; resuming: boolean }): boolean {
  if (o.resuming && error.exitCode === 2) return true;
  return o.checkpointed && (isUnreachable(error) || isConnectionLost(error));
}
