/**
 * PostgreSQL online ALTER benchmark, one process, one table, one change
 * (issue #12 item 5):
 *
 *   blocking `ALTER COLUMN TYPE` | pg_repack (a rewrite without the type change: the floor)
 *   | ghostwright, no load | ghostwright and pg_repack under pgbench TPC-B (4 clients)
 *
 * The table is pgbench_accounts (pgbench -i, scale = rows / 100,000; scale 10
 * = 1M rows of ~100 bytes), rebuilt before every run. The check: without load,
 * the row count and a hash over every row's values equal what they were
 * before; under pgbench, TPC-B's invariant holds afterwards (sum of account
 * balances = branch balances = teller balances = history deltas) and no
 * account row is missing or extra. Missing tools are named and skipped.
 * Verification's cost is printed under the table: its time (core/verify.ts's
 * report) and, under load, pgbench's tps while it ran against before.
 *
 * Usage: npm run bench:pg -- [--rows N] [--url postgres://...] [--warmup S] [--gw-flags "..."] [--also "--max-share 25" ...] [--no-load]
 *        [--pg-version 15|16|17|18 | --pg-bin DIR] (the sandbox's server; pgbench/pg_repack also from DIR)
 */
import { availableParallelism, loadavg } from 'node:os';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConnectionUrl, type ConnectionSpec } from '../src/connection.js';
import { connectEngine } from '../src/engine/index.js';
import type { Engine } from '../src/engine/engine.js';
import { silentLogger } from '../src/log.js';
import { startSandbox, type Sandbox } from '../src/sandbox/index.js';
import { applierRate } from './applier-hook.js';
import {
  findTool, lastLines, loadClockS, loadWindow, parseArgs, parsePgbenchLine, phaseLoadLine, printTable, runChild, runGhostwright, say, serverMemoryLine, serverMemoryOverrides, sleep, startLoadTool, statsLine, underLoad, usage, withMachineCpu,
  type BenchRow, type RunningLoad,
} from './harness.js';
import type { VerifyReport } from '../src/core/verify.js';
import type { AlterReport } from '../src/core/report.js';

const TABLE = 'pgbench_accounts';
const CLAUSES = 'ADD COLUMN extra int NOT NULL DEFAULT 0, ALTER COLUMN abalance TYPE bigint';
const CLIENTS = 4;
const SLOT_WAL = "SELECT COALESCE(MAX(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)), 0)::float8 AS b FROM pg_replication_slots WHERE slot_name LIKE 'ghostwright\\_%'";

const args = parseArgs(process.argv.slice(2));
// --pg-version / --pg-bin pick the sandbox's server (Debian packages or the
// npm builds, see src/sandbox/pg-binaries.ts); pgbench and pg_repack come
// from --pg-bin or that version's Debian directory, else PATH (pgbench is
// version-agnostic; pg_repack needs its extension built for the server).
if ((args.pgVersion || args.pgBin) && args.url) usage('--pg-version / --pg-bin start a sandbox server: leave out --url (with --url, the server is whatever it names)');
let sandbox: Sandbox | undefined;
let url = args.url;
if (!url) {
  sandbox = await startSandbox({ dir: mkdtempSync(join(tmpdir(), 'ghostwright-bench-')), mysql: false, postgres: true, replicas: false, pgOverrides: serverMemoryOverrides(args.serverMemory)?.pg, pgVersion: args.pgVersion, pgBin: args.pgBin }).catch((err: Error & { hint?: string }) =>
    usage(`cannot start the PostgreSQL sandbox: ${err.message}${err.hint ? ` (${err.hint})` : ''}`),
  );
  url = sandbox.postgres!.url;
}
const spec = parseConnectionUrl(url);
const engine = await connectEngine(spec, silentLogger);
const rows: BenchRow[] = [];
const notes: string[] = [];
/** Verification of each ghostwright run: the report's figures, and under load pgbench's tps while it ran. */
const verifyLines: string[] = [];
/** Where each ghostwright run's time went (its report's phases and stats). */
const statLines: string[] = [];
let lastReport = null as AlterReport | null; // set by ghostwright() (a cast: TypeScript would narrow it to null here)
const scale = Math.max(1, Math.round(args.rows / 100_000));
const nRows = scale * 100_000;
const env = { ...process.env, PGPASSWORD: spec.password ?? '' };
const conn = ['-h', spec.host, '-p', String(spec.port), '-U', spec.user];

