/**
 * Online ALTER benchmark, one engine per run, all numbers from the same
 * machine in the same run:
 *   1. the blocking ALTER (the server's own table rewrite) on N rows;
 *   2. ghostwright on the same table, no load: time, rows/s, ratio to (1);
 *   3. ghostwright under a steady write load: the load's p50/p99 latency
 *      before and during the migration, cut-over stall, and a row-by-row
 *      check that no write was lost;
 * with the peak RSS of the ghostwright process (a child process, polled).
 *
 * Usage: node dist/bench/mysql-alter.js [--rows N] [--threads N] [--url URL] [--tps N]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConnectionUrl } from '../src/connection.js';
import type { AlterReport } from '../src/core/report.js';
import { createSampleTable, percentile, sampleWorkload, startLoad, verifyAgainstMirror } from '../src/demo/workload.js';
import { connectEngine } from '../src/engine/index.js';
import type { Engine } from '../src/engine/engine.js';
import { silentLogger } from '../src/log.js';
import { startSandbox, type Sandbox } from '../src/sandbox/index.js';

export interface BenchSpec {
  engine: 'mysql' | 'postgres';
  /** The blocking statement, with {t} for the quoted table. */
  blocking: string;
  /** The same change as ghostwright --alter clauses. */
  alter: string;
  /** Optional gauge sampled while ghostwright runs; its peak is reported (PG: retained WAL bytes). */
  gauge?: { name: string; sql: string };
}

interface Args {
  rows: number;
  threads: number;
  tps: number;
  url: string | undefined;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return { rows: Number(get('--rows') ?? 1_000_000), threads: Number(get('--threads') ?? 2), tps: Number(get('--tps') ?? 250), url: get('--url') };
}

const say = (line: string) => process.stdout.write(`${line}\n`);
const ms = (t0: number) => Date.now() - t0;

/** Runs the CLI as a child process and polls its RSS so the number is the tool's alone. */
async function runCli(args: string[]): Promise<{ report: AlterReport; peakRssMb: number; wallMs: number }> {
  const bin = fileURLToPath(new URL('../../bin/ghostwright', import.meta.url));
  const t0 = Date.now();
  const child = spawn(process.execPath, [bin, ...args, '--json', '--progress', 'none', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  let peakKb = 0;
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
    } catch {
      // exited
    }
  }, 50);
  await new Promise<void>((resolve) => child.on('exit', () => resolve()));
  clearInterval(poll);
  return { report: JSON.parse(out) as AlterReport, peakRssMb: Math.round(peakKb / 1024), wallMs: ms(t0) };
}

/** Samples a numeric query every 200 ms while fn runs; returns the peak. */
async function peakWhile(engine: Engine, sql: string | undefined, fn: () => Promise<void>): Promise<number> {
  if (!sql) {
    await fn();
    return 0;
  }
  let peak = 0;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    engine
      .execute(sql)
      .then(({ rows }) => (peak = Math.max(peak, Number(Object.values(rows[0] ?? {})[0] ?? 0))))
      .catch(() => undefined)
      .finally(() => (busy = false));
  }, 200);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  return peak;
}

async function loadLatency(engine: Engine, w: ReturnType<typeof sampleWorkload>, rows: number, tps: number, during: () => Promise<void>) {
  const load = await startLoad(engine, w, { workers: 2, maxId: rows, tps });
  await new Promise((r) => setTimeout(r, 5000));
  const before = [...load.stats.latenciesMs];
  const mark = load.stats.latenciesMs.length;
  await during();
  const stats = await load.stop();
  const dur = stats.latenciesMs.slice(mark);
  return {
    before: { p50: percentile(before, 50), p99: percentile(before, 99), n: before.length },
    during: { p50: percentile(dur, 50), p99: percentile(dur, 99), n: dur.length },
    committed: stats.committed,
    errors: stats.errors,
  };
}

