/**
 * Library API: everything the CLI does, callable from code, with one error
 * convention: a function resolves with its result when the work is done (or
 * was a dry run), and otherwise throws a GhostwrightError with a stable
 * `code` (listed in ERROR_CODES), a `hint`, the CLI's `exitCode`, and in
 * `partial` what was done before it stopped (for runOnlineAlter: the report;
 * for migrate: the files applied).
 */
import { runOnlineAlter as runOnlineAlterReport, type AlterDeps } from './alter.js';
import type { AlterOptions } from './core/options.js';
import type { AlterReport } from './core/report.js';
import { exitForStatus, GhostwrightError } from './errors.js';

/** The online ALTER: resolves with the report (status done or dry-run); throws a GhostwrightError otherwise. */
export async function runOnlineAlter(options: AlterOptions, deps: AlterDeps = {}): Promise<AlterReport> {
  const report = await runOnlineAlterReport(options, deps);
  if (report.status === 'done' || report.status === 'dry-run') return report;
  const e = report.error ?? { code: 'E_FAILED', message: `online ALTER ${report.status}` };
  const err = new GhostwrightError(e.code, e.message, { ...(e.hint ? { hint: e.hint } : {}), ...(e.details ? { details: e.details } : {}), exitCode: exitForStatus(report.status) });
  err.partial = { ...report };
  throw err;
}

/** The old name of AlterDeps. */
export type MigratorDeps = AlterDeps;
export type { AlterDeps };
export { alterOptions, type AlterOptions, type ThrottleOptions } from './core/options.js';
export type { AlterReport, AlterPlan, AlterStatus } from './core/report.js';
export { newLiveMigration, type LiveMigration, type LiveSettings, type LiveProgress } from './core/live.js';
export { connectEngine } from './engine/index.js';
export type { Engine, TableInfo, CheckResult, OnlineAlter } from './engine/engine.js';
export { parseConnectionUrl, redactedUrl, type ConnectionSpec } from './connection.js';
export { GhostwrightError, RefusedError, UnreachableError, isGhostwrightError, type ErrorJson, type ExitCode } from './errors.js';
export { ERROR_CODES, isKnownCode, type ErrorCode } from './error-codes.js';
export { migrate, info, validate, baseline, repair, undo, clean, lint, requireSchemaVersion } from './ledger/index.js';