try {
  const versionNum = Number((await one(engine, 'SHOW server_version_num')) ?? 0);
  const major = String(Math.floor(versionNum / 10000));
  const binDirs = [...(args.pgBin ? [args.pgBin] : []), `/usr/lib/postgresql/${major}/bin`];
  const pgbench = findTool(['pgbench'], binDirs);
  if (!pgbench) usage(`pgbench not found (looked in ${binDirs.join(', ')} and PATH): it builds the table; install postgresql-contrib or pass --pg-bin`);
  const repackBin = findTool(['pg_repack'], binDirs);
  const repackExt = Number(await one(engine, "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_repack'")) > 0;
  const repack = repackBin && repackExt ? repackBin : null;
  say(`# PostgreSQL online ALTER benchmark: ${nRows.toLocaleString('en')} rows of pgbench_accounts (scale ${scale}), server ${await one(engine, 'SHOW server_version')}`);
  say(`# change: ${CLAUSES}`);
  say(`# machine: ${availableParallelism()} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at start (a busy machine makes every number noisy)`);
  say(`# pgbench: ${pgbench}`);
  say(`# pg_repack: ${repack ?? `MISSING (${repackBin ? '' : 'no pg_repack binary; '}${repackExt ? '' : `no pg_repack extension for PostgreSQL ${major}; `}Debian: apt-get install postgresql-${major}-repack): its runs are skipped`}`);
  say(serverMemoryLine(args, 'shared_buffers', '128 MB'));
  if (args.gwFlags.length) say(`# ghostwright extra flags: ${args.gwFlags.join(' ')}`);
  say();

  let blockingMs: number | null = null;
  const noLoad = 'none';
  const loaded = `pgbench TPC-B ${CLIENTS} clients`;

  // --only WORD,...: only the runs whose name holds one of the words (e.g. ghostwright, blocking, repack).
  const picked = (name: string) => !args.only.length || args.only.some((w) => name.toLowerCase().includes(w));
  let before: Awaited<ReturnType<typeof rowHash>>;
  if (picked('blocking ALTER')) {
    await buildTables(pgbench);
    before = await rowHash();
    const t0 = performance.now();
    const { cpu } = await withMachineCpu(async () => ({ done: await engine.execute(`ALTER TABLE ${q(TABLE)} ${CLAUSES}`) }));
    blockingMs = performance.now() - t0;
    rows.push({ run: 'blocking ALTER COLUMN TYPE', load: noLoad, wallMs: blockingMs, rows: nRows, blockingMs, stallMs: Math.round(blockingMs), peakRssMb: null, cpu, check: await hashCheck(before, true) });
    say('done: blocking ALTER, no load');
  }

  if (repack && picked('pg_repack')) {
    await buildTables(pgbench);
    before = await rowHash();
    const r = await withMachineCpu(() => pgRepack(repack));
    rows.push({ ...r, run: 'pg_repack (no type change)', load: noLoad, rows: nRows, blockingMs, check: r.wallMs === null ? 'failed' : await hashCheck(before, false) });
    say('done: pg_repack, no load');
  }

  const gwRuns = [{ name: 'ghostwright (defaults)', flags: [] as string[] }, ...args.also.map((flags) => ({ name: `ghostwright (${flags.join(' ')})`, flags }))].filter((r) => picked(r.name));
  for (const run of args.skipIdle ? [] : gwRuns) {
    await buildTables(pgbench);
    before = await rowHash();
    const gw = await withMachineCpu(() => ghostwright(run.flags, 'no load'));
    rows.push({ ...gw, run: run.name, load: noLoad, rows: nRows, blockingMs, check: gw.wallMs === null ? 'failed' : await hashCheck(before, true) });
    verifyLines.push(`${run.name}, no load: ${describeVerify(lastReport?.verify, gw.wallMs)}`);
    say(`done: ${run.name}, no load`);
  }

  if (!args.skipLoad) {
    const loadedRuns: { name: string; run: () => Promise<Omit<BenchRow, 'run' | 'load' | 'rows' | 'blockingMs' | 'check'>>; changed: boolean }[] = gwRuns.map((r) => ({ name: r.name, run: () => ghostwright(r.flags, 'under load'), changed: true }));
    if (repack && picked('pg_repack')) loadedRuns.push({ name: 'pg_repack (no type change)', run: () => pgRepack(repack), changed: false });
    for (const tool of loadedRuns) {
      await buildTables(pgbench);
      const load = startPgbench(pgbench);
      let out: { result: Awaited<ReturnType<typeof tool.run>>; before: BenchRow['before']; during: BenchRow['during'] };
      try {
        out = await underLoad(load, args.warmup, tool.run);
      } finally {
        const text = await load.stop();
        if (load.samples.length === 0) notes.push(`pgbench printed no progress for ${tool.name}: ${lastLines(text)}`);
        else if (/aborted|error/i.test(text)) notes.push(`pgbench reported for ${tool.name}: ${lastLines(text.split('\n').filter((l) => /aborted|error/i.test(l)).join('\n'), 2)}`);
      }
      await sleep(500); // pgbench's killed sessions end their transactions
      if (tool.changed) {
        const v = lastReport?.verify;
        const during = v ? loadWindow(load.samples, loadClockS(load, v.startedAt), loadClockS(load, v.startedAt + v.ms)) : null;
        const tps = during && during.seconds ? `pgbench ${during.tps.toFixed(0)} tps during it (${during.seconds} s sampled) vs ${out.before?.tps.toFixed(0) ?? '-'} before, ${out.during?.tps.toFixed(0) ?? '-'} over the whole run` : 'no pgbench sample inside it (shorter than a second)';
        verifyLines.push(`${tool.name}, under load: ${describeVerify(v, out.result.wallMs)}; ${tps}`);
        statLines.push(phaseLoadLine(lastReport, `${tool.name}, under load`, load));
      }
      rows.push({ ...out.result, run: tool.name, load: loaded, rows: nRows, blockingMs: null, before: out.before, during: out.during, check: out.result.wallMs === null ? 'failed' : await tpcbCheck(tool.changed) });
      say(`done: ${tool.name}, under load`);
    }
  }
  say();
  printTable(rows, 'peak retained WAL MB', 'pg_repack (no type change)');
  for (const n of notes) say(`note: ${n}`);
  say('verification (before the cut-over: checksums of the original and the new table at one consistent point; a single integer key in one scan of each, at once, split by key spans only when they differ):');
  for (const l of verifyLines) say(`  ${l}`);
  for (const l of statLines) say(l);
  say('notes: wall = the tool\'s process (or the statement) from start to exit; rows/s = rows / wall; x blocking = against the blocking ALTER without load;');
  say('  tps = pgbench -P 1 lines, mean in the seconds before the tool (after 2 s of warm-up) and while it ran (pgbench prints no per-second p95);');
  say('  pg_repack rewrites without changing the type: a floor, not the same work; the blocking ALTER\'s stall is its whole run; pg_repack does not report its swap time (-);');
  say('  peak retained WAL = the largest pg_wal_lsn_diff(current, restart_lsn) of our slot, sampled every 200 ms.');
  say(await applierRate(url, 'postgres'));
} finally {
  await engine.close();
  await sandbox?.stop();
}

