/**
 * Kill-and-resume plumbing for the MySQL resume tests: a CLI run as a child
 * process (so kill -9 is real), the checkpoint read from its changelog, and
 * the end check (the altered table equals the load's mirror, row for row).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'vitest';
import { fidelityTable, LOAD_COLUMNS, rowSignatures, diffSignatures, seedRows } from './mysql-load.js';
import { BIN, type Run } from './cli.js';
import { helpersOf, type TestSql } from './servers.js';

export const ALTER = 'DROP COLUMN drop_me, ADD COLUMN extra INT NOT NULL DEFAULT 7';

export interface CliRun {
  child: ChildProcess;
  done: Promise<Run>;
}

/** `env`: added to this process's environment (e.g. GHOSTWRIGHT_TEST_KILL_AT). */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): CliRun {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += String(d)));
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const done = new Promise<Run>((resolve) => child.on('close', (code, signal) => resolve({ code: code ?? (signal === 'SIGKILL' ? 137 : 1), stdout, stderr })));
  return { child, done };
}

/** The alter command line; `extra` adds or overrides flags. */
export function alterArgs(url: string, table: string, extra: string[] = []): string[] {
  return ['alter', '--url', url, '--table', table, '--alter', ALTER, '--execute', '--json', '--progress', 'none', '--replica', 'none', '--checkpoint-interval-millis', '200', ...extra];
}

/** Secondary keys of the table (single, multi-column, prefix): the run defers them (engine/mysql/deferred-indexes.ts) and must end with them. */
export const KEYS = "ADD INDEX r_i (i), ADD INDEX r_multi (i, dt), ADD INDEX r_prefix (txt(6), vb(3)) COMMENT 'prefix'";

/** The table (with KEYS) and its mirror, seeded; `<table>_ref`: the table's shape after a blocking ALTER, for expectMirrored. */
export async function createLoadTables(db: TestSql, url: string, table: string, rows: number): Promise<bigint[]> {
  await db.query(fidelityTable(table));
  await db.query(`ALTER TABLE \`${table}\` ${KEYS}`);
  await db.query(`CREATE TABLE \`${table}_ref\` LIKE \`${table}\``);
  await db.query(`ALTER TABLE \`${table}_ref\` ${ALTER}`);
  await db.query(fidelityTable(`${table}_mirror`));
  return seedRows(url, table, `${table}_mirror`, rows);
}

/** SHOW CREATE TABLE without the table's name and AUTO_INCREMENT counter. */
export async function shapeOf(db: TestSql, table: string): Promise<string> {
  const row = (await db.query<Record<string, string>>(`SHOW CREATE TABLE \`${table}\``))[0]!;
  return row['Create Table']!.replace(/^CREATE TABLE `[^`]+`/, 'CREATE TABLE `x`').replace(/ AUTO_INCREMENT=\d+/, '');
}

/** The index names of a table (the ghost's, at a kill). */
export async function indexNames(db: TestSql, table: string): Promise<string[]> {
  const rows = await db.query<{ n: string }>('SELECT DISTINCT INDEX_NAME AS n FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY 1', [table]);
  return rows.map((r) => r.n);
}

export interface CheckpointView {
  phase: string;
  rowsCopied: number;
  streamPosition: string;
  ranges: Array<{ through: unknown; done: boolean }>;
}

export async function readCheckpoint(db: TestSql, table: string): Promise<CheckpointView | null> {
  try {
    const v = await db.value<string>(`SELECT \`value\` FROM \`${helpersOf('mysql', table).changelog}\` WHERE hint = 'checkpoint'`);
    return v ? (JSON.parse(v) as CheckpointView) : null;
  } catch {
    return null;
  }
}

export async function waitForCheckpoint(db: TestSql, table: string, run: CliRun, pred: (cp: CheckpointView) => boolean, timeoutMs = 60_000): Promise<CheckpointView> {
  const deadline = Date.now() + timeoutMs;
  let exited: Run | null = null;
  void run.done.then((r) => (exited = r));
  for (;;) {
    const cp = await readCheckpoint(db, table);
    if (cp && pred(cp)) return cp;
    if (exited) throw new Error(`the run ended before the checkpoint was seen: ${JSON.stringify(exited)}`);
    if (Date.now() > deadline) throw new Error(`no such checkpoint within ${timeoutMs} ms; last: ${JSON.stringify(cp)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function kill9(run: CliRun): Promise<Run> {
  run.child.kill('SIGKILL');
  const r = await run.done;
  expect(run.child.signalCode).toBe('SIGKILL');
  return r;
}

export function report(run: Run): Record<string, unknown> {
  try {
    return JSON.parse(run.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`no JSON report: ${run.stdout} ${run.stderr}`);
  }
}

/** The altered table holds exactly the mirror's rows (the load's committed writes), and `extra` has its default. */
export async function expectMirrored(db: TestSql, url: string, table: string): Promise<number> {
  const types = await db.query<{ n: string; t: string }>('SELECT COLUMN_NAME AS n, COLUMN_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [`${table}_mirror`]);
  const columns = LOAD_COLUMNS.map((name) => ({ name, type: types.find((c) => c.n === name)!.t }));
  const expected = await rowSignatures(url, `${table}_mirror`, columns);
  const actual = await rowSignatures(url, table, columns);
  expect(diffSignatures(expected, actual)).toEqual([]);
  expect(actual.size).toBe(expected.size);
  const cols = await db.query<{ n: string }>('SELECT COLUMN_NAME AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [table]);
  expect(cols.map((c) => c.n)).toContain('extra');
  expect(cols.map((c) => c.n)).not.toContain('drop_me');
  expect(Number(await db.value(`SELECT COUNT(*) FROM \`${table}\` WHERE extra <> 7`))).toBe(0);
  // Every key, the deferred ones included, as the blocking ALTER gave them.
  expect(await shapeOf(db, table)).toBe(await shapeOf(db, `${table}_ref`));
  return actual.size;
}

export async function helperTables(db: TestSql, table: string): Promise<string[]> {
  const h = helpersOf('mysql', table);
  const rows = await db.query<{ n: string }>('SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?, ?)', [h.ghost, h.changelog]);
  return rows.map((r) => r.n).sort();
}
