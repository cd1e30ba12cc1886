/**
 * `npm run bench:applier [-- --engine mysql|postgres|both --rows N --changes N --url URL]`
 *
 * The applier's own rate, without a copy running beside it: the copy is
 * finished, the applier is held while a burst of N single-row changes (one
 * UPDATE of N distinct keys per 1000, in transactions of 1000 rows) is
 * written and received by the stream, then released; the time until the
 * stream has caught up (every change re-read from the original and written
 * to the ghost, positions acknowledged) gives events/s. The migration is
 * then aborted (ghost, stream and slot dropped).
 *
 * measureApplierRate() is exported for other benchmark drivers.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseConnectionUrl } from '../src/connection.js';
import { chooseSharedKey, mapColumns } from '../src/core/columns.js';
import { toRanges } from '../src/core/copier.js';
import { connectEngine } from '../src/engine/index.js';
import type { Engine, Migration } from '../src/engine/engine.js';
import { silentLogger } from '../src/log.js';
import { startSandbox, type Sandbox } from '../src/sandbox/index.js';

export interface ApplierRate {
  engine: 'mysql' | 'postgres';
  rows: number;
  changes: number;
  /** Writing the burst (the applier held). */
  writeMs: number;
  /** From releasing the applier until caught up. */
  applyMs: number;
  /** Row changes (one UPDATE of one row each) applied per second. */
  eventsPerSecond: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const step = (what: string) => process.stderr.write(`  ${new Date().toISOString().slice(11, 19)} ${what}\n`);

/**
 * The running applier of a Migration (a private field: this bench holds it
 * to time it alone). The engine-neutral ChangeApplier has hold(); the
 * PostgreSQL engine's own applier (until it moves onto it) pause()/resume().
 */
function applierOf(oa: Migration): { hold(on: boolean): Promise<void> } {
  const a = (oa as unknown as { applier?: { hold?(on: boolean): Promise<void>; pause?(): Promise<void>; resume?(): void } }).applier;
  if (!a) throw new Error('no applier: startStream() first');
  if (a.hold) return { hold: (on) => a.hold!(on) };
  return { hold: async (on) => (on ? a.pause!() : a.resume!()) };
}

async function seed(engine: Engine, kind: 'mysql' | 'postgres', table: string, rows: number): Promise<void> {
  await engine.execute(`DROP TABLE IF EXISTS ${table}`);
  await engine.execute(`CREATE TABLE ${table} (id BIGINT NOT NULL PRIMARY KEY, v INT NOT NULL, s VARCHAR(60) NOT NULL)`);
  const gen = kind === 'mysql' ? 'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) SELECT i, i % 1000, CONCAT(\'row \', i) FROM n' : 'SELECT i, i % 1000, \'row \' || i FROM generate_series(1, $1::int) AS i';
  if (kind === 'mysql') await engine.execute('SET SESSION cte_max_recursion_depth = 100000000').catch(() => undefined);
  if (kind === 'mysql') await engine.execute('SET SESSION max_recursive_iterations = 100000000').catch(() => undefined);
  await engine.execute(`INSERT INTO ${table} (id, v, s) ${gen}`, [rows]);
}

