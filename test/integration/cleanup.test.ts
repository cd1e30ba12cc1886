/**
 * `ghostwright cleanup` after a kill -9 mid-copy, on both engines: the run's
 * leftovers refuse the next alter (naming cleanup), doctor --table lists them
 * as failures with the exact cleanup command, a cleanup dry run lists them and
 * changes nothing, cleanup --execute removes them (the original untouched),
 * and a second alter then succeeds. Runs the built CLI (npm run build first).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';
import { dropDatabase, freshDatabase, helpersOf, sql, type TestDialect, type TestSql } from '../helpers/servers.js';

const BIN = fileURLToPath(new URL('../../bin/ghostwright', import.meta.url));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe.each(['mysql', 'postgres'] as TestDialect[])('%s: cleanup after kill -9 mid-copy', (dialect) => {
  let url: string;
  let db: TestSql;
  const q = (n: string) => (dialect === 'mysql' ? `\`${n}\`` : `"${n}"`);
  const dir = tempDir('gw-cleanup-');
  const h = helpersOf(dialect, 'orders');
  const schemaOf = async () => String(await db.value(dialect === 'mysql' ? 'SELECT DATABASE()' : 'SELECT current_schema()'));

  beforeAll(async () => {
    url = await freshDatabase(dialect, `cln_${dialect}`);
    db = await sql(url);
    await db.query(`CREATE TABLE ${q('orders')} (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL)`);
    for (let i = 0; i < 10; i++) await db.query(`INSERT INTO ${q('orders')} (id, v) VALUES (${i * 3 + 1}, 'a'), (${i * 3 + 2}, 'b'), (${i * 3 + 3}, 'c')`);
  });

  afterAll(async () => {
    if (dialect === 'postgres') await db?.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database() AND NOT active`).catch(() => undefined);
    await db?.end();
    if (url) await dropDatabase(url);
  });

  const tables = async (): Promise<string[]> => {
    const names = [h.ghost, h.old, h.changelog];
    const rows =
      dialect === 'mysql'
        ? await db.query<{ n: string }>('SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?, ?, ?)', names)
        : await db.query<{ n: string }>("SELECT tablename AS n FROM pg_tables WHERE schemaname = 'public' AND tablename = ANY($1)", [names]);
    return rows.map((r) => r.n).sort();
  };
  const pgObjects = async () =>
    dialect === 'mysql'
      ? { slots: 0, pubs: 0 }
      : {
          slots: Number(await db.value("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'ghostwright\\_%' AND database = current_database()")),
          pubs: Number(await db.value("SELECT count(*) FROM pg_publication WHERE pubname LIKE 'ghostwright\\_%'")),
        };
  const original = async () => db.query(`SELECT id, v FROM ${q('orders')} ORDER BY id`);

  it('doctor fails with the command, a dry run changes nothing, --execute removes all, a second alter succeeds', async () => {
    const before = await original();
    const flag = join(dir, 'throttle');
    const socket = join(dir, 'ctl.sock');
    writeFileSync(flag, '');
    const child = spawn(process.execPath, [BIN, 'alter', '--url', url, '--table', 'orders', '--alter', 'ADD COLUMN w INT NOT NULL DEFAULT 1', '--execute', '--throttle-flag-file', flag, '--socket', socket, '--progress', 'none'], { stdio: 'ignore' });
    const deadline = Date.now() + 60_000;
    while (!(await tables()).includes(h.ghost) || !existsSync(socket)) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error('migration never reached the copy');
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300));
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    const left = await tables();
    expect(left).toEqual([h.changelog, h.ghost].sort());
    if (dialect === 'postgres') expect(await pgObjects()).toEqual({ slots: 1, pubs: 1 });
    const schema = await schemaOf();
    const command = `--table ${schema}.orders --execute`;

    // The next alter refuses on the leftovers and names cleanup.
    const again = await cli(['alter', '--url', url, '--table', 'orders', '--alter', 'ADD COLUMN w INT NOT NULL DEFAULT 1', '--execute', '--progress', 'none', '--json']);
    expect(again.code, again.stdout + again.stderr).toBe(2);
    expect(again.stdout).toContain('ghostwright cleanup --url');
    expect(again.stdout).toContain(command);

    // doctor --table: a failure, with the exact command.
    const doc = await cli(['doctor', '--url', url, '--table', 'orders']);
    expect(doc.code, doc.stdout + doc.stderr).toBe(2);
    expect(doc.stdout).toMatch(/\[FAIL\] No leftovers of an earlier run/);
    expect(doc.stdout).toContain(`ghostwright cleanup --url `);
    expect(doc.stdout).toContain(command);
    expect(doc.stdout).toContain('NOT ready');

    // Dry run: lists, changes nothing.
    const dry = await cli(['cleanup', '--url', url, '--table', 'orders', '--json']);
    expect(dry.code, dry.stdout + dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as { status: string; wouldRemove: { kind: string; name: string }[] };
    expect(plan.status).toBe('dry-run');
    expect(plan.wouldRemove.map((l) => l.kind).sort()).toEqual((dialect === 'postgres' ? ['changelog', 'ghost', 'publication', 'slot'] : ['changelog', 'ghost']).sort());
    expect(await tables()).toEqual(left);
    if (dialect === 'postgres') expect(await pgObjects()).toEqual({ slots: 1, pubs: 1 });

    // Execute: everything gone, the original untouched.
    const run = await cli(['cleanup', '--url', url, '--table', 'orders', '--execute', '--json']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const done = JSON.parse(run.stdout) as { status: string; removed: { kind: string }[] };
    expect(done.status).toBe('done');
    expect(done.removed).toHaveLength(plan.wouldRemove.length);
    expect(await tables()).toEqual([]);
    expect(await pgObjects()).toEqual({ slots: 0, pubs: 0 });
    expect(await original()).toEqual(before);

    // A second alter succeeds.
    const second = await cli(['alter', '--url', url, '--table', 'orders', '--alter', 'ADD COLUMN w INT NOT NULL DEFAULT 1', '--execute', '--progress', 'none', '--json']);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(Number(await db.value(`SELECT count(*) FROM ${q('orders')} WHERE w = 1`))).toBe(30);
    // Its kept old table is listed, but removed only with --drop-old-table.
    expect(await tables()).toEqual([h.old]);
    const keep = await cli(['cleanup', '--url', url, '--table', 'orders', '--execute']);
    expect(keep.stdout).toContain(`kept:         old-table ${h.old}`);
    expect(await tables()).toEqual([h.old]);
    const drop = await cli(['cleanup', '--url', url, '--table', 'orders', '--drop-old-table', '--execute']);
    expect(drop.code, drop.stdout + drop.stderr).toBe(0);
    expect(await tables()).toEqual([]);
  });

  it('refuses while a run is still going (its control socket answers), removing nothing', async () => {
    const flag = join(dir, 'throttle2');
    writeFileSync(flag, '');
    const child = spawn(process.execPath, [BIN, 'alter', '--url', url, '--table', 'orders', '--alter', 'ADD COLUMN z INT', '--execute', '--throttle-flag-file', flag, '--progress', 'none'], { stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      const deadline = Date.now() + 60_000;
      while (!(await tables()).includes(h.ghost)) {
        if (Date.now() > deadline) throw new Error('migration never reached the copy');
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 500));
      const res = await cli(['cleanup', '--url', url, '--table', 'orders', '--execute', '--json']);
      expect(res.code, res.stdout + res.stderr).toBe(2);
      expect(res.stdout).toContain('E_RUN_ACTIVE');
      expect(await tables()).toContain(h.ghost);
    } finally {
      child.kill('SIGINT');
      await exited;
    }
  });
});