export async function runBench(spec: BenchSpec, argv = process.argv.slice(2)): Promise<void> {
  const args = parseArgs(argv);
  let sandbox: Sandbox | undefined;
  let url = args.url;
  if (!url) {
    sandbox = await startSandbox({ dir: mkdtempSync(join(tmpdir(), 'ghostwright-bench-')), mysql: spec.engine === 'mysql', postgres: spec.engine === 'postgres', replicas: false });
    url = spec.engine === 'mysql' ? sandbox.mysql!.url : sandbox.postgres!.url;
  }
  const engine = await connectEngine(parseConnectionUrl(url), silentLogger);
  const w = sampleWorkload('bench_orders');
  const q = engine.quoteIdent(w.table);
  try {
    say(`# ghostwright ${spec.engine} benchmark: ${args.rows.toLocaleString('en')} rows, ${args.threads} copy threads`);
    await createSampleTable(engine, w, args.rows);
    let t0 = Date.now();
    await engine.execute(spec.blocking.replaceAll('{t}', q));
    const blockingMs = ms(t0);
    say(`blocking ALTER:                 ${blockingMs} ms (${Math.round((args.rows * 1000) / blockingMs)} rows/s)`);

    await createSampleTable(engine, w, args.rows);
    const cli = ['alter', '--url', url, '--table', w.table, '--alter', spec.alter, '--execute', '--ok-to-drop-table', '--threads', String(args.threads)];
    let idle!: Awaited<ReturnType<typeof runCli>>;
    const idlePeak = await peakWhile(engine, spec.gauge?.sql, async () => {
      idle = await runCli(cli);
    });
    if (idle.report.status !== 'done') throw new Error(`ghostwright failed: ${JSON.stringify(idle.report.error)}`);
    say(`ghostwright, no load:           ${idle.report.durationMs} ms total, copy ${idle.report.copyMs} ms (${Math.round((idle.report.rowsCopied * 1000) / Math.max(1, idle.report.copyMs))} rows/s), peak RSS ${idle.peakRssMb} MB`);
    say(`ratio to blocking ALTER:        ${(idle.report.durationMs / blockingMs).toFixed(2)}x (copy phase ${(idle.report.copyMs / blockingMs).toFixed(2)}x)`);
    say(`cut-over stall (no load):       ${idle.report.cutOverStallMs} ms`);
    if (spec.gauge) say(`${spec.gauge.name} peak (no load): ${(idlePeak / 1048576).toFixed(1)} MiB`);

    await createSampleTable(engine, w, args.rows);
    let loaded: Awaited<ReturnType<typeof runCli>> | undefined;
    t0 = Date.now();
    let loadedPeak = 0;
    const lat = await loadLatency(engine, w, args.rows, args.tps, async () => {
      loadedPeak = await peakWhile(engine, spec.gauge?.sql, async () => {
        loaded = await runCli(cli);
      });
    });
    const rep = loaded!.report;
    if (rep.status !== 'done') throw new Error(`ghostwright under load failed: ${JSON.stringify(rep.error)}`);
    const verification = await verifyAgainstMirror(engine, w);
    say(`ghostwright, under write load:  ${rep.durationMs} ms total, copy ${rep.copyMs} ms, ${rep.eventsApplied} events applied, peak RSS ${loaded!.peakRssMb} MB`);
    say(`write load (target ${args.tps} tps x 2): before p50 ${lat.before.p50.toFixed(2)} ms / p99 ${lat.before.p99.toFixed(2)} ms; during p50 ${lat.during.p50.toFixed(2)} ms / p99 ${lat.during.p99.toFixed(2)} ms; ${lat.committed} commits, ${lat.errors} errors`);
    say(`cut-over stall (under load):    ${rep.cutOverStallMs} ms in ${rep.cutOverAttempts} attempt(s)`);
    if (spec.gauge) say(`${spec.gauge.name} peak (under load): ${(loadedPeak / 1048576).toFixed(1)} MiB`);
    say(`verification:                   ${verification.ok ? 'OK' : 'FAILED'} (${verification.rows} rows; missing ${verification.missing}, extra ${verification.extra}, different ${verification.different})`);
    if (!verification.ok) process.exitCode = 1;
  } finally {
    await engine.close();
    await sandbox?.stop();
  }
}
