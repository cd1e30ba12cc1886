/**
 * Issue #14 item 4: `migrate` obeys SIGINT/SIGTERM (a Kubernetes Job's
 * deadline, a CI cancel). Killed while it has delegated an ALTER to the
 * online engine (copy done, stream running, cut-over postponed by a flag
 * file) under a small write load, it stops the ALTER, drops the ghost,
 * changelog, socket and (PostgreSQL) the slot and publication, keeps
 * statement 1 of the file recorded as progress, exits 130/143, and says how
 * to go on; the rerun resumes at statement 2 and every committed write is
 * in the migrated table.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';
import { dropDatabase, freshDatabase, helpersOf, sql, type TestDialect, type TestSql } from '../helpers/servers.js';
import { history, migrationsDir } from '../fixtures/ledger/helpers.js';

const BIN = fileURLToPath(new URL('../../bin/ghostwright', import.meta.url));
const ROWS = 3000;
const cases: Array<[TestDialect, 'SIGINT' | 'SIGTERM']> = [
  ['mysql', 'SIGTERM'],
  ['mysql', 'SIGINT'],
  ['postgres', 'SIGTERM'],
  ['postgres', 'SIGINT'],
];

describe.each(cases)('%s: migrate gets %s during a delegated ALTER', (dialect, signal) => {
  let url: string;
  let db: TestSql;
  let writer: TestSql;
  const q = (n: string) => (dialect === 'mysql' ? `\`${n}\`` : `"${n}"`);
  const work = tempDir('gw-lsig-');
  const sockets = tempDir('gw-lsock-');

  beforeAll(async () => {
    url = await freshDatabase(dialect, `gw_lsig_${dialect}`);
    db = await sql(url);
    writer = await sql(url);
    await db.query(`CREATE TABLE ${q('orders')} (id INT NOT NULL PRIMARY KEY, v INT NOT NULL)`);
    const series = dialect === 'mysql' ? `SELECT seq AS n FROM seq_1_to_${ROWS}` : `SELECT generate_series(1, ${ROWS}) AS n`;
    await db.query(`INSERT INTO ${q('orders')} (id, v) SELECT n, n FROM (${series}) x`);
    await db.query(dialect === 'mysql' ? 'ANALYZE TABLE orders' : 'ANALYZE orders');
  });

  afterAll(async () => {
    await writer?.end();
    await db?.end();
    if (url) await dropDatabase(url);
  });

  const tableNames = async (): Promise<string[]> => {
    const rows =
      dialect === 'mysql'
        ? await db.query<{ n: string }>('SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()')
        : await db.query<{ n: string }>("SELECT tablename AS n FROM pg_tables WHERE schemaname = 'public'");
    return rows.map((r) => r.n).sort();
  };
  const columns = async (): Promise<string[]> =>
    (await db.query<{ c: string; t: string }>(`SELECT column_name AS c, data_type AS t FROM information_schema.columns WHERE table_schema = ${dialect === 'mysql' ? 'DATABASE()' : "'public'"} AND table_name = 'orders' ORDER BY ordinal_position`)).map((r) => `${r.c} ${r.t}`);

  it('cleans up, exits 128+n, keeps statement 1, and the rerun resumes at statement 2', async () => {
    const flag = join(work, 'postpone');
    writeFileSync(flag, '');
    const m = migrationsDir({
      'V1__side.sql': 'CREATE TABLE side (id INT);',
      'V2__widen.sql': `CREATE TABLE side2 (id INT);\n${dialect === 'mysql' ? 'ALTER TABLE orders MODIFY COLUMN v BIGINT NOT NULL' : 'ALTER TABLE orders ALTER COLUMN v TYPE bigint'};`,
    });
    const args = ['migrate', '--url', url, '--dir', m.dir, '--online-threshold', '0', '--baseline-on-migrate', '--baseline-version', '0', '--json', '--progress', 'none'];
    const env = { ...process.env, TMPDIR: sockets };

    // A small write load all along: every committed insert must end up in the table.
    const committed: number[] = [];
    let stop = false;
    const p = dialect === 'mysql' ? '?' : '$1';
    const load = (async () => {
      for (let id = 100_000; !stop; id++) {
        await writer.query(`INSERT INTO ${q('orders')} (id, v) VALUES (${p}, 1)`, [id]);
        committed.push(id);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    let child: ReturnType<typeof spawn> | undefined;
    try {
      child = spawn(process.execPath, [BIN, ...args, '--postpone-cut-over-flag-file', flag], { stdio: ['ignore', 'pipe', 'pipe'], env });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const running = child;
      const exited = new Promise<number | null>((resolve) => running.on('exit', (code) => resolve(code)));
      const ghost = helpersOf(dialect, 'orders').ghost;
      const deadline = Date.now() + 60_000;
      while (!(await tableNames()).includes(ghost) || readdirSync(sockets).filter((f) => f.endsWith('.sock')).length === 0) {
        if (Date.now() > deadline) {
          child.kill('SIGKILL');
          throw new Error(`the delegated ALTER never started: ${stderr}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 1000));
      child.kill(signal);
      const code = await exited;
      expect(code, stderr).toBe(signal === 'SIGINT' ? 130 : 143);
      const out = JSON.parse(stdout) as { error: { code: string; message: string; hint: string } };
      expect(out.error.code).toBe('E_INTERRUPTED');
      expect(out.error.message).toContain(`V2__widen.sql: interrupted by ${signal} at statement 2 of 2`);
      expect(out.error.hint).toBe(
        // the table as the engine was handed it: quoted by the dialect (a mixed-case name must survive)
        `statements 1..1 of V2__widen.sql are applied and recorded; the online ALTER of ${q('orders')} (statement 2) was stopped and rolled back ` +
          `(its ghost, changelog, replication slot, publication and socket are gone; ${q('orders')} is as it was); run \`ghostwright migrate\` again: it resumes at statement 2`,
      );
    } catch (err) {
      stop = true;
      child?.kill('SIGKILL');
      await load.catch(() => undefined);
      throw err;
    } finally {
      rmSync(flag, { force: true });
    }

    // Nothing of the online ALTER is left; the original is as it was, and writable.
    expect(await tableNames()).toEqual(['ghostwright_schema_history', 'ghostwright_schema_history_progress', 'orders', 'side', 'side2']);
    expect(readdirSync(sockets)).toEqual([]);
    expect(await columns()).toEqual(dialect === 'mysql' ? ['id int', 'v int'] : ['id integer', 'v integer']);
    if (dialect === 'postgres') {
      expect(Number(await db.value("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'ghostwright\\_%' AND database = current_database()"))).toBe(0);
      expect(Number(await db.value("SELECT count(*) FROM pg_publication WHERE pubname LIKE 'ghostwright\\_%'"))).toBe(0);
    }
    expect((await history(db)).map((r) => `${r.version}:${r.type}:${r.success}`)).toEqual(['0:BASELINE:true', '1:SQL:true']);

    // The rerun resumes at statement 2 and finishes, load still running.
    const rerun = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env, timeout: 120_000 });
    stop = true;
    await load;
    expect(rerun.status, rerun.stderr).toBe(0);
    expect(JSON.parse(rerun.stdout)).toMatchObject({ applied: [{ version: '2', resumedAt: 2 }], current: '2' });
    expect(await columns()).toEqual(dialect === 'mysql' ? ['id int', 'v bigint'] : ['id integer', 'v bigint']);
    const ids = new Set((await db.query<{ id: unknown }>(`SELECT id FROM ${q('orders')}`)).map((r) => Number(r.id)));
    expect(committed.length).toBeGreaterThan(10);
    for (const id of [1, ROWS, ...committed]) expect(ids.has(id), `row ${id}`).toBe(true);
    expect(ids.size).toBe(ROWS + committed.length);
    expect(readdirSync(sockets)).toEqual([]);
  });
});

/**
 * SIGKILL (kubelet after the grace period) leaves the helpers. On both
 * engines the rerun resumes the delegated ALTER from its checkpoint (alter
 * --resume) and logs that it did.
 */
