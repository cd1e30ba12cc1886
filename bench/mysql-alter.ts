/**
 * MySQL/MariaDB online ALTER benchmark, one process, one table, one change,
 * every tool on the same freshly built table (issue #11 item 5):
 *
 *   blocking `ALTER ... ALGORITHM=COPY` | ghostwright (defaults) | pt-online-schema-change
 *   each again under sysbench oltp_read_write (4 threads)
 *
 * The table is sysbench's sbtest1 (id, k, c CHAR(120), pad CHAR(60), KEY k_1),
 * generated on the server. The load is sysbench's oltp_read_write with every
 * write mirrored into sbtest1_mirror in the same transaction
 * (bench/sysbench/oltp_read_write_mirror.lua): after each run the table must
 * equal the mirror row for row, which is the check. Tools that are not
 * installed are named in the output and skipped.
 *
 * Usage: npm run bench:mysql -- [--rows N] [--url mysql://...] [--warmup S] [--gw-flags "--max-share 50"] [--also "--max-share 25" ...] [--no-load] [--no-idle]
 *   [--only ghostwright,pt-online] [--gw-log FILE (ghostwright's debug log)] [--control S (a run under load with no tool, S seconds: the load's own drift)]
 */
import { availableParallelism, loadavg } from 'node:os';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConnectionUrl, type ConnectionSpec } from '../src/connection.js';
import { connectEngine } from '../src/engine/index.js';
import type { Engine } from '../src/engine/engine.js';
import { silentLogger } from '../src/log.js';
import { startSandbox, type Sandbox } from '../src/sandbox/index.js';
import { applierRate } from './applier-hook.js';
import {
  controlRun, findTool, lastLines, loadClockS, loadWindow, parseArgs, parseSysbenchLine, phaseLoadLine, printTable, runChild, runGhostwright, say, serverMemoryLine, serverMemoryOverrides, startLoadTool, statsLine, underLoad,
  type BenchRow, type ChildResult, type RunningLoad, withMachineCpu,
} from './harness.js';
import type { AlterReport } from '../src/core/report.js';

const TABLE = 'sbtest1';
const MIRROR = 'sbtest1_mirror';
const CLAUSES = 'ADD COLUMN extra INT NOT NULL DEFAULT 0, MODIFY COLUMN k BIGINT NOT NULL';
const LOAD_THREADS = 4;

const args = parseArgs(process.argv.slice(2));
let sandbox: Sandbox | undefined;
let url = args.url;
if (!url) {
  sandbox = await startSandbox({ dir: mkdtempSync(join(tmpdir(), 'ghostwright-bench-')), mysql: true, postgres: false, replicas: false, mysqlOverrides: serverMemoryOverrides(args.serverMemory)?.mysql });
  url = sandbox.mysql!.url;
}
const spec = parseConnectionUrl(url);
const engine = await connectEngine(spec, silentLogger);
const sysbench = findTool(['sysbench']);
const ptosc = findTool(['pt-online-schema-change']);
const rows: BenchRow[] = [];
const notes: string[] = [];
/** The last ghostwright run's report: its verification and stats go under the table. */
let lastReport: AlterReport | null = null;
const statLines: string[] = [];

