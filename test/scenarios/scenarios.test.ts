/**
 * Scenario runner: every folder under test/scenarios is one online ALTER,
 * run on each engine it has a create file for. Adding a case is adding a
 * folder:
 *
 *   create.mysql.sql / create.postgres.sql   table `t` and its rows (required per engine)
 *   alter | alter.mysql | alter.postgres     the --alter clauses
 *   load.sql | load.mysql.sql | load.postgres.sql
 *                                            one statement (or `;`-joined transaction) per
 *                                            line, run at random by 2 sessions while the copy
 *                                            runs; `:id` = an existing-range id, `:new` = a fresh id
 *   expect.json | expect.mysql.json | expect.postgres.json
 *                                            { "status": "done" | "failed" | "refused", "code"?: "E_...",
 *                                              "fresh"?: { "col": value }   new columns (also a column
 *                                                dropped and added again): every row holds value, and
 *                                                they are left out of the comparison,
 *                                              "foreignKeys"?: n   foreign keys the new table has }
 *
 * Verification for `done`: the load stops while the cut-over is postponed,
 * the stream catches up, the swap happens, and the new table must equal the
 * old one (kept as _t_del) row for row over their common columns. For
 * failures: the original table is untouched and no helper table is left.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { newLiveMigration } from '../../src/core/live.js';
import { runOnlineAlter } from '../../src/alter.js';
import { alterOptions } from '../../src/core/options.js';
import { dropDatabase, freshDatabase, sql, type TestDialect, type TestSql } from '../helpers/servers.js';

const ROOT = fileURLToPath(new URL('.', import.meta.url));

interface Scenario {
  name: string;
  dialect: TestDialect;
  create: string;
  alter: string;
  load: string[];
  expect: { status: 'done' | 'failed' | 'refused'; code?: string; fresh?: Record<string, string | number>; foreignKeys?: number };
}

function readFirst(dir: string, names: string[]): string | null {
  for (const n of names) if (existsSync(join(dir, n))) return readFileSync(join(dir, n), 'utf8');
  return null;
}

function scenarios(): Scenario[] {
  const out: Scenario[] = [];
  for (const name of readdirSync(ROOT, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    const dir = join(ROOT, name);
    for (const dialect of ['mysql', 'postgres'] as const) {
      const create = readFirst(dir, [`create.${dialect}.sql`]);
      if (!create) continue;
      const alter = readFirst(dir, [`alter.${dialect}`, 'alter']);
      if (!alter) throw new Error(`scenario ${name} has no alter file for ${dialect}`);
      const load = (readFirst(dir, [`load.${dialect}.sql`, 'load.sql']) ?? '')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('--'));
      const expectText = readFirst(dir, [`expect.${dialect}.json`, 'expect.json']);
      out.push({ name, dialect, create, alter: alter.trim(), load, expect: expectText ? (JSON.parse(expectText) as Scenario['expect']) : { status: 'done' } });
    }
  }
  return out;
}

const quote = (dialect: TestDialect, n: string) => (dialect === 'mysql' ? `\`${n}\`` : `"${n}"`);

async function runStatement(db: TestSql, text: string): Promise<void> {
  if (db.dialect === 'mysql' || !text.includes(';')) {
    await db.query(text);
    return;
  }
  for (const part of text.split(';').map((s) => s.trim()).filter(Boolean)) await db.query(part);
}

/** Runs the scenario's load statements from 2 sessions until stopped. */
function startLoad(url: string, s: Scenario, maxId: number) {
  let running = true;
  let nextId = 10_000_000;
  let statements = 0;
  let errors = 0;
  const worker = async () => {
    const db = await sql(url);
    try {
      while (running) {
        const line = s.load[Math.floor(Math.random() * s.load.length)]!;
        const text = line.replace(/:new\b/g, () => String(nextId++)).replace(/:id\b/g, () => String(1 + Math.floor(Math.random() * maxId)));
        try {
          await runStatement(db, text);
          statements++;
        } catch {
          // duplicate keys from random ids and the like: the statement is simply not committed
          errors++;
          await db.query('ROLLBACK').catch(() => undefined);
        }
      }
    } finally {
      await db.end();
    }
  };
  const workers = s.load.length ? [worker(), worker()] : [];
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
      return { statements, errors };
    },
  };
}