describe.each<TestDialect>(['mysql', 'postgres'])('%s: migrate killed with SIGKILL during a delegated ALTER', (dialect) => {
  let url: string;
  let db: TestSql;
  const q = (n: string) => (dialect === 'mysql' ? `\`${n}\`` : `"${n}"`);
  const work = tempDir('gw-lkill-');

  beforeAll(async () => {
    url = await freshDatabase(dialect, `gw_lkill_${dialect}`);
    db = await sql(url);
    await db.query(`CREATE TABLE ${q('orders')} (id INT NOT NULL PRIMARY KEY, v INT NOT NULL)`);
    const series = dialect === 'mysql' ? `SELECT seq AS n FROM seq_1_to_${ROWS}` : `SELECT generate_series(1, ${ROWS}) AS n`;
    await db.query(`INSERT INTO ${q('orders')} (id, v) SELECT n, n FROM (${series}) x`);
    await db.query(dialect === 'mysql' ? 'ANALYZE TABLE orders' : 'ANALYZE orders');
  });

  afterAll(async () => {
    await db?.end();
    if (url) await dropDatabase(url);
  });

  it('the rerun resumes the ALTER from its checkpoint (both engines)', async () => {
    const flag = join(work, 'postpone');
    writeFileSync(flag, '');
    const m = migrationsDir({
      'V1__widen.sql': `CREATE TABLE side (id INT);\n${dialect === 'mysql' ? 'ALTER TABLE orders MODIFY COLUMN v BIGINT NOT NULL' : 'ALTER TABLE orders ALTER COLUMN v TYPE bigint'};`,
    });
    const args = ['migrate', '--url', url, '--dir', m.dir, '--online-threshold', '0', '--baseline-on-migrate', '--baseline-version', '0', '--json', '--progress', 'none'];
    const env = { ...process.env, TMPDIR: work };
    const child = spawn(process.execPath, [BIN, ...args, '--postpone-cut-over-flag-file', flag], { stdio: 'ignore', env });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const ghost = helpersOf(dialect, 'orders').ghost;
    const deadline = Date.now() + 60_000;
    const names = async () =>
      (dialect === 'mysql'
        ? await db.query<{ n: string }>('SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()')
        : await db.query<{ n: string }>("SELECT tablename AS n FROM pg_tables WHERE schemaname = 'public'")
      ).map((r) => r.n);
    while (!(await names()).includes(ghost)) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error('the delegated ALTER never started');
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1000));
    // Both engines resume from a checkpoint: kill once one is written (a run killed before its first one refuses, naming cleanup).
    const changelog = helpersOf(dialect, 'orders').changelog;
    const checkpoints = dialect === 'mysql' ? `SELECT COUNT(*) FROM \`${changelog}\` WHERE hint = 'checkpoint'` : `SELECT COUNT(*) FROM "${changelog}" WHERE id = 2`;
    while (!Number(await db.value<number>(checkpoints).catch(() => 0))) {
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    await exited;
    rmSync(flag, { force: true });

    // The rerun continues the killed ALTER from its checkpoint and says so.
    const resumed = spawnSync(process.execPath, [BIN, ...args, '--progress', 'none'], { encoding: 'utf8', env, timeout: 120_000 });
    expect(resumed.status, resumed.stdout + resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ applied: [{ version: '1', resumedAt: 2 }], current: '1' });
    expect(resumed.stderr).toContain('resumed from its checkpoint');
    expect(Number(await db.value(`SELECT COUNT(*) FROM ${q('orders')}`))).toBe(ROWS);
    const schema = dialect === 'mysql' ? 'DATABASE()' : 'current_schema()';
    expect(await db.value(`SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ${schema} AND TABLE_NAME = 'orders' AND COLUMN_NAME = 'v'`)).toBe('bigint');
    expect((await names()).filter((n) => n !== 'orders' && n !== 'side' && !n.startsWith('ghostwright_schema_history') && !n.endsWith('_del'))).toEqual([]);
  });
});
