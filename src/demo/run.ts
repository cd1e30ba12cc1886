/**
 * The demo: local servers, a sample table, a write load, and an online ALTER
 * with its progress line, then the report and a row-by-row verification that
 * no write was lost.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConnectionUrl } from '../connection.js';
import { runOnlineAlter } from '../alter.js';
import { alterOptions } from '../core/options.js';
import type { AlterReport } from '../core/report.js';
import type { Engine } from '../engine/engine.js';
import { connectEngine } from '../engine/index.js';
import { checkInterrupted } from '../ledger/guard.js';
import { createLogger } from '../log.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { createSampleTable, percentile, sampleWorkload, startLoad, verifyAgainstMirror, type RunningLoad, type Verification } from './workload.js';

export interface DemoOptions {
  engine: 'mysql' | 'postgres';
  rows: number;
  url?: string;
  threads: number;
  keep: boolean;
  json: boolean;
  /** SIGINT/SIGTERM: stop at the next step, clean up, stop the server. */
  signal?: AbortSignal;
}

export interface DemoResult {
  report: AlterReport;
  verification: Verification;
  load: { committed: number; rolledBack: number; p50Ms: number; p99Ms: number };
}

const out = (line: string) => process.stderr.write(`${line}\n`);

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const log = createLogger({ level: 'warn' });
  const stopped = (where: string) => checkInterrupted(opts.signal, where, 'nothing is left behind: the demo stops the server it started');
  let sandbox: Sandbox | undefined;
  let engine: Engine | undefined;
  let load: RunningLoad | undefined;
  // One try for everything: a signal or a failure at any step still stops the
  // load, closes the connection and stops the server this demo started.
  try {
    let url = opts.url;
    if (!url) {
      const dir = mkdtempSync(join(tmpdir(), 'ghostwright-demo-'));
      out(`starting a local ${opts.engine} server in ${dir} ...`);
      sandbox = await startSandbox({ dir, mysql: opts.engine === 'mysql', postgres: opts.engine === 'postgres', replicas: false, log });
      url = opts.engine === 'mysql' ? sandbox.mysql!.url : sandbox.postgres!.url;
      out(`  ready in ${sandbox.startupMs} ms`);
    }
    stopped('after starting the server');
    engine = await connectEngine(parseConnectionUrl(url), log);
    const w = sampleWorkload();
    out(`creating ${w.table} with ${opts.rows.toLocaleString('en')} rows ...`);
    const t0 = Date.now();
    await createSampleTable(engine, w, opts.rows);
    out(`  done in ${Date.now() - t0} ms`);
    stopped('after creating the sample table');
    out('starting a write load (2 sessions: inserts, updates, key updates, deletes, rollbacks) ...');
    load = await startLoad(engine, w, { workers: 2, maxId: opts.rows, tps: 200 });
    await new Promise((r) => setTimeout(r, 1000));
    const alter = 'ADD COLUMN priority INT NOT NULL DEFAULT 0, ADD INDEX idx_status (status)';
    const pgAlter = 'ADD COLUMN priority INT NOT NULL DEFAULT 0, ALTER COLUMN note TYPE text';
    const clauses = opts.engine === 'mysql' ? alter : pgAlter;
    out(`ghostwright alter --table ${w.table} --alter "${clauses}" --execute`);
    const report = await runOnlineAlter(
      alterOptions({ url, table: w.table, alter: clauses, execute: true, threads: opts.threads, progress: 'bar', statusIntervalMs: 5000, dropOldTable: true }),
      { log, ...(opts.signal ? { signal: opts.signal } : {}) },
    );
    stopped('during the online ALTER (it removed what it created)');
    await new Promise((r) => setTimeout(r, 1000)); // the load keeps writing to the new table
    const stats = await load.stop();
    load = undefined;
    const verification = await verifyAgainstMirror(engine, w);
    const result: DemoResult = {
      report,
      verification,
      load: { committed: stats.committed, rolledBack: stats.rolledBack, p50Ms: round(percentile(stats.latenciesMs, 50)), p99Ms: round(percentile(stats.latenciesMs, 99)) },
    };
    return result;
  } finally {
    await load?.stop().catch(() => undefined);
    await engine?.close().catch(() => undefined);
    if (sandbox && !opts.keep) await sandbox.stop();
    else if (sandbox) out(`servers kept running: ghostwright sandbox stop --dir ${sandbox.dir}`);
  }
}

const round = (n: number) => Math.round(n * 100) / 100;

export function formatDemo(r: DemoResult): string {
  const v = r.verification;
  const rep = r.report;
  const rate = rep.copyMs ? Math.round((rep.rowsCopied * 1000) / rep.copyMs) : 0;
  return [
    `online ALTER ${rep.status}: ${rep.rowsCopied} rows copied in ${rep.copyMs} ms (${rate} rows/s), ${rep.eventsApplied} concurrent changes applied`,
    `cut-over blocked writers for ${rep.cutOverStallMs} ms; total ${rep.durationMs} ms`,
    `write load: ${r.load.committed} transactions committed, ${r.load.rolledBack} rolled back, latency p50 ${r.load.p50Ms} ms / p99 ${r.load.p99Ms} ms`,
    v.ok
      ? `verification: OK - the migrated table equals every committed write (${v.rows} rows, 0 missing, 0 extra, 0 different)`
      : `verification: FAILED - ${v.rows} rows vs ${v.mirrorRows} expected, ${v.missing} missing, ${v.extra} extra, ${v.different} different`,
    rep.error ? `error: ${rep.error.code}: ${rep.error.message}` : '',
  ]
    .filter(Boolean)
    .join('\n');
}