async function tableNames(db: TestSql): Promise<string[]> {
  const rows =
    db.dialect === 'mysql'
      ? await db.query<{ n: string }>('SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1')
      : await db.query<{ n: string }>("SELECT tablename AS n FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
  return rows.map((r) => r.n);
}

async function columnsOf(db: TestSql, table: string): Promise<string[]> {
  const rows =
    db.dialect === 'mysql'
      ? await db.query<{ n: string }>("SELECT COLUMN_NAME AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND EXTRA NOT LIKE '%GENERATED%' ORDER BY ORDINAL_POSITION", [table])
      : await db.query<{ n: string }>("SELECT column_name AS n FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 AND is_generated = 'NEVER' ORDER BY ordinal_position", [table]);
  return rows.map((r) => r.n);
}

/**
 * Rows of `a` not in `b` over `cols`, with every column read as the NEW
 * table's type (a type change such as text -> jsonb must compare equal when
 * the values are).
 */
async function difference(db: TestSql, a: string, b: string, cols: string[]): Promise<number> {
  const types = db.dialect === 'postgres' ? await newTypes(db) : new Map<string, string>();
  const select = () => cols.map((c) => (types.has(c) ? `CAST(${quote(db.dialect, c)} AS ${types.get(c)}) AS ${quote(db.dialect, c)}` : quote(db.dialect, c))).join(', ');
  const text = `SELECT COUNT(*) AS n FROM (SELECT ${select()} FROM ${quote(db.dialect, a)} EXCEPT SELECT ${select()} FROM ${quote(db.dialect, b)}) d`;
  return Number(await db.value(text));
}

async function foreignKeysOf(db: TestSql, table: string): Promise<number> {
  const text =
    db.dialect === 'mysql'
      ? "SELECT COUNT(*) FROM information_schema.TABLE_CONSTRAINTS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND CONSTRAINT_TYPE = 'FOREIGN KEY'"
      : "SELECT COUNT(*) FROM pg_constraint WHERE contype = 'f' AND convalidated AND conrelid = format('public.%I', $1::text)::regclass";
  return Number(await db.value(text, [table]));
}

async function newTypes(db: TestSql): Promise<Map<string, string>> {
  const rows = await db.query<{ n: string; t: string }>("SELECT attname AS n, format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'public.t'::regclass AND attnum > 0 AND NOT attisdropped");
  return new Map(rows.map((r) => [r.n, r.t]));
}

async function snapshot(db: TestSql, table: string): Promise<string> {
  const cols = await columnsOf(db, table);
  return JSON.stringify(await db.query(`SELECT * FROM ${quote(db.dialect, table)} ORDER BY ${cols.map((c) => quote(db.dialect, c)).join(', ')}`));
}

const all = scenarios();
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups) await c().catch(() => undefined);
});

describe.each(all)('scenario $name on $dialect', (s) => {
  it(`${s.expect.status === 'done' ? 'migrates under concurrent writes and equals the original row for row' : `ends ${s.expect.status} with the original untouched`}`, async () => {
    const url = await freshDatabase(s.dialect, `scn_${s.name}`.slice(0, 30));
    cleanups.push(() => dropDatabase(url));
    const db = await sql(url);
    try {
      await runStatement(db, s.create);
      const maxId = Number((await db.value(`SELECT COUNT(*) FROM ${quote(s.dialect, 't')}`)) ?? 0);
      const before = await snapshot(db, 't');
      const live = newLiveMigration({ chunkSize: 100, maxLagMs: 60_000, postponeCutOver: true }, { table: 't', engine: s.dialect });
      const load = s.expect.status === 'done' ? startLoad(url, s, Math.max(1, maxId)) : null;
      const migration = runOnlineAlter(alterOptions({ url, table: 't', alter: s.alter, execute: true, chunkSize: 100, threads: 2, cutOverLockTimeoutMs: 2000 }), { live });
      // Writes run during the copy; once the copy is done (postponed), stop them and let the swap happen.
      const settled = await Promise.race([
        migration.then(() => 'ended' as const),
        (async () => {
          while (live.progress.state !== 'postponed') await new Promise((r) => setTimeout(r, 25));
          return 'postponed' as const;
        })(),
      ]);
      const loadStats = await load?.stop();
      if (settled === 'postponed') {
        await new Promise((r) => setTimeout(r, 300));
        live.settings.postponeCutOver = false;
      }
      const report = await migration;
      expect(report.status, JSON.stringify(report.error)).toBe(s.expect.status);
      if (s.expect.code) expect(report.error?.code).toBe(s.expect.code);

      if (s.expect.status === 'done') {
        if (s.load.length) expect(loadStats!.statements).toBeGreaterThan(20);
        const newCols = new Set(await columnsOf(db, 't'));
        const fresh = s.expect.fresh ?? {};
        const common = (await columnsOf(db, '_t_del')).filter((c) => newCols.has(c) && !(c in fresh));
        for (const [c, value] of Object.entries(fresh)) {
          const col = quote(s.dialect, c);
          expect(Number(await db.value(`SELECT COUNT(*) FROM ${quote(s.dialect, 't')} WHERE ${col} IS NULL OR ${col} <> ${s.dialect === 'mysql' ? '?' : '$1'}`, [value])), `rows where ${c} is not ${value}`).toBe(0);
        }
        if (s.expect.foreignKeys !== undefined) expect(await foreignKeysOf(db, 't')).toBe(s.expect.foreignKeys);
        expect(common.length).toBeGreaterThan(0);
        const rows = Number(await db.value(`SELECT COUNT(*) FROM ${quote(s.dialect, 't')}`));
        const oldRows = Number(await db.value(`SELECT COUNT(*) FROM ${quote(s.dialect, '_t_del')}`));
        expect(rows).toBe(oldRows);
        expect(await difference(db, 't', '_t_del', common)).toBe(0);
        expect(await difference(db, '_t_del', 't', common)).toBe(0);
        expect((await tableNames(db)).filter((n) => (n.startsWith('_t_') || n.startsWith('t_')) && n !== '_t_del')).toEqual([]);
      } else {
        expect(await snapshot(db, 't')).toBe(before);
        expect((await tableNames(db)).filter((n) => n.startsWith('_t_'))).toEqual([]);
      }
    } finally {
      await db.end();
    }
  });
});
