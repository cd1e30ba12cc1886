/**
 * What the MySQL and PostgreSQL benchmarks share: flags, child processes with
 * their wall time and peak RSS, a load generator's per-second report, and the
 * printed table. Every tool (ghostwright, its peers, the load) runs as a child
 * process, so each RSS figure is that tool's alone and the bench process's own
 * memory never counts.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AlterReport } from '../src/core/report.js';

export interface BenchArgs {
  rows: number;
  url: string | undefined;
  /** Seconds of load measured before each loaded run. */
  warmup: number;
  /** Extra ghostwright flags, e.g. `--max-share 50` (one string, split on spaces). */
  gwFlags: string[];
  /** --also "FLAGS" (repeatable): one more ghostwright run per value, with these flags on top of --gw-flags (e.g. a --max-share sweep). */
  also: string[][];
  skipLoad: boolean;
  /** --no-idle: only the runs under load. */
  skipIdle: boolean;
  /** --only a,b: run only the tools whose name contains one of these words (e.g. ghostwright,pt-online). */
  only: string[];
  /** --gw-log FILE: ghostwright's log at debug level, appended to FILE (the instrumentation, see README). */
  gwLog: string | undefined;
  /** The servers' buffer memory (InnoDB buffer pool, shared_buffers), or 'default' for the sandbox's small test settings. */
  serverMemory: string;
  pgVersion: string | undefined;
  pgBin: string | undefined;
  /** --control S: a control run under load, no tool for S seconds: how the load's tps drifts on its own over as long a run. */
  controlS: number | null;
}

export function parseArgs(argv: string[]): BenchArgs {
  const get = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const rows = Number(get('--rows') ?? 1_000_000);
  if (!Number.isInteger(rows) || rows < 1000) usage(`--rows must be a whole number >= 1000, got "${get('--rows')}"`);
  const warmup = Number(get('--warmup') ?? 10);
  if (!Number.isFinite(warmup) || warmup < 3) usage(`--warmup must be at least 3 seconds, got "${get('--warmup')}"`);
  const control = get('--control');
  const controlS = control === undefined ? null : Number(control);
  if (controlS !== null && !(Number.isFinite(controlS) && controlS > 0)) usage(`--control takes seconds, got "${control}"`);
  const pgVersion = get('--pg-version');
  if (pgVersion !== undefined && !/^(15|16|17|18)$/.test(pgVersion)) usage(`--pg-version must be 15, 16, 17 or 18, got "${pgVersion}"`);
  return {
    rows,
    url: get('--url'),
    warmup,
    gwFlags: (get('--gw-flags') ?? '').split(/\s+/).filter(Boolean),
    also: argv.flatMap((a, i) => (a === '--also' && argv[i + 1] !== undefined ? [argv[i + 1]!.split(/\s+/).filter(Boolean)] : [])),
    skipLoad: argv.includes('--no-load'),
    skipIdle: argv.includes('--no-idle'),
    only: (get('--only') ?? '').split(',').map((w) => w.trim().toLowerCase()).filter(Boolean),
    gwLog: get('--gw-log'),
    serverMemory: get('--server-memory') ?? DEFAULT_SERVER_MEMORY,
    pgVersion,
    pgBin: get('--pg-bin'),
    controlS,
  };
}

/**
 * The benches' servers get production-like buffer memory: the sandbox's test
 * settings (128 MB shared_buffers, a 256 MB InnoDB buffer pool, a 96 MB redo
 * log) hold neither a 1M-row table nor its copy, which penalises random
 * reads (the applier's) far more than the sequential scans of the blocking
 * ALTER and the peers. Every tool runs on the same server either way;
 * `--server-memory default` keeps the test settings.
 */
const DEFAULT_SERVER_MEMORY = '1GB';