try {
  const version = String((await engine.execute('SELECT VERSION() AS v')).rows[0]?.v ?? '?');
  say(`# MySQL/MariaDB online ALTER benchmark: ${args.rows.toLocaleString('en')} rows of sysbench's sbtest1 (~190 bytes), server ${version}`);
  say(`# change: ${CLAUSES}`);
  say(`# machine: ${availableParallelism()} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at start (a busy machine makes every number noisy)`);
  say(`# sysbench: ${sysbench ?? 'MISSING (apt-get install sysbench): the runs under load are skipped'}`);
  say(`# pt-online-schema-change: ${ptosc ?? 'MISSING (apt-get install percona-toolkit): its runs are skipped'}`);
  say(serverMemoryLine(args, 'InnoDB buffer pool', '256 MB'));
  if (args.gwFlags.length) say(`# ghostwright extra flags: ${args.gwFlags.join(' ')}`);
  say();

  const tools: { name: string; run: () => Promise<Omit<BenchRow, 'run' | 'load' | 'rows' | 'blockingMs' | 'check'>>; gw?: true }[] = [
    { name: 'blocking ALTER ALGORITHM=COPY', run: blocking },
    { name: 'ghostwright (defaults)', run: () => ghostwright([]), gw: true },
    ...args.also.map((flags) => ({ name: `ghostwright (${flags.join(' ')})`, run: () => ghostwright(flags), gw: true as const })),
  ];
  if (ptosc) tools.push({ name: 'pt-online-schema-change', run: () => ptOsc(ptosc) });
  if (args.only.length) tools.splice(0, tools.length, ...tools.filter((t) => args.only.some((w) => t.name.toLowerCase().includes(w))));

  let blockingMs: number | null = null;
  for (const tool of args.skipIdle ? [] : tools) {
    await buildTable(engine, args.rows);
    const r = await withMachineCpu(tool.run);
    if (tool.run === blocking) blockingMs = r.wallMs;
    rows.push({ ...r, run: tool.name, load: 'none', rows: args.rows, blockingMs, extra: verifyCell(tool.gw === true, null), check: await rowCheck(engine) });
    if (tool.gw) statLines.push(statsLine(lastReport, `${tool.name}, no load`));
    say(`done: ${tool.name}, no load`);
  }
  if (sysbench && !args.skipLoad) {
    for (const tool of args.controlS ? [...tools, controlRun(args.controlS)] : tools) {
      await buildTable(engine, args.rows);
      const load = startSysbench(sysbench, spec, args.rows);
      let out: Awaited<ReturnType<typeof underLoad<Awaited<ReturnType<typeof tool.run>>>>>;
      try {
        out = await underLoad(load, args.warmup, tool.run);
      } finally {
        const text = await load.stop();
        if (load.samples.length === 0) notes.push(`sysbench printed no report for ${tool.name}: ${lastLines(text)}`);
      }
      if (tool.run === blocking) blockingMs = out.result.wallMs;
      rows.push({ ...out.result, run: tool.name, load: `sysbench oltp_read_write (mirrored) ${LOAD_THREADS} thr`, rows: args.rows, blockingMs, before: out.before, during: out.during, extra: verifyCell(tool.gw === true, load), check: await rowCheck(engine) });
      if (tool.gw) statLines.push(statsLine(lastReport, `${tool.name}, under load`), phaseLoadLine(lastReport, `${tool.name}, under load`, load));
      say(`done: ${tool.name}, under load`);
    }
  }
  say();
  printTable(rows, 'verify s (load tps during)', 'pt-online-schema-change');
  for (const n of notes) say(`note: ${n}`);
  for (const l of statLines) say(l);
  say('notes: wall = the tool\'s process from start to exit; rows/s = rows / wall; "x blocking" compares with the blocking ALTER of the same load column;');
  say('  tps/p95 = sysbench --report-interval=1 lines: mean tps and median per-second p95 in the seconds before the tool (after 2 s of warm-up) and while it ran;');
  say('  the blocking ALTER\'s stall is its whole run (writes wait for it); pt-osc does not report its swap time (-).');
  say('  verify = ghostwright\'s row-by-row verification before its cut-over (part of its wall time; --no-verify skips it), with the load\'s mean tps in the seconds it ran.');
  say(await applierRate(url, 'mysql'));
} finally {
  await engine.close();
  await sandbox?.stop();
}

// ---------------------------------------------------------------- the runs

async function blocking() {
  const t0 = performance.now();
  await engine.execute(`ALTER TABLE ${q(TABLE)} ${CLAUSES}, ALGORITHM=COPY`);
  const wallMs = performance.now() - t0;
  return { wallMs, stallMs: Math.round(wallMs), peakRssMb: null };
}

async function ghostwright(extraFlags: string[]) {
  lastReport = null;
  const res = await runGhostwright(['alter', '--url', url!, '--table', TABLE, '--alter', CLAUSES, '--execute', '--ok-to-drop-table', ...args.gwFlags, ...extraFlags], args.gwLog);
  lastReport = res.report;
  if (res.report?.status !== 'done') {
    notes.push(`ghostwright failed: ${JSON.stringify(res.report?.error ?? lastLines(res.stderr))}`);
    return { wallMs: null, stallMs: null, peakRssMb: res.peakRssMb, cpuMs: res.cpuMs };
  }
  return { wallMs: res.wallMs, stallMs: res.report.cutOverStallMs, peakRssMb: res.peakRssMb, cpuMs: res.cpuMs };
}

async function ptOsc(bin: string) {
  const dsn = `D=${spec.database},t=${TABLE},h=${spec.host},P=${spec.port},u=${spec.user}`;
  // --password on the command line (visible in ps): acceptable for a bench against a throwaway sandbox.
  const res: ChildResult = await runChild(bin, ['--alter', CLAUSES, '--execute', '--recursion-method=none', '--charset=utf8mb4', ...(spec.password ? ['--password', spec.password] : []), dsn]);
  if (res.code !== 0) {
    notes.push(`pt-online-schema-change exited ${res.code}: ${lastLines(res.stdout + res.stderr)}`);
    return { wallMs: null, stallMs: null, peakRssMb: res.peakRssMb, cpuMs: res.cpuMs };
  }
  return { wallMs: res.wallMs, stallMs: '-', peakRssMb: res.peakRssMb, cpuMs: res.cpuMs };
}

