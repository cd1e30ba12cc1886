/**
 * The ledger commands as the CLI wires them (commander program built from
 * registerLedger, in process): flags, env and config file, --json output,
 * exit-1 errors for validate problems and refuse-level lint findings.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { registerLedger } from '../../src/cli/commands/ledger.js';
import { ReportedExit } from '../../src/cli/common.js';
import { dropDatabase, freshDatabase, sql, type TestSql } from '../helpers/servers.js';
import { DIALECTS, history, migrationsDir } from '../fixtures/ledger/helpers.js';
import { tempDir } from '../helpers/tmp.js';

async function run(args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; error: unknown }> {
  const program = new Command('ghostwright').exitOverride().option('--log-level <level>');
  registerLedger(program);
  for (const c of program.commands) c.exitOverride();
  let stdout = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const saved = { ...process.env };
  Object.assign(process.env, env);
  let error: unknown = null;
  try {
    await program.parseAsync(['node', 'ghostwright', ...args, '--log-level', 'silent']);
  } catch (err) {
    error = err;
  } finally {
    spy.mockRestore();
    process.env = saved;
  }
  return { stdout, error };
}

describe.each(DIALECTS)('ledger CLI on %s', (dialect) => {
  const urls: string[] = [];
  const dbs: TestSql[] = [];
  const cwd = process.cwd();
  afterEach(() => process.chdir(cwd));
  afterAll(async () => {
    for (const db of dbs) await db.end().catch(() => undefined);
    for (const url of urls) await dropDatabase(url).catch(() => undefined);
  });

  it('migrate --json with --placeholder, info table, validate exit 1, repair', async () => {
    const url = await freshDatabase(dialect, 'gw_ledger_cli');
    urls.push(url);
    const db = await sql(url);
    dbs.push(db);
    const m = migrationsDir({ 'V1__create.sql': 'CREATE TABLE ${t} (id INT);', 'V2__more.sql': 'CREATE TABLE more (id INT);' });
    const mig = await run(['migrate', '--url', url, '--dir', m.dir, '--placeholder', 't=things', '--json']);
    expect(mig.error).toBeNull();
    expect(JSON.parse(mig.stdout)).toMatchObject({ current: '2', applied: [{ version: '1' }, { version: '2' }] });
    expect(Number(await db.value('SELECT COUNT(*) FROM things'))).toBe(0);

    const inf = await run(['info', '--dir', m.dir], { GHOSTWRIGHT_URL: url });
    expect(inf.error).toBeNull();
    expect(inf.stdout).toMatch(/^schema version: 2\n/);
    expect(inf.stdout).toMatch(/\| versioned \| 1 +\| create +\| SQL +\| .+ \| success +\|/);

    m.write('V2__more.sql', 'CREATE TABLE more (id INT, x INT);');
    const val = await run(['validate', '--url', url, '--dir', m.dir]);
    expect(val.error).toMatchObject({ code: 'E_VALIDATE', exitCode: 1 });
    expect(val.stdout).toMatch(/^version 2 \(V2__more.sql\) checksum mismatch: applied -?\d+, file -?\d+\n$/);
    const valJson = await run(['validate', '--url', url, '--dir', m.dir, '--json']);
    expect(valJson.error).toBeInstanceOf(ReportedExit);
    expect(JSON.parse(valJson.stdout)).toMatchObject({ valid: false });

    const rep = await run(['repair', '--url', url, '--dir', m.dir, '--json']);
    expect(JSON.parse(rep.stdout)).toMatchObject({ command: 'repair', status: 'done', removedFailed: [], realigned: ['2 (V2__more.sql)'], markedDeleted: [] });
    expect((await run(['validate', '--url', url, '--dir', m.dir])).stdout).toBe('validate: ok\n');
    expect((await history(db)).length).toBe(2);
  });

  it('ghostwright.config.json supplies url and dir; clean refuses without --clean-enabled', async () => {
    const url = await freshDatabase(dialect, 'gw_ledger_cli');
    urls.push(url);
    const m = migrationsDir({ 'V1__a.sql': 'CREATE TABLE a (id INT);' });
    const dir = tempDir('gw-cwd-');
    writeFileSync(join(dir, 'ghostwright.config.json'), JSON.stringify({ url, dir: m.dir }));
    process.chdir(dir);
    const mig = await run(['migrate']);
    expect(mig.error).toBeNull();
    expect(mig.stdout).toMatch(/applied version 1 - a/);
    const cl = await run(['clean']);
    expect(cl.error).toMatchObject({ code: 'E_CLEAN_DISABLED', exitCode: 2 });
    const ok = await run(['clean', '--clean-enabled', '--json']);
    expect(JSON.parse(ok.stdout).dropped).toEqual(expect.arrayContaining(['table a']));
  });

  it('lint: findings as text or JSON, exit 1 on refuse-level', async () => {
    const dir = tempDir('gw-lint-');
    const file = join(dir, 'V1__x.sql');
    writeFileSync(file, 'ALTER TABLE users ADD COLUMN priority INT NOT NULL;\n');
    const text = await run(['lint', file, '--dialect', dialect]);
    expect(text.error).toMatchObject({ code: 'E_LINT', exitCode: 1 });
    expect(text.stdout).toContain(`${file}:1  refuse   add-not-null-without-default`);
    const json = await run(['lint', '--dir', dir, '--dialect', dialect, '--json']);
    expect(json.error).toBeInstanceOf(ReportedExit);
    expect(JSON.parse(json.stdout).findings.map((f: { id: string }) => f.id).sort()).toEqual(['add-not-null-without-default', 'missing-lock-timeout']);
    writeFileSync(file, 'ALTER TABLE users ADD COLUMN priority INT NULL; -- ghostwright:ignore missing-lock-timeout\n');
    const clean = await run(['lint', file, '--dialect', dialect]);
    expect(clean.error).toBeNull();
    expect(clean.stdout).toBe('lint: no findings\n');
  });
});