// ---------------------------------------------------------------- the runs

function describeVerify(v: VerifyReport | undefined, wallMs: number | null): string {
  if (!v) return 'not reported (--no-verify, or the run failed)';
  const share = wallMs ? ` = ${((100 * v.ms) / wallMs).toFixed(0)}% of the run` : '';
  return `${(v.ms / 1000).toFixed(2)} s${share}, ${v.rows.toLocaleString('en')} rows in ${v.chunks} ${v.chunks === 1 ? 'pass' : 'spans/chunks'}, writers held ${v.lockMs} ms to fix its point, ${v.recopiedChunks} chunks re-copied`;
}

async function ghostwright(extraFlags: string[], load: string) {
  lastReport = null;
  let peakWal = 0;
  let busy = false;
  const gauge = setInterval(() => {
    if (busy) return;
    busy = true;
    one(engine, SLOT_WAL)
      .then((b) => (peakWal = Math.max(peakWal, Number(b ?? 0))))
      .catch(() => undefined)
      .finally(() => (busy = false));
  }, 200);
  try {
    const res = await runGhostwright(['alter', '--url', url!, '--table', TABLE, '--alter', CLAUSES, '--execute', '--ok-to-drop-table', ...args.gwFlags, ...extraFlags], args.gwLog);
    lastReport = res.report;
    statLines.push(statsLine(res.report, `${[...args.gwFlags, ...extraFlags].join(' ') || 'defaults'}, ${load}`));
    const extra = (peakWal / 1048576).toFixed(1);
    if (res.report?.status !== 'done') {
      notes.push(`ghostwright failed: ${JSON.stringify(res.report?.error ?? lastLines(res.stderr))}`);
      return { wallMs: null, stallMs: null, peakRssMb: res.peakRssMb, cpuMs: res.cpuMs, extra };
    }
    return { wallMs: res.wallMs, stallMs: res.report.cutOverStallMs, peakRssMb: res.peakRssMb, cpuMs: res.cpuMs, extra };
  } finally {
    clearInterval(gauge);
  }
}