export function serverMemoryOverrides(memory: string): { mysql: Record<string, string>; pg: Record<string, string> } | undefined {
  if (memory === 'default') return undefined;
  const m = /^(\d+)(MB|GB)$/i.exec(memory);
  if (!m) usage(`--server-memory must look like 1GB or 512MB (or be "default"), got "${memory}"`);
  const mb = Number(m[1]) * (m[2]!.toUpperCase() === 'GB' ? 1024 : 1);
  return { mysql: { innodb_buffer_pool_size: `${mb}M`, innodb_log_file_size: `${Math.max(96, Math.round(mb / 2))}M` }, pg: { shared_buffers: `${mb}MB` } };
}

/** The header line naming the server's buffer memory; `what` names the setting, `sandboxDefault` its test value. */
export function serverMemoryLine(args: BenchArgs, what: string, sandboxDefault: string): string {
  if (args.url) return '# server memory: as the server at --url has it';
  if (args.serverMemory === 'default') return `# server memory: the sandbox test settings (${sandboxDefault} ${what})`;
  return `# server memory: ${what} ${args.serverMemory} (--server-memory; "default" for the sandbox's ${sandboxDefault})`;
}

export function usage(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

export const say = (line = '') => process.stdout.write(`${line}\n`);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  peakRssMb: number;
  /** The child's own CPU time (user + system), its last reading before it exited. */
  cpuMs: number;
}

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux). */
const TICKS = 100;

/** Busy CPU time of the whole machine so far, in core-seconds (/proc/stat: every process, the server's, the tool's and the load's). */
export function machineBusyS(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0)) / TICKS;
}

/** A process's own CPU time (utime + stime) in ms, or null once it is gone. */
function processCpuMs(pid: number | undefined): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / TICKS;
  } catch {
    return null;
  }
}

/** What a run cost the machine: busy core-seconds while it ran, and the cores the load kept busy before it (under load). */
export interface RunCpu {
  /** The tool's own process (null: it ran inside the server, as the blocking ALTER). */
  toolS: number | null;
  machineS: number;
  wallS: number;
  /** Cores busy in the seconds before the tool (the load alone). */
  coresBefore?: number;
}

/** Runs `run`, measuring the machine's busy CPU while it runs. */
export async function withMachineCpu<T extends object>(run: () => Promise<T>): Promise<T & { cpu: RunCpu }> {
  const c0 = machineBusyS();
  const t0 = performance.now();
  const r = await run();
  const toolMs = (r as { cpuMs?: unknown }).cpuMs;
  return { ...r, cpu: { toolS: typeof toolMs === 'number' ? toolMs / 1000 : null, machineS: machineBusyS() - c0, wallS: (performance.now() - t0) / 1000 } };
}

/** Runs a command to its end, polling /proc/<pid>/status for VmHWM (the kernel's own peak RSS). */
export async function runChild(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ChildResult> {
  const t0 = performance.now();
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let peakKb = 0;
  let cpuMs = 0;
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
    } catch {
      // exited
    }
    cpuMs = processCpuMs(child.pid) ?? cpuMs;
  }, 25);
  const code = await new Promise<number | null>((resolve) => {
    child.on('error', () => resolve(-1));
    child.on('exit', (c) => resolve(c));
  });
  clearInterval(poll);
  return { code, stdout, stderr, wallMs: performance.now() - t0, peakRssMb: Math.round(peakKb / 1024), cpuMs };
}

/** ghostwright's own CLI from this checkout, with --json: the report comes back parsed. */
export async function runGhostwright(args: string[], logFile?: string): Promise<ChildResult & { report: AlterReport | null }> {
  const bin = fileURLToPath(new URL('../../bin/ghostwright', import.meta.url));
  const res = await runChild(process.execPath, [bin, ...args, '--json', '--progress', 'none', '--log-level', logFile ? 'debug' : 'warn']);
  if (logFile) appendFileSync(logFile, res.stderr);
  let report: AlterReport | null = null;
  try {
    report = JSON.parse(res.stdout) as AlterReport;
  } catch {
    report = null;
  }
  return { ...res, report };
}

/** The first of `names` found in `dirs` or on PATH, else null. */
export function findTool(names: string[], dirs: string[] = []): string | null {
  const path = (process.env.PATH ?? '').split(':');
  for (const dir of [...dirs, ...path, '/usr/bin', '/usr/local/bin']) {
    for (const n of names) if (dir && existsSync(`${dir}/${n}`)) return `${dir}/${n}`;
  }
  return null;
}

