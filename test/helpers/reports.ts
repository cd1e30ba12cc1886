/** Assertions on the report of runOnlineAlter / runRevert. */
import { expect } from 'vitest';
import type { AlterReport } from '../../src/core/report.js';

export function expectDone(r: AlterReport): void {
  expect(r.error).toBeUndefined();
  expect(r.status).toBe('done');
}

export function expectRefused(r: AlterReport, code: string): void {
  expect(r.status).toBe('refused');
  expect(r.error?.code).toBe(code);
}