async function pgRepack(bin: string) {
  await engine.execute('CREATE EXTENSION IF NOT EXISTS pg_repack');
  // --no-kill-backend: wait for pgbench's locks instead of cancelling its sessions.
  const res = await runChild(bin, [...conn, '-d', spec.database, '-t', `public.${TABLE}`, '--no-kill-backend'], env);
  if (res.code !== 0) {
    notes.push(`pg_repack exited ${res.code}: ${lastLines(res.stdout + res.stderr)}`);
    return { wallMs: null, stallMs: null, peakRssMb: res.peakRssMb, cpuMs: res.cpuMs };
  }
  return { wallMs: res.wallMs, stallMs: '-', peakRssMb: res.peakRssMb, cpuMs: res.cpuMs };
}

function startPgbench(bin: string): RunningLoad {
  return startLoadTool(bin, [...conn, '-c', String(CLIENTS), '-j', '2', '-T', '86400', '-P', '1', spec.database], parsePgbenchLine, env);
}

// ---------------------------------------------------------------- tables and checks

function q(name: string): string {
  return engine.quoteIdent(name);
}

async function one(e: Engine, sql: string): Promise<unknown> {
  return Object.values((await e.execute(sql)).rows[0] ?? {})[0];
}

/** pgbench's four tables at the bench's scale, generated on the server (-I dtGvp); our leftovers dropped. */
async function buildTables(pgbench: string): Promise<void> {
  for (const t of [`_${TABLE}_del`, `_${TABLE}_gho`, `_${TABLE}_ghc`]) await engine.execute(`DROP TABLE IF EXISTS ${q(t)} CASCADE`);
  const res = await runChild(pgbench, [...conn, '-i', '-s', String(scale), '-I', 'dtGvp', '-q', spec.database], env);
  if (res.code !== 0) throw new Error(`pgbench -i failed: ${lastLines(res.stderr)}`);
}

/** Row count and a hash over every row's values, independent of the column types' width. */
async function rowHash(): Promise<string> {
  const r = (await engine.execute(`SELECT count(*)::text AS n, sum(hashtext(aid::text || ',' || bid::text || ',' || abalance::text || ',' || filler))::text AS h FROM ${q(TABLE)}`)).rows[0];
  return `${r?.n}/${r?.h}`;
}

async function changed(): Promise<boolean> {
  const t = await one(engine, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'public.${TABLE}'::regclass AND attname = 'abalance'`);
  const extra = await one(engine, `SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.${TABLE}'::regclass AND attname = 'extra' AND NOT attisdropped`);
  return t === 'bigint' && Number(extra) === 1;
}

async function hashCheck(before: string, wantChange: boolean): Promise<string> {
  const after = await rowHash();
  const schemaOk = !wantChange || (await changed());
  if (after === before && schemaOk) return `OK (${after.split('/')[0]} rows, same hash)`;
  process.exitCode = 1;
  return `FAILED: before ${before}, after ${after}${schemaOk ? '' : ', schema NOT changed'}`;
}

async function tpcbCheck(wantChange: boolean): Promise<string> {
  const r = (await engine.execute(
    `SELECT (SELECT count(*) FROM pgbench_accounts)::text AS n, (SELECT sum(abalance) FROM pgbench_accounts)::text AS a,
            (SELECT sum(bbalance) FROM pgbench_branches)::text AS b, (SELECT sum(tbalance) FROM pgbench_tellers)::text AS t,
            (SELECT coalesce(sum(delta), 0) FROM pgbench_history)::text AS h, (SELECT count(*) FROM pgbench_history)::text AS txns`,
  )).rows[0]!;
  const schemaOk = !wantChange || (await changed());
  const ok = Number(r.n) === nRows && r.a === r.b && r.b === r.t && r.t === r.h && schemaOk;
  if (!ok) process.exitCode = 1;
  return `${ok ? 'OK' : 'FAILED'}: ${r.n} rows, sums accounts ${r.a} / branches ${r.b} / tellers ${r.t} / history ${r.h} (${r.txns} txns)${schemaOk ? '' : ', schema NOT changed'}`;
}