// ---------------------------------------------------------------- the load

export interface LoadSample {
  /** Seconds since the load started (the tool's own counter). */
  at: number;
  tps: number;
  /** ms; NaN when the tool doesn't report it. */
  p95: number;
  errorsPerSec: number;
}

export interface LoadWindow {
  tps: number;
  /** Median of the per-second p95 values, and the worst second. */
  p95: number;
  p95Worst: number;
  errors: number;
  seconds: number;
}

export interface RunningLoad {
  startedAt: number;
  samples: LoadSample[];
  /** Seconds since the load started, on the load's clock. */
  now(): number;
  stop(): Promise<string>;
}

/**
 * Starts a load generator that prints one line per second (sysbench
 * --report-interval=1, pgbench -P 1); `parse` turns a line into a sample.
 */
export function startLoadTool(cmd: string, args: string[], parse: (line: string) => LoadSample | null, env: NodeJS.ProcessEnv = process.env): RunningLoad {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  const startedAt = performance.now();
  const samples: LoadSample[] = [];
  let tail = '';
  let all = '';
  const onData = (d: Buffer) => {
    const text = tail + d.toString();
    all += d.toString();
    const lines = text.split(/\r?\n|\r/);
    tail = lines.pop() ?? '';
    for (const line of lines) {
      const s = parse(line);
      if (s) samples.push(s);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    startedAt,
    samples,
    now: () => (performance.now() - startedAt) / 1000,
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
      return all;
    },
  };
}

/** Mean tps, median and worst per-second p95 of the samples whose second ended inside [from, to]. */
export function loadWindow(samples: LoadSample[], from: number, to: number): LoadWindow {
  const inside = samples.filter((s) => s.at > from && s.at <= Math.ceil(to));
  if (inside.length === 0) return { tps: NaN, p95: NaN, p95Worst: NaN, errors: 0, seconds: 0 };
  const p95s = inside.map((s) => s.p95).filter(Number.isFinite).sort((a, b) => a - b);
  return {
    tps: inside.reduce((a, s) => a + s.tps, 0) / inside.length,
    p95: p95s.length ? p95s[Math.floor(p95s.length / 2)]! : NaN,
    p95Worst: p95s.length ? p95s[p95s.length - 1]! : NaN,
    errors: Math.round(inside.reduce((a, s) => a + s.errorsPerSec, 0)),
    seconds: inside.length,
  };
}

/** `[ 12s ] thds: 4 tps: 812.34 qps: ... lat (ms,95%): 9.73 err/s: 0.00 reconn/s: 0.00` */
export function parseSysbenchLine(line: string): LoadSample | null {
  const m = /^\[\s*(\d+)s\s*\].*?tps:\s*([\d.]+).*?lat \(ms,95%\):\s*([\d.]+)\s+err\/s:\s*([\d.]+)/.exec(line);
  if (!m) return null;
  return { at: Number(m[1]), tps: Number(m[2]), p95: Number(m[3]), errorsPerSec: Number(m[4]) };
}

/** `progress: 12.0 s, 812.3 tps, lat 4.912 ms stddev 2.101, 0 failed` (the `failed` part is PG 15+). */
export function parsePgbenchLine(line: string): LoadSample | null {
  const m = /^progress:\s*([\d.]+)\s*s,\s*([\d.]+)\s*tps,\s*lat\s*([\d.]+)\s*ms(?:.*?(\d+)\s+failed)?/.exec(line);
  if (!m) return null;
  return { at: Math.round(Number(m[1])), tps: Number(m[2]), p95: NaN, errorsPerSec: Number(m[4] ?? 0) };
}

/** The control run (--control S): no tool, only S seconds of the load, measured like a tool's run. */
export function controlRun(seconds: number): { name: string; run: () => Promise<Pick<BenchRow, 'wallMs' | 'stallMs' | 'peakRssMb'>>; gw?: true } {
  return {
    name: `control: no tool, ${seconds} s`,
    run: async () => {
      const t0 = performance.now();
      await sleep(seconds * 1000);
      return { wallMs: performance.now() - t0, stallMs: null, peakRssMb: null };
    },
  };
}

