/**
 * Helpers of the PostgreSQL resume tests: a table with its mirror under a
 * concurrent write load, the built CLI run in the background (to be killed
 * with SIGKILL) or to the end, and reads of the run's checkpoint and leftovers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import pg from 'pg';
import { expect } from 'vitest';
import { BIN } from './cli.js';
import { diffDigests, MirroredLoad, rowDigests } from './pg-load.js';

export const COLS = ['id', 'qty', 'note', 'price'];

export interface Background {
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
  stdout(): string;
  kill9(): Promise<void>;
}

/** Starts the CLI; stdout and stderr are kept for the failure message. `env`: added to this process's. */
export function background(args: string[], env: NodeJS.ProcessEnv = {}): Background {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => ((out += d.toString()), (stdout += d.toString())));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    output: () => out,
    stdout: () => stdout,
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Runs the CLI to its end (at most timeoutMs): exit code, all output, and the --json report. */
export async function runToEnd(args: string[], timeoutMs = 240_000): Promise<{ code: number | null; out: string; report: Record<string, any> | null }> {
  const run = background(args);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), timeoutMs);
  const code = await run.exited;
  clearTimeout(timer);
  let report: Record<string, any> | null = null;
  try {
    report = JSON.parse(run.stdout()) as Record<string, any>;
  } catch {
    /* not JSON */
  }
  return { code, out: run.output(), report };
}

export interface CheckpointRow {
  phase: string;
  rowsCopied: number;
  ranges: { through: unknown; done: boolean }[];
}

/** The checkpoint in the changelog of `table`, or null. */
export async function readCheckpoint(db: pg.Client, table: string): Promise<CheckpointRow | null> {
  const ghc = `_${table}_ghc`;
  const exists = await db.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [ghc]);
  if (!exists.rows[0].ok) return null;
  const r = await db.query(`SELECT state FROM "${ghc}" WHERE id = 2`).catch(() => ({ rows: [] as { state: CheckpointRow }[] }));
  return (r.rows[0]?.state as CheckpointRow | undefined) ?? null;
}

/** Polls until cond holds (or throws after timeoutMs, killing `run` first). */
export async function waitUntil(what: string, cond: () => Promise<boolean>, run: Background | null, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (run && run.child.exitCode !== null) throw new Error(`the run ended (exit ${run.child.exitCode}) before ${what}:\n${run.output()}`);
    if (Date.now() > deadline) {
      await run?.kill9();
      throw new Error(`timed out waiting for ${what}:\n${run?.output() ?? ''}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const copying = (cp: CheckpointRow | null): boolean => cp !== null && cp.phase === 'copying' && cp.ranges.some((r) => r.through !== null) && cp.ranges.some((r) => !r.done);

export async function createPair(db: pg.Client, table: string, rows: number): Promise<void> {
  for (const t of [table, `${table}_mirror`]) {
    await db.query(`CREATE TABLE ${t} (id bigint PRIMARY KEY, qty int NOT NULL, note text, price numeric(14,4))`);
    await db.query(`INSERT INTO ${t} SELECT g, g % 1000, 'note ' || g, g * 1.5 FROM generate_series(1, $1) g`, [rows]);
  }
}

/** A load on `table` and its mirror; new ids start above `from`. */
export function startLoad(url: string, table: string, from: number, maxExisting: number): MirroredLoad {
  const load = new MirroredLoad({ url, table, mirror: `${table}_mirror`, workers: 3, firstNewId: from + 1, maxExistingId: maxExisting, pauseMs: 3 });
  load.start();
  return load;
}

/** The new table equals the mirror row for row, carries the added column, and the run left nothing behind. */
export async function expectFinished(db: pg.Client, table: string): Promise<void> {
  const a = await rowDigests(db, table, 'id', COLS);
  const b = await rowDigests(db, `${table}_mirror`, 'id', COLS);
  expect(diffDigests(a, b)).toEqual([]);
  expect(a.size).toBe(b.size);
  expect((await db.query(`SELECT count(*)::int AS n FROM ${table} WHERE extra IS DISTINCT FROM 7`)).rows[0].n).toBe(0);
  const left = await db.query(`SELECT relname FROM pg_class WHERE relname IN ($1, $2)`, [`_${table}_gho`, `_${table}_ghc`]);
  expect(left.rows).toEqual([]);
  expect((await db.query(`SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name LIKE 'ghostwright%' AND database = current_database()`)).rows[0].n).toBe(0);
  expect((await db.query(`SELECT count(*)::int AS n FROM pg_replication_origin WHERE roname LIKE 'ghostwright%'`)).rows[0].n).toBe(0);
  expect((await db.query(`SELECT count(*)::int AS n FROM pg_publication WHERE pubname LIKE 'ghostwright%'`)).rows[0].n).toBe(0);
}
