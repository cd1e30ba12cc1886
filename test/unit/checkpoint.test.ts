import { describe, expect, it } from 'vitest';
import { alterSha256, buildCheckpoint, checkResumeKey, parseCheckpoint, remainingRanges, resumeDecision, serializeCheckpoint } from '../../src/core/checkpoint.js';
import { GhostwrightError } from '../../src/errors.js';

const cp = buildCheckpoint({
  table: 'app.orders',
  alter: 'ADD COLUMN note TEXT',
  key: { name: 'PRIMARY', columns: ['id', 'bin'] },
  ranges: [
    { after: null, upTo: ['100', Buffer.from('ff00', 'hex')], through: ['50', Buffer.from('00ff', 'hex')], done: false },
    { after: ['100', Buffer.from('ff00', 'hex')], upTo: ['200', Buffer.alloc(0)], through: null, done: true },
  ],
  streamPosition: 'binlog.000003:4711',
  phase: 'copying',
  rowsCopied: 50,
  now: new Date('2026-12-06T04:00:00Z'),
});

function refusal(fn: () => unknown): GhostwrightError {
  try {
    fn();
  } catch (err) {
    return err as GhostwrightError;
  }
  throw new Error('did not refuse');
}

describe('checkpoint', () => {
  it('round-trips through the changelog text, Buffers included', () => {
    const back = parseCheckpoint(serializeCheckpoint(cp), 'app.orders');
    expect(back).toEqual(cp);
    expect(Buffer.isBuffer(back.ranges[0]!.through![1])).toBe(true);
    expect(back.alterSha256).toBe(alterSha256('ADD COLUMN note TEXT'));
  });

  it('refuses a checkpoint of another format or a broken one, naming cleanup', () => {
    const e = refusal(() => parseCheckpoint(JSON.stringify({ ...cp, format: 99 }), 'app.orders'));
    expect(e.code).toBe('E_CHECKPOINT_UNREADABLE');
    expect(e.exitCode).toBe(2);
    expect(e.hint).toContain('ghostwright cleanup --url <URL> --table app.orders --execute');
    expect(refusal(() => parseCheckpoint('{', 'app.orders')).code).toBe('E_CHECKPOINT_UNREADABLE');
  });

  it('a fresh run on a table with a checkpoint refuses and names both ways out', () => {
    const e = refusal(() => resumeDecision(cp, { table: 'app.orders', alter: 'ADD COLUMN note TEXT', resume: false }));
    expect(e.code).toBe('E_CHECKPOINT_EXISTS');
    expect(e.exitCode).toBe(2);
    expect(e.hint).toContain('--resume');
    expect(e.hint).toContain('ghostwright cleanup --url <URL> --table app.orders --execute');
  });

  it('--resume with another ALTER refuses; with the same one resumes; without a checkpoint refuses', () => {
    const e = refusal(() => resumeDecision(cp, { table: 'app.orders', alter: 'ADD COLUMN note2 TEXT', resume: true }));
    expect(e.code).toBe('E_CHECKPOINT_MISMATCH');
    expect(e.exitCode).toBe(2);
    expect(e.hint).toContain('cleanup');
    expect(resumeDecision(cp, { table: 'app.orders', alter: '  ADD COLUMN note TEXT ', resume: true })).toBe(cp);
    expect(resumeDecision(null, { table: 'app.orders', alter: 'x', resume: false })).toBeNull();
    expect(refusal(() => resumeDecision(null, { table: 'app.orders', alter: 'x', resume: true })).code).toBe('E_NO_CHECKPOINT');
  });

  it('the resumed copy goes on after each range progress and skips finished ranges', () => {
    expect(remainingRanges(cp.ranges)).toEqual([{ after: cp.ranges[0]!.through, upTo: cp.ranges[0]!.upTo }, null]);
    expect(remainingRanges([{ after: null, upTo: ['9'], through: null, done: false }])).toEqual([{ after: null, upTo: ['9'] }]);
  });

  it('a resumed run must plan the same copy key', () => {
    expect(() => checkResumeKey(cp, { name: 'PRIMARY', columns: ['id', 'bin'] })).not.toThrow();
    expect(refusal(() => checkResumeKey(cp, { name: 'uk', columns: ['id'] })).code).toBe('E_CHECKPOINT_MISMATCH');
  });
});