/** Runs `tool` under a started load: `warmup` seconds before, then the tool; returns both windows. */
export async function underLoad<T extends object>(load: RunningLoad, warmupS: number, tool: () => Promise<T>): Promise<{ result: T & { cpu: RunCpu }; before: LoadWindow; during: LoadWindow }> {
  const settle = Math.min(2, warmupS - 1);
  await sleep(settle * 1000);
  const c0 = machineBusyS();
  const w0 = performance.now();
  await sleep((warmupS - settle) * 1000);
  const coresBefore = (machineBusyS() - c0) / ((performance.now() - w0) / 1000);
  const t0 = load.now();
  const measured = await withMachineCpu(tool);
  const result = { ...measured, cpu: { ...measured.cpu, coresBefore } };
  const t1 = load.now();
  await sleep(1200); // the second in which the tool ended gets reported
  // The first 2 s of a load warm caches and connections: leave them out of "before".
  return { result, before: loadWindow(load.samples, Math.min(2, t0 - 1), t0), during: loadWindow(load.samples, t0, t1) };
}

// ---------------------------------------------------------------- the table

export interface BenchRow {
  run: string;
  load: string;
  wallMs: number | null;
  rows: number;
  blockingMs: number | null;
  before?: LoadWindow;
  during?: LoadWindow;
  stallMs: number | string | null;
  peakRssMb: number | null;
  cpu?: RunCpu;
  extra?: string;
  check: string;
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
const f0 = (n: number) => (Number.isFinite(n) ? String(Math.round(n)) : '-');

/** `peer`: the run every other run of the same load is compared with in the "x peer" column (pt-osc, pg_repack). */
export function printTable(rows: BenchRow[], extraHeader: string | null, peer: string): void {
  const peerMs = (load: string) => rows.find((r) => r.load === load && r.run === peer)?.wallMs ?? null;
  say(`| run | load | wall s | rows/s | x blocking | x ${peer} | load tps before -> during (kept) | load p95 ms before -> during (worst s) | errors | cut-over stall ms | peak RSS MB | CPU s: tool / machine (cores busy before -> during) |${extraHeader ? ` ${extraHeader} |` : ''} check |`);
  say(`|---|---|---|---|---|---|---|---|---|---|---|---|${extraHeader ? '---|' : ''}---|`);
  for (const r of rows) {
    const wall = r.wallMs === null ? '-' : (r.wallMs / 1000).toFixed(2);
    const rate = r.wallMs ? f0((r.rows * 1000) / r.wallMs) : '-';
    const ratio = r.wallMs && r.blockingMs ? `${(r.wallMs / r.blockingMs).toFixed(2)}x` : '-';
    const p = peerMs(r.load);
    const peerRatio = r.wallMs && p ? `${(r.wallMs / p).toFixed(2)}x` : '-';
    const tps = r.before && r.during ? `${f0(r.before.tps)} -> ${f0(r.during.tps)} (${f0((r.during.tps / r.before.tps) * 100)}%)` : '-';
    const p95 = r.before && r.during && Number.isFinite(r.before.p95) ? `${f1(r.before.p95)} -> ${f1(r.during.p95)} (${f1(r.during.p95Worst)})` : '-';
    const errors = r.during ? String(r.during.errors) : '-';
    const stall = r.stallMs === null ? '-' : String(r.stallMs);
    say(`| ${r.run} | ${r.load} | ${wall} | ${rate} | ${ratio} | ${peerRatio} | ${tps} | ${p95} | ${errors} | ${stall} | ${r.peakRssMb ?? '-'} | ${cpuCell(r.cpu)} |${extraHeader ? ` ${r.extra ?? '-'} |` : ''} ${r.check} |`);
  }
}

function cpuCell(c: RunCpu | undefined): string {
  if (!c) return '-';
  const during = c.machineS / c.wallS;
  return `${c.toolS === null ? '-' : c.toolS.toFixed(1)} / ${c.machineS.toFixed(1)} (${c.coresBefore === undefined ? '' : `${c.coresBefore.toFixed(2)} -> `}${during.toFixed(2)})`;
}

/** The last lines of a failed child's output, for the note under the table. */
export function lastLines(text: string, n = 4): string {
  return text.trim().split('\n').slice(-n).join(' / ');
}

/** Where ghostwright's time went (its report's stats): chunks, waits, apply batches. */
export function statsLine(report: AlterReport | null, load: string): string {
  const st = report?.stats;
  if (!st) return `ghostwright stats (${load}): none (the run failed)`;
  const c = st.copy;
  const a = st.apply;
  const reasons = Object.entries(c.throttleReasons).map(([r, ms]) => `${r} ${ms} ms`).join(', ');
  return (
    `ghostwright stats (${load}): copy ${c.chunks} chunks, ${c.firstChunkRows}->${c.maxChunkRows} rows (last ${c.lastChunkRows}), ` +
    `in chunks ${c.chunkMs} ms + boundaries ${c.boundaryMs} ms (summed over workers; ${c.spanChunks ?? 0} chunks' ends by key arithmetic, not read), slowest ${c.maxChunkMs} ms; waited: window ${c.windowWaitMs} ms, ` +
    `throttle ${c.throttleWaitMs} ms${reasons ? ` (${reasons})` : ''}, backlog ${c.backlogWaitMs} ms, share ${c.shareRestMs} ms; ` +
    `apply ${a.batches} batches, ${a.keys} keys (${a.written} written, ${a.leftToCopy} left to the copy, ${a.requeued} requeued), ` +
    `${a.batchMs} ms in batches (max ${a.maxBatchMs} ms, ${a.maxBatchKeys} keys), gathering ${a.gatherMs ?? 0} ms, retries: ${a.lockRetries} lock, ${a.dupRetries} duplicate` +
    `\n  wall time (${load}): ${phasesText(report?.phases, c.wall)}`
  );
}

/**
 * `  load by phase (...): copying 512 tps, catching-up 301 tps, ...`: the
 * load's mean tps in each phase of ghostwright's run that lasted a second or
 * more (the load's samples are per second). Call it before the next run.
 */
export function phaseLoadLine(report: AlterReport | null, load: string, running: RunningLoad): string {
  return `  load by phase (${load}): ${phaseLoadText(report, running)}`;
}

/** An epoch time (a report's `startedAt`) on the load's clock: seconds since the load started. */
export function loadClockS(running: RunningLoad, epochMs: number): number {
  return (epochMs - (performance.timeOrigin + running.startedAt)) / 1000;
}

function phaseLoadText(report: AlterReport | null, running: RunningLoad): string {
  if (report?.startedAt === undefined || !report.phases) return 'unknown (the run failed)';
  let at = loadClockS(running, report.startedAt);
  const parts: string[] = [];
  for (const [phase, s] of Object.entries(report.phases)) {
    const w = loadWindow(running.samples, at, at + s);
    if (s >= 1 && Number.isFinite(w.tps)) parts.push(`${phase} ${Math.round(w.tps)} tps`);
    at += s;
  }
  return parts.join(', ') || 'no phase of a second or more';
}

/** `setup 0.4 s, copying 3.1 s (chunk 2.9, throttle 0.1, idle 0.1), ...`: the report's phases, the copy's by activity. */
function phasesText(phases: Record<string, number> | undefined, wall: Record<string, number> | undefined): string {
  const copy = Object.entries(wall ?? {}).filter(([, ms]) => ms >= 50).map(([k, ms]) => `${k} ${(ms / 1000).toFixed(1)}`).join(', ');
  const parts = Object.entries(phases ?? {}).filter(([, s]) => s >= 0.05);
  return parts.map(([k, s]) => `${k} ${s.toFixed(1)} s${k === 'copying' && copy ? ` (${copy})` : ''}`).join(', ') || 'none';
}
