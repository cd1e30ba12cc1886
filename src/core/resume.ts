/**
 * The resume step of the runbook (core/checkpoint.ts holds the record and
 * the pure decisions): find the interrupted run's checkpoint, refuse or
 * accept it, and finish a run whose cut-over had already committed when it
 * was killed (the ghost is gone: it IS the table now).
 */
import type { Engine, Leftover, OnlineAlter, TableRef } from '../engine/engine.js';
import { isConnectionLost, isUnreachable, RefusedError, type GhostwrightError } from '../errors.js';
import { resumeDecision, type Checkpoint } from './checkpoint.js';
import { cleanupCommand, leftoverCheck } from './leftovers.js';
import type { AlterOptions } from './options.js';

/**
 * The checkpoint this run continues, or null for a fresh run; refuses (exit 2) otherwise.
 * `leftovers`: what the table's runs left now (a rerun of a run whose swap committed is told so).
 */
export async function findCheckpoint(online: OnlineAlter, options: AlterOptions, table: string, alter: string, leftovers: () => Promise<readonly Leftover[]>): Promise<Checkpoint | null> {
  if (options.resume === true && (options.initiallyDropGhostTable || options.timestampOldTable)) {
    throw new RefusedError('E_BAD_FLAG', `--resume cannot be combined with ${options.initiallyDropGhostTable ? '--initially-drop-ghost-table' : '--timestamp-old-table'}`, {
      hint: '--resume continues the interrupted run with its ghost and old-table name; drop the other flag',
    });
  }
  if (!online.readCheckpoint || !online.attach) {
    if (options.resume === true) throw new RefusedError('E_BAD_FLAG', '--resume is not supported by this engine yet', { hint: 'run without --resume after ghostwright cleanup' });
    return null;
  }
  const found = await online.readCheckpoint();
  if (found && !options.resume && swapCommitted(found, await leftovers())) throw swapDoneRefusal(found, table);
  return resumeDecision(found, { table, alter, resume: options.resume });
}

/** A plain rerun after a run killed between its committed swap and its cleanup: the ALTER is done, only cleanup is left. */
function swapDoneRefusal(cp: Checkpoint, table: string): RefusedError {
  const [schema, ...rest] = table.split('.');
  return new RefusedError('E_CHECKPOINT_EXISTS', `the interrupted run on ${table} had already swapped the tables (its cut-over committed, written ${cp.writtenAt}): ${table} has the new shape; only its cleanup is left (changelog, stream objects)`, {
    hint: `finish it: the same command with --resume (same --alter; it only cleans up, the table is not touched); or remove what is left: ${cleanupCommand({ schema: schema!, name: rest.join('.') }, false)}`,
    details: { phase: cp.phase, rowsCopied: cp.rowsCopied, swapCommitted: true },
  });
}

/**
 * TEST ONLY: with GHOSTWRIGHT_TEST_KILL_AT=<point> in its environment the
 * process ends itself with SIGKILL at that point of the run, so the resume
 * tests can kill it exactly there (e.g. 'after-swap': the cut-over committed,
 * nothing cleaned up). Without the variable it does nothing.
 */
export function testKillPoint(point: 'after-swap'): void {
  if (process.env.GHOSTWRIGHT_TEST_KILL_AT === point) process.kill(process.pid, 'SIGKILL');
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