function startSysbench(bin: string, s: ConnectionSpec, tableSize: number): RunningLoad {
  const script = fileURLToPath(new URL('../../bench/sysbench/oltp_read_write_mirror.lua', import.meta.url));
  return startLoadTool(
    bin,
    [
      script, '--db-driver=mysql', `--mysql-host=${s.host}`, `--mysql-port=${s.port}`, `--mysql-user=${s.user}`, `--mysql-password=${s.password ?? ''}`, `--mysql-db=${s.database}`,
      '--tables=1', `--table-size=${tableSize}`, `--threads=${LOAD_THREADS}`, '--time=0', '--report-interval=1', '--percentile=95',
      // Deadlocks and lock wait timeouts restart the transaction (pt-osc's triggers cause them); anything else stops the load.
      '--mysql-ignore-errors=1213,1205', 'run',
    ],
    parseSysbenchLine,
    { ...process.env, LUA_PATH: `/usr/share/sysbench/?.lua;${process.env.LUA_PATH ?? ';'}` },
  );
}

/** `2.31 (412 tps)`: the verification's time and, under load, the load's tps while it ran. */
function verifyCell(isGhostwright: boolean, load: RunningLoad | null): string | undefined {
  const v = isGhostwright ? lastReport?.verify : undefined;
  if (!v) return isGhostwright ? 'off/failed' : undefined;
  const secs = (v.ms / 1000).toFixed(2);
  if (!load) return secs;
  const from = loadClockS(load, v.startedAt);
  const w = loadWindow(load.samples, Math.floor(from), from + v.ms / 1000);
  return `${secs} (${Number.isFinite(w.tps) ? Math.round(w.tps) : '-'} tps)`;
}

// ---------------------------------------------------------------- the table and its check

function q(name: string): string {
  return engine.quoteIdent(name);
}

/** `#`s of sysbench's templates as digits: groups of 11 digits joined by '-', from the row number. */
function digits(groups: number, salt: number): string {
  const parts = Array.from({ length: groups }, (_, i) => `LPAD((n * ${7919 + 104729 * (i + salt)}) % 99999999977, 11, '0')`);
  return `CONCAT_WS('-', ${parts.join(', ')})`;
}

async function buildTable(e: Engine, n: number): Promise<void> {
  for (const t of [TABLE, MIRROR, `_${TABLE}_del`, `${TABLE}_gho`, `_${TABLE}_ghc`, `_${TABLE}_new`, `_${TABLE}_old`]) await e.execute(`DROP TABLE IF EXISTS ${q(t)}`);
  await e.execute(`CREATE TABLE ${q(TABLE)} (id INT NOT NULL AUTO_INCREMENT, k INT NOT NULL DEFAULT 0, c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', PRIMARY KEY (id), KEY k_1 (k)) ENGINE=InnoDB`);
  const d10 = '(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)';
  const batch = 100_000;
  for (let from = 1; from <= n; from += batch) {
    // A cross join of digits works on MariaDB and MySQL 8 alike (no sequence engine, no recursion limit).
    await e.execute(
      `INSERT INTO ${q(TABLE)} (id, k, c, pad)
       SELECT n, 1 + (n * 2654435761) % ?, ${digits(10, 0)}, ${digits(5, 10)}
       FROM (SELECT ? + a.d + 10 * b.d + 100 * c.d + 1000 * d.d + 10000 * e.d AS n FROM ${d10} a, ${d10} b, ${d10} c, ${d10} d, ${d10} e) g
       WHERE n <= ?`,
      [n, from, Math.min(n, from + batch - 1)],
    );
  }
  await e.execute(`CREATE TABLE ${q(MIRROR)} LIKE ${q(TABLE)}`);
  await e.execute(`INSERT INTO ${q(MIRROR)} SELECT * FROM ${q(TABLE)}`);
  await e.execute(`ANALYZE TABLE ${q(TABLE)}`);
}

/** Row by row against the mirror: `OK (N rows)` or what differs; also that the change itself happened. */
async function rowCheck(e: Engine): Promise<string> {
  const one = async (sql: string) => Number(Object.values((await e.execute(sql)).rows[0] ?? {})[0] ?? 0);
  const t = q(TABLE);
  const m = q(MIRROR);
  const missing = await one(`SELECT COUNT(*) FROM ${m} m LEFT JOIN ${t} t ON t.id = m.id WHERE t.id IS NULL`);
  const extra = await one(`SELECT COUNT(*) FROM ${t} t LEFT JOIN ${m} m ON m.id = t.id WHERE m.id IS NULL`);
  const different = await one(`SELECT COUNT(*) FROM ${t} t JOIN ${m} m ON m.id = t.id WHERE NOT (t.k <=> m.k AND t.c <=> m.c AND t.pad <=> m.pad)`);
  const total = await one(`SELECT COUNT(*) FROM ${t}`);
  const typeRows = (await e.execute(`SELECT DATA_TYPE AS k_type, (SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = 'extra') AS has_extra FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = 'k'`, [TABLE, TABLE])).rows[0];
  const changed = typeRows?.k_type === 'bigint' && Number(typeRows?.has_extra) === 1;
  if (missing + extra + different === 0 && changed) return `OK (${total} rows)`;
  if (missing + extra + different > 0) process.exitCode = 1;
  return `${missing + extra + different === 0 ? 'rows OK' : 'FAILED'}: ${total} rows, missing ${missing}, extra ${extra}, different ${different}${changed ? '' : ', schema NOT changed'}`;
}