export async function measureApplierRate(url: string, rows: number, changes: number): Promise<ApplierRate> {
  const spec = parseConnectionUrl(url);
  const kind = spec.dialect === 'postgres' ? 'postgres' : 'mysql';
  const engine = await connectEngine(spec, silentLogger);
  const table = 'bench_applier';
  try {
    await seed(engine, kind, table, rows);
    step(`${kind}: ${rows} rows seeded`);
    const fold = (n: string) => (kind === 'mysql' ? n.toLowerCase() : n);
    const req = { table: engine.tableRef(table), alter: kind === 'mysql' ? 'ADD COLUMN c INT NULL' : 'ADD COLUMN c int', cutOverLockTimeoutMs: 3000, dropOldTable: true, maxBacklogEvents: changes * 4 };
    const original = await engine.inspect(req.table);
    const oa = engine.onlineAlter(req, { replicas: [], log: silentLogger });
    try {
      const failed = (await oa.preflight(original)).filter((c) => !c.ok && c.severity === 'error');
      if (failed.length) throw new Error(`preflight: ${failed.map((c) => c.id).join(', ')}`);
      const ghost = await oa.createGhost();
      const plan = chooseSharedKey(original, ghost.shape, mapColumns(original, ghost.shape, new Map(), fold), fold);
      if (!plan) throw new Error('no shared key');
      const m = await ghost.startStream(plan);
      const bounds = await m.keyBounds();
      const ranges = bounds ? toRanges([], bounds.max) : [];
      const copy = m.beginCopy(ranges);
      for (const range of ranges) {
        let after = range.after;
        for (;;) {
          const r = await copy.copyChunk({ after, upTo: range.upTo }, 20_000);
          if (r.last === null) break;
          after = r.last;
        }
      }
      step('copy done');
      await m.waitCaughtUp(120_000);
      step('caught up; burst');
      const applier = applierOf(m);
      await applier.hold(true);
      const t0 = Date.now();
      const every = Math.max(1, Math.floor(rows / changes));
      for (let from = 0; from < changes; from += 1000) {
        const n = Math.min(1000, changes - from);
        // Keys from*step+1, spread over the table: n distinct rows per transaction.
        const p = kind === 'mysql' ? ['?', '?', '?'] : ['$1', '$2', '$3'];
        await engine.execute(`UPDATE ${table} SET v = v + 1 WHERE id % ${p[0]} = 0 AND id > ${p[1]} AND id <= ${p[2]}`, [every, from * every, (from + n) * every]);
      }
      const writeMs = Date.now() - t0;
      step(`burst written in ${writeMs} ms`);
      // Every change received (the stream keeps reading while the applier is held): the backlog stops growing.
      const deadline = Date.now() + 120_000;
      for (let last = -1, since = Date.now(); Date.now() < deadline; await sleep(20)) {
        const now = m.streamStats().backlog;
        if (now !== last) [last, since] = [now, Date.now()];
        else if (now > 0 && Date.now() - since > 500) break;
      }
      step(`received ${m.streamStats().backlog}`);
      const t1 = Date.now();
      await applier.hold(false);
      await m.waitCaughtUp(300_000);
      const applyMs = Date.now() - t1;
      return { engine: kind, rows, changes, writeMs, applyMs, eventsPerSecond: Math.round((changes * 1000) / Math.max(1, applyMs)) };
    } finally {
      await oa.abort();
    }
  } finally {
    await engine.execute(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    await engine.close();
  }
}

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function main(argv: string[]): Promise<void> {
  const which = arg(argv, '--engine') ?? 'both';
  const rows = Number(arg(argv, '--rows') ?? 200_000);
  const changes = Number(arg(argv, '--changes') ?? 50_000);
  const url = arg(argv, '--url');
  const engines = (which === 'both' ? ['mysql', 'postgres'] : [which]) as Array<'mysql' | 'postgres'>;
  let sandbox: Sandbox | undefined;
  try {
    if (!url) {
      const dir = mkdtempSync(join(tmpdir(), 'ghostwright-applier-bench-'));
      sandbox = await startSandbox({ dir, mysql: engines.includes('mysql'), postgres: engines.includes('postgres'), replicas: false, log: silentLogger });
    }
    for (const e of engines) {
      const u = url ?? (e === 'mysql' ? sandbox!.mysql!.url : sandbox!.postgres!.url);
      const r = await measureApplierRate(u, rows, changes);
      if (argv.includes('--json')) process.stdout.write(`${JSON.stringify(r)}\n`);
      else process.stdout.write(`applier ${r.engine}: ${r.changes} row changes applied in ${r.applyMs} ms = ${r.eventsPerSecond} events/s (no copy running; burst written in ${r.writeMs} ms)\n`);
    }
  } finally {
    await sandbox?.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
