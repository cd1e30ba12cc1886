/**
 * SIGINT / SIGTERM in the middle of a migration: the CLI stops, drops the
 * ghost, changelog, slot and publication, removes its socket, leaves the
 * original table as it was, and exits 128 + the signal number (130 / 143),
 * as a shell reports a process stopped by that signal. The copy is held by a throttle flag
 * file so the signal is sure to land mid-copy.
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { helpersOf, dropDatabase, freshDatabase, sql, type TestDialect, type TestSql } from '../helpers/servers.js';
import { tempDir } from '../helpers/tmp.js';

const BIN = fileURLToPath(new URL('../../bin/ghostwright', import.meta.url));
const cases: Array<[TestDialect, NodeJS.Signals]> = [
  ['mysql', 'SIGINT'],
  ['mysql', 'SIGTERM'],
  ['postgres', 'SIGINT'],
  ['postgres', 'SIGTERM'],
];

describe.each(cases)('%s: %s mid-copy', (dialect, signal) => {
  let url: string;
  let db: TestSql;
  const q = (n: string) => (dialect === 'mysql' ? `\`${n}\`` : `"${n}"`);
  const dir = tempDir('gw-signal-');

  beforeAll(async () => {
    url = await freshDatabase(dialect, `sig_${dialect}`);
    db = await sql(url);
    await db.query(`CREATE TABLE ${q('orders')} (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL)`);
    await db.query(`INSERT INTO ${q('orders')} (id, v) VALUES (1, 'a'), (2, 'b'), (3, 'c')`);
  });

  afterAll(async () => {
    await db?.end();
    if (url) await dropDatabase(url);
  });

  /** Every helper table of a migration of `orders` that exists now. */
  const helperTables = async (): Promise<string[]> => {
    const h = helpersOf(dialect, 'orders');
    const names = [h.ghost, h.old, h.changelog];
    const rows =
      dialect === 'mysql'
        ? await db.query<{ n: string }>('SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?, ?, ?)', names)
        : await db.query<{ n: string }>("SELECT tablename AS n FROM pg_tables WHERE schemaname = 'public' AND tablename = ANY($1)", [names]);
    return rows.map((r) => r.n).sort();
  };

  it('cleans up everything, keeps the original, exits 130 / 143', async () => {
    const flag = join(dir, 'throttle');
    const socket = join(dir, 'ctl.sock');
    writeFileSync(flag, '');
    const child = spawn(process.execPath, [BIN, 'alter', '--url', url, '--table', 'orders', '--alter', 'ADD COLUMN w INT NOT NULL DEFAULT 1', '--execute', '--throttle-flag-file', flag, '--socket', socket, '--json', '--progress', 'none'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Wait until the ghost exists and the copy is held: the migration is mid-flight.
    const deadline = Date.now() + 30_000;
    while (!(await helperTables()).includes(helpersOf(dialect, 'orders').ghost) || !existsSync(socket)) {
      if (Date.now() > deadline) {
        // Held by its throttle flag, the child would otherwise run on after this test.
        child.kill('SIGKILL');
        throw new Error('migration never reached the copy');
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300));
    child.kill(signal);
    const code = await exited;
    expect(code).toBe(signal === 'SIGINT' ? 130 : 143);
    const report = JSON.parse(stdout) as { status: string; error: { code: string } };
    expect(report.status).toBe('failed');
    expect(report.error.code, JSON.stringify(report.error)).toBe('E_INTERRUPTED');
    expect(await helperTables()).toEqual([]);
    expect(existsSync(socket)).toBe(false);
    expect(await db.query(`SELECT id, v FROM ${q('orders')} ORDER BY id`)).toEqual([
      { id: 1, v: 'a' },
      { id: 2, v: 'b' },
      { id: 3, v: 'c' },
    ]);
    if (dialect === 'postgres') {
      expect(Number(await db.value("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'ghostwright\\_%' AND database = current_database()"))).toBe(0);
      expect(Number(await db.value("SELECT count(*) FROM pg_publication WHERE pubname LIKE 'ghostwright\\_%'"))).toBe(0);
    }
  });
});
