/**
 * The states of one run and the moves allowed between them, in one table.
 * The supervisor is the one place that records a move (RunState.enter);
 * the throttler only decides, and the supervisor turns its decision into
 * copying <-> throttled. A move the table does not allow is a bug in the
 * runbook: E_STATE, never a silent jump.
 *
 *   starting -> copying <-> throttled
 *   copying | throttled -> catching-up -> verifying -> postponed -> cutting-over
 *   cutting-over -> catching-up (a lock timeout, retried) | cleaning-up -> done
 *   any but done -> failed; cutting-over -> done when the swap committed and
 *   a later step failed
 */
import { GhostwrightError } from '../errors.js';
import type { LiveProgress, MigrationState } from './live.js';

const WAITING_TO_CUT: readonly MigrationState[] = ['catching-up', 'verifying', 'postponed', 'cutting-over'];

export const TRANSITIONS: Readonly<Record<MigrationState, readonly MigrationState[]>> = {
  starting: ['copying'],
  copying: ['throttled', 'catching-up'],
  throttled: ['copying', 'catching-up'],
  'catching-up': WAITING_TO_CUT,
  verifying: WAITING_TO_CUT,
  postponed: WAITING_TO_CUT,
  // done straight from cutting-over: the swap committed and what follows it failed (the new table is live).
  'cutting-over': ['catching-up', 'cleaning-up', 'done'],
  'cleaning-up': ['done'],
  done: [],
  failed: [],
};

/** Any state but done may fail; otherwise the table decides. */
export function mayMove(from: MigrationState, to: MigrationState): boolean {
  if (to === 'failed') return from !== 'done';
  return TRANSITIONS[from].includes(to);
}

/** Where the throttler's decision moves the run: only the copy phase flips; null stays put. */
export function stateAfterDecision(current: MigrationState, throttled: boolean): MigrationState | null {
  if (throttled && current === 'copying') return 'throttled';
  if (!throttled && current === 'throttled') return 'copying';
  return null;
}

/** The run's state, kept in the live progress every reader already has. */
export class RunState {
  /** Time spent in each state so far, ms (the report's timeline). */
  private readonly spentMs: Partial<Record<MigrationState, number>> = {};
  private since = performance.now();

  constructor(private readonly progress: LiveProgress) {}

  /** Seconds per state, the current one up to now, in the order first entered: where the run's time went. */
  timeline(): Partial<Record<MigrationState, number>> {
    const out: Partial<Record<MigrationState, number>> = {};
    const now = performance.now();
    const spent = { ...this.spentMs, [this.current]: (this.spentMs[this.current] ?? 0) + now - this.since };
    for (const [state, ms] of Object.entries(spent) as [MigrationState, number][]) out[state] = Math.round(ms / 10) / 100;
    return out;
  }

  get current(): MigrationState {
    return this.progress.state;
  }

  /** Records a move; false when already there. Throws E_STATE on a move the table forbids. */
  enter(to: MigrationState): boolean {
    const from = this.progress.state;
    if (from === to) return false;
    if (!mayMove(from, to)) {
      throw new GhostwrightError('E_STATE', `internal: the run cannot go from ${from} to ${to}`, { hint: 'a bug in the runbook: report it with the log', exitCode: 1 });
    }
    const now = performance.now();
    this.spentMs[from] = (this.spentMs[from] ?? 0) + now - this.since;
    this.since = now;
    this.progress.state = to;
    return true;
  }
}
