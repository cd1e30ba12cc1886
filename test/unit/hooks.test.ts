import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newLiveMigration } from '../../src/core/live.js';
import type { LiveMigration } from '../../src/core/live.js';
import { HookRunner, hookEnv, inheritedEnv, type HookBase } from '../../src/control/hooks.js';
import { silentLogger } from '../../src/log.js';

const base: HookBase = {
  table: 'orders', engine: 'mysql', database: 'shop', alter: 'ADD COLUMN note TEXT', host: 'db1.local', port: 3307,
  ghostTable: '_orders_gho', oldTable: '_orders_del',
};

function makeLive(): LiveMigration {
  const now = Date.now();
  return newLiveMigration(
    { chunkSize: 1000, maxLagMs: 1500 },
    { state: 'throttled', table: 'orders', engine: 'mysql', startedAt: now - 65_000, copyStartedAt: now - 60_000, rowsCopied: 250, rowsEstimated: 1000, eventsApplied: 9, backlog: 4, throttleReason: 'lag: replica r1 1800ms > 1500ms' },
  );
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gw-hooks-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string, mode = 0o755): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, mode);
  return file;
}
function readEnv(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

describe('HookRunner', () => {
  it('runs the hook with gh-ost and ghostwright env vars, and no password', async () => {
    const out = join(dir, 'env.out');
    script('on-success.sh', `env > ${out}`);
    const saved = { MYSQL_PWD: process.env.MYSQL_PWD, PGPASSWORD: process.env.PGPASSWORD, GW_URL: process.env.GW_TEST_URL_WITH_PW };
    process.env.MYSQL_PWD = 'sekret-mysql';
    process.env.PGPASSWORD = 'sekret-pg';
    process.env.GW_TEST_URL_WITH_PW = 'mysql://root:sekret-url@h:3306/db';
    try {
      const r = await new HookRunner(dir, base, silentLogger).run('on-success', makeLive(), { GHOSTWRIGHT_EXTRA: 'x1' });
      expect(r).toMatchObject({ ok: true, code: 0, timedOut: false });
      expect(r.ran).toEqual([join(dir, 'on-success.sh')]);
    } finally {
      for (const [k, v] of Object.entries({ MYSQL_PWD: saved.MYSQL_PWD, PGPASSWORD: saved.PGPASSWORD, GW_TEST_URL_WITH_PW: saved.GW_URL })) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    const text = readFileSync(out, 'utf8');
    expect(text).not.toContain('sekret');
    const env = readEnv(out);
    expect(env.MYSQL_PWD).toBeUndefined();
    expect(env.PGPASSWORD).toBeUndefined();
    expect(env.GW_TEST_URL_WITH_PW).toBe('mysql://root:***@h:3306/db');
    for (const prefix of ['GH_OST_', 'GHOSTWRIGHT_']) {
      expect(env[`${prefix}DATABASE_NAME`]).toBe('shop');
      expect(env[`${prefix}TABLE_NAME`]).toBe('orders');
      expect(env[`${prefix}GHOST_TABLE_NAME`]).toBe('_orders_gho');
      expect(env[`${prefix}OLD_TABLE_NAME`]).toBe('_orders_del');
      expect(env[`${prefix}DDL`]).toBe('ADD COLUMN note TEXT');
      expect(Number(env[`${prefix}ELAPSED_SECONDS`])).toBeGreaterThanOrEqual(65);
      expect(Number(env[`${prefix}ELAPSED_COPY_SECONDS`])).toBeGreaterThanOrEqual(60);
      expect(env[`${prefix}ESTIMATED_ROWS`]).toBe('1000');
      expect(env[`${prefix}COPIED_ROWS`]).toBe('250');
      expect(env[`${prefix}INSPECTED_HOST`]).toBe('db1.local');
      expect(env[`${prefix}MIGRATED_HOST`]).toBe('db1.local');
      expect(env[`${prefix}EXECUTING_HOST`]).toBeTruthy();
      expect(env[`${prefix}PORT`]).toBe('3307');
      expect(env[`${prefix}PROGRESS`]).toBe('25');
      expect(Number(env[`${prefix}ETA_SECONDS`])).toBeGreaterThanOrEqual(179);
      expect(env[`${prefix}THROTTLE_REASON`]).toBe('lag: replica r1 1800ms > 1500ms');
      expect(env[`${prefix}BACKLOG`]).toBe('4');
      expect(env[`${prefix}HOOK`]).toBe('on-success');
      expect(env[`${prefix}EXTRA`]).toBe('x1');
      expect(env[`${prefix}STATUS`]).toBe('throttled');
    }
  });

  it('finds <name>* and gh-ost-<name>* files, runs them in name order, skips others', async () => {
    const log = join(dir, 'order.out');
    script('on-startup-20', `echo b >> ${log}`);
    script('on-startup', `echo a >> ${log}`);
    script('gh-ost-on-startup-hook', `echo c >> ${log}`);
    script('on-status', `echo WRONG >> ${log}`);
    script('.on-startup-hidden', `echo WRONG >> ${log}`);
    script('on-startup.sh~', `echo WRONG >> ${log}`);
    script('on-startup-noexec', `echo WRONG >> ${log}`, 0o644);
    const r = await new HookRunner(dir, base, silentLogger).run('on-startup', makeLive());
    expect(r.ok).toBe(true);
    expect(r.ran.map((f) => f.slice(dir.length + 1))).toEqual(['gh-ost-on-startup-hook', 'on-startup', 'on-startup-20']);
    expect(readFileSync(log, 'utf8')).toBe('c\na\nb\n');
  });

  it('reports a failure with exit code and output, and stops at the first failure', async () => {
    const marker = join(dir, 'second-ran');
    script('on-failure-1', 'echo "it broke: $GH_OST_STATUS" >&2; exit 3');
    script('on-failure-2', `touch ${marker}`);
    const r = await new HookRunner(dir, base, silentLogger).run('on-failure', makeLive(), { GH_OST_STATUS: 'E_X: bad thing' });
    expect(r).toMatchObject({ ok: false, code: 3, timedOut: false });
    expect(r.output).toBe('it broke: E_X: bad thing\n');
    expect(existsSync(marker)).toBe(false);
  });

  it('kills a hook (and its children) after the timeout', async () => {
    script('on-status', 'sleep 30 & sleep 30; exit 0');
    const t0 = Date.now();
    const r = await new HookRunner(dir, base, silentLogger, { timeoutMs: 200 }).run('on-status', makeLive());
    expect(r).toMatchObject({ ok: false, code: null, timedOut: true });
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('no folder or no matching file: ok, nothing ran', async () => {
    expect(await new HookRunner(null, base, silentLogger).run('on-startup', makeLive())).toEqual({ ok: true, code: null, output: '', ran: [], timedOut: false });
    expect((await new HookRunner(dir, base, silentLogger).run('on-startup', makeLive())).ran).toEqual([]);
    expect((await new HookRunner(join(dir, 'missing'), base, silentLogger).run('on-startup', makeLive())).ok).toBe(true);
  });

  it('on-before-cut-over: exit 0 proceeds, anything else postpones', async () => {
    const runner = new HookRunner(dir, base, silentLogger);
    expect((await runner.beforeCutOver(makeLive())).verdict).toBe('proceed');
    const gate = join(dir, 'allow');
    script('on-before-cut-over', `test -e ${gate}`);
    const no = await runner.beforeCutOver(makeLive());
    expect(no.verdict).toBe('postpone');
    expect(no.result.code).toBe(1);
    writeFileSync(gate, '');
    expect((await runner.beforeCutOver(makeLive())).verdict).toBe('proceed');
  });
});

describe('hookEnv / inheritedEnv', () => {
  it('mirrors every fact under both prefixes; extra keys override', () => {
    const live = makeLive();
    live.progress.copyStartedAt = null;
    live.progress.rowsCopied = 0;
    const env = hookEnv('on-startup', base, live, { STATUS: 'custom' }, live.progress.startedAt + 5_000);
    expect(env.GH_OST_ETA_SECONDS).toBe('-1');
    expect(env.GHOSTWRIGHT_ELAPSED_SECONDS).toBe('5');
    expect(env.GH_OST_ELAPSED_COPY_SECONDS).toBe('0');
    expect(env.GH_OST_STATUS).toBe('custom');
    expect(env.GHOSTWRIGHT_STATUS).toBe('custom');
    expect(hookEnv('on-failure', base, live, { GHOSTWRIGHT_ERROR: 'E_PANIC: boom' }).GH_OST_STATUS).toBe('E_PANIC: boom');
    expect(hookEnv('on-failure', base, live, { GHOSTWRIGHT_ERROR: 'E_PANIC: boom' }).GHOSTWRIGHT_ERROR).toBe('E_PANIC: boom');
    expect(Object.keys(env).filter((k) => k.startsWith('GH_OST_')).length).toBe(Object.keys(env).filter((k) => k.startsWith('GHOSTWRIGHT_')).length);
  });
  it('drops password variables, keeps PWD (the working directory)', () => {
    const env = inheritedEnv({ PWD: '/home/x', MYSQL_PWD: 'a', PGPASSWORD: 'b', DB_PASSWORD: 'c', my_password_file: 'd', PATH: '/bin' });
    expect(env).toEqual({ PWD: '/home/x', PATH: '/bin' });
  });
});
