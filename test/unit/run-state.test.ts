/**
 * The run's states and the moves between them (core/run-state.ts): the
 * runbook's order is allowed, anything else is E_STATE.
 */
import { describe, expect, it } from 'vitest';
import { newLiveMigration } from '../../src/core/live.js';
import { mayMove, RunState, stateAfterDecision, TRANSITIONS } from '../../src/core/run-state.js';
import type { MigrationState } from '../../src/core/live.js';

const run = (): RunState => new RunState(newLiveMigration({ chunkSize: 1, maxLagMs: 1 }).progress);

describe('run state machine', () => {
  it('walks the runbook: copy with throttling, catch-up, verify, postpone, a retried cut-over, cleanup, done', () => {
    const s = run();
    const path: MigrationState[] = ['copying', 'throttled', 'copying', 'catching-up', 'verifying', 'postponed', 'cutting-over', 'catching-up', 'cutting-over', 'cleaning-up', 'done'];
    for (const to of path) expect(s.enter(to), to).toBe(true);
    expect(s.current).toBe('done');
  });

  it('records nothing for a move to where it is already (a postponed loop)', () => {
    const s = run();
    s.enter('copying');
    s.enter('catching-up');
    s.enter('postponed');
    expect(s.enter('postponed')).toBe(false);
  });

  it('refuses a move the table does not allow, with E_STATE, and leaves the state alone', () => {
    const s = run();
    expect(() => s.enter('cutting-over')).toThrow(expect.objectContaining({ code: 'E_STATE' }));
    expect(s.current).toBe('starting');
    s.enter('copying');
    expect(() => s.enter('done')).toThrow(/from copying to done/);
  });

  it('fails from anywhere but done; done only after a cut-over; both are final', () => {
    for (const from of Object.keys(TRANSITIONS) as MigrationState[]) {
      expect(mayMove(from, 'failed'), from).toBe(from !== 'done');
      expect(mayMove(from, 'done'), from).toBe(from === 'cutting-over' || from === 'cleaning-up');
    }
    expect(TRANSITIONS.done).toEqual([]);
    expect(TRANSITIONS.failed).toEqual([]);
  });

  it('follows the throttler only while copying', () => {
    expect(stateAfterDecision('copying', true)).toBe('throttled');
    expect(stateAfterDecision('throttled', false)).toBe('copying');
    expect(stateAfterDecision('throttled', true)).toBeNull();
    expect(stateAfterDecision('catching-up', true)).toBeNull();
    expect(stateAfterDecision('postponed', false)).toBeNull();
  });

  it('times each state: the timeline sums the time spent in it, the current one up to now', async () => {
    const s = run();
    await new Promise((r) => setTimeout(r, 30));
    s.enter('copying');
    s.enter('throttled');
    s.enter('copying');
    await new Promise((r) => setTimeout(r, 30));
    const t = s.timeline();
    expect(Object.keys(t)).toEqual(['starting', 'copying', 'throttled']);
    expect(t.starting).toBeGreaterThanOrEqual(0.02);
    expect(t.copying).toBeGreaterThanOrEqual(0.02);
    expect(t.throttled).toBeLessThan(0.02);
  });
});
