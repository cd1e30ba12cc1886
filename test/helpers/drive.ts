/**
 * Drives one online ALTER through the library's runbook (core/migrator.ts
 * runOnlineAlter), with a test's fault injections as the runbook's hooks
 * (MigratorDeps afterChunk, afterCopy, ignoreChecks): the tests exercise the
 * production sequence instead of a copy of it. Both engines.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runOnlineAlter } from '../../src/alter.js';
import { parseConnectionUrl, type Dialect } from '../../src/connection.js';
import { newLiveMigration } from '../../src/core/live.js';
import { alterOptions } from '../../src/core/options.js';
import type { AlterReport } from '../../src/core/report.js';
import type { AlterRequest, CutOverResult, TableRef } from '../../src/engine/engine.js';
import { silentLogger, type Logger } from '../../src/log.js';

export interface DriveResult {
  rowsCopied: number;
  copyMs: number;
  cutOver: CutOverResult;
  eventsApplied: number;
  cutOverAttempts: number;
}

export interface DriveOptions {
  /** Rows per chunk, fixed (betweenChunks counts chunks): as a DBA's `chunk-size=N` on the control socket fixes it. */
  chunkSize?: number;
  /** Called between chunks (e.g. to write rows that must travel through the stream): MigratorDeps.afterChunk. */
  betweenChunks?: (chunk: number) => Promise<void>;
  /** Called after the copy, before catching up: MigratorDeps.afterCopy. */
  afterCopy?: () => Promise<void>;
  threads?: number;
  /** Preflight check ids whose failure is ignored (to drive a path preflight refuses): MigratorDeps.ignoreChecks. */
  ignoreChecks?: string[];
  log?: Logger;
}

/**
 * Runs the library's runbook (core/migrator.ts runOnlineAlter) on the
 * table, with the test's fault injections as its hooks; resolves with the
 * report, rejects with the run's error (code, message) when it did not end done.
 */
export async function driveAlter(url: string, request: AlterRequest, opts: DriveOptions = {}): Promise<{ report: AlterReport; result: DriveResult }> {
  const table = `${request.table.schema}.${request.table.name}`;
  const dialect = parseConnectionUrl(url).dialect;
  const chunkSize = opts.chunkSize ?? 1000;
  const options = alterOptions({
    url,
    table: quoteTableArg(request.table, dialect),
    alter: request.alter,
    execute: true,
    threads: opts.threads ?? 1,
    cutOverLockTimeoutMs: request.cutOverLockTimeoutMs,
    dropOldTable: request.dropOldTable,
    maxBacklogEvents: request.maxBacklogEvents,
    ...(request.streamStartTimeoutMs ? { streamStartTimeoutMs: request.streamStartTimeoutMs } : {}),
    socketPath: join(tmpdir(), `gw-drive-${process.pid}-${++drives}.sock`),
  });
  const live = newLiveMigration({ chunkSize, maxLagMs: options.throttle.maxLagMs, maxSharePercent: 100 }, { table, engine: dialect });
  const report = await runOnlineAlter(options, {
    log: opts.log ?? silentLogger,
    live,
    ...(opts.betweenChunks ? { afterChunk: opts.betweenChunks } : {}),
    ...(opts.afterCopy ? { afterCopy: opts.afterCopy } : {}),
    ...(opts.ignoreChecks ? { ignoreChecks: opts.ignoreChecks } : {}),
  });
  if (report.status !== 'done') throw Object.assign(new Error(report.error?.message ?? report.status), report.error ?? {}, { report });
  return {
    report,
    result: { rowsCopied: report.rowsCopied, copyMs: report.copyMs, cutOver: { stallMs: report.cutOverStallMs, oldTable: report.oldTable }, eventsApplied: report.eventsApplied, cutOverAttempts: report.cutOverAttempts },
  };
}

let drives = 0;

/** --table for a TableRef, each part quoted as the dialect quotes identifiers (the CLI takes it so). */
function quoteTableArg(ref: TableRef, dialect: Dialect): string {
  const c = dialect === 'mysql' ? '`' : '"';
  const q = (name: string) => `${c}${name.split(c).join(c + c)}${c}`;
  return `${q(ref.schema)}.${q(ref.name)}`;
}
