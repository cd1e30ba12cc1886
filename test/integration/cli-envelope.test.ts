/**
 * Every command's --json output is one envelope that validates against the
 * JSON Schema shipped in the package (schema/ghostwright-output.schema.json):
 * successes, refusals, failures, usage errors and unreachable servers.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropDatabase, freshDatabase, sql, type TestDialect, type TestSql } from '../helpers/servers.js';
import { cli } from '../helpers/cli.js';
import { newLiveMigration } from '../../src/core/live.js';
import { startControlServer } from '../../src/control/socket.js';
import { silentLogger } from '../../src/log.js';

const schema = JSON.parse(readFileSync(new URL('../../schema/ghostwright-output.schema.json', import.meta.url), 'utf8')) as object;
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

function envelopeOf(stdout: string, command: string): Record<string, unknown> {
  const out = JSON.parse(stdout) as Record<string, unknown>;
  if (!validate(out)) throw new Error(`${command}: ${JSON.stringify(validate.errors, null, 2)}\n${stdout}`);
  expect(out).toMatchObject({ schemaVersion: 1, command });
  return out;
}

describe('the envelope without a server', () => {
  it('usage errors, unknown commands and bad flags print an envelope with --json', async () => {
    for (const [args, command] of [
      [['migrate', '--no-such-flag', '--json'], 'migrate'],
      [['alter', '--json'], 'alter'],
      [['alter', '--url', 'mysql://u@127.0.0.1:1/x', '--table', 't', '--alter', 'x', '--threads', '0', '--json'], 'alter'],
      [['--json'], 'ghostwright'],
    ] as const) {
      const r = await cli([...args]);
      expect(r.code).toBe(2);
      const e = envelopeOf(r.stdout, command);
      expect(e.status).toBe('refused');
      expect((e.error as { code: string }).code).toMatch(/^E_(USAGE|BAD_FLAG)$/);
    }
  });

  it('unreachable server, lint, sandbox status', async () => {
    const un = await cli(['migrate', '--url', 'postgres://u:pw@127.0.0.1:1/x', '--dir', 'examples/migrations-postgres', '--json']);
    expect(envelopeOf(un.stdout, 'migrate').status).toBe('unreachable');
    const lint = await cli(['lint', '--dialect', 'mysql', '--dir', 'examples/migrations-mysql', '--json']);
    expect(envelopeOf(lint.stdout, 'lint').status).toMatch(/^(done|failed)$/);
    const dir = mkdtempSync(join(tmpdir(), 'gw-envelope-'));
    try {
      const st = await cli(['sandbox', 'status', '--dir', dir, '--json']);
      expect(st.code).toBe(1);
      expect(envelopeOf(st.stdout, 'sandbox status').status).toBe('failed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('control: the answer in the envelope (a JSON status as an object), a refused command as E_CONTROL_REFUSED', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-envelope-ctl-'));
    const path = join(dir, 'c.sock');
    const live = newLiveMigration({ chunkSize: 1000, maxLagMs: 1500 }, { state: 'copying', table: 'orders', engine: 'mysql', startedAt: Date.now(), rowsCopied: 5, rowsEstimated: 10, eventsApplied: 0, backlog: 0 });
    const server = await startControlServer({ path, live, status: () => ({ phase: 'copy' }), log: silentLogger });
    try {
      const ok = await cli(['control', '--socket', path, '--json', 'status', 'json']);
      expect(ok.code).toBe(0);
      const e = envelopeOf(ok.stdout, 'control');
      expect(e).toMatchObject({ status: 'done', socket: path, request: 'status json', answer: expect.objectContaining({ state: 'copying' }) });
      const bad = await cli(['control', '--socket', path, '--json', 'chunk-size=abc']);
      expect(bad.code).toBe(2);
      expect(envelopeOf(bad.stdout, 'control')).toMatchObject({ status: 'refused', error: { code: 'E_CONTROL_REFUSED' } });
      expect(live.settings.chunkSize).toBe(1000);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the schema rejects what it must: no error on failure, a password in a doctor URL, a code with lowercase', () => {
    expect(validate({ schemaVersion: 1, command: 'alter', status: 'failed' })).toBe(false);
    expect(validate({ schemaVersion: 1, command: 'info', status: 'done', current: null, entries: [], error: { code: 'E_X', message: 'm' } })).toBe(false);
    expect(validate({ schemaVersion: 1, command: 'lint', status: 'failed', findings: [], error: { code: 'E_leftover_t', message: 'm' } })).toBe(false);
    // validate's problems are objects with a stable kind, not bare strings
    expect(validate({ schemaVersion: 1, command: 'validate', status: 'failed', valid: false, problems: ['version 1 failed'], error: { code: 'E_VALIDATE', message: 'm' } })).toBe(false);
    expect(validate({ schemaVersion: 1, command: 'doctor', status: 'done', ready: true, url: 'mysql://u:secret@h/db', server: {}, checks: [] })).toBe(false);
  });
});

const dialects: TestDialect[] = ['mysql', 'postgres'];

describe.each(dialects)('every command on %s prints a valid envelope', (dialect) => {
  let url: string;
  let db: TestSql;
  let dir: string;
  const q = (n: string) => (dialect === 'mysql' ? `\`${n}\`` : `"${n}"`);

  beforeAll(async () => {
    url = await freshDatabase(dialect, `env_${dialect}`);
    db = await sql(url);
    dir = mkdtempSync(join(tmpdir(), 'gw-envelope-'));
    cpSync(`examples/migrations-${dialect}`, join(dir, 'migrations'), { recursive: true });
  });

  afterAll(async () => {
    await db?.end();
    if (url) await dropDatabase(url);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('doctor, inspect, alter (dry run, refused, done)', async () => {
    const doc = await cli(['doctor', '--url', url, '--json']);
    expect(envelopeOf(doc.stdout, 'doctor').status).toBe('done');
    await db.query(`CREATE TABLE ${q('env_t')} (id INT NOT NULL PRIMARY KEY, v INT NOT NULL)`);
    await db.query(`INSERT INTO ${q('env_t')} (id, v) VALUES (1, 10), (2, 20)`);
    const ins = await cli(['inspect', '--url', url, '--table', 'env_t', '--json']);
    expect(envelopeOf(ins.stdout, 'inspect').status).toBe('done');
    const dry = await cli(['alter', '--url', url, '--table', 'env_t', '--alter', 'ADD COLUMN w INT', '--json']);
    expect(envelopeOf(dry.stdout, 'alter').status).toBe('dry-run');
    const bad = await cli(['alter', '--url', url, '--table', 'no_such', '--alter', 'ADD COLUMN w INT', '--json']);
    expect(bad.code).toBe(2);
    expect(envelopeOf(bad.stdout, 'alter')).toMatchObject({ status: 'refused', error: { code: 'E_NO_TABLE' } });
    const done = await cli(['alter', '--url', url, '--table', 'env_t', '--alter', 'ADD COLUMN w INT', '--execute', '--ok-to-drop-table', '--json']);
    expect(envelopeOf(done.stdout, 'alter')).toMatchObject({ status: 'done', rowsCopied: 2 });
    expect(await db.query(`SELECT id, v, w FROM ${q('env_t')} ORDER BY id`)).toEqual([
      { id: 1, v: 10, w: null },
      { id: 2, v: 20, w: null },
    ]);
  });

  it('the ledger commands: migrate, info, validate, repair, baseline, undo, clean', async () => {
    const m = join(dir, 'migrations');
    const ledgerUrl = await freshDatabase(dialect, `env_ledger_${dialect}`);
    const run = (...args: string[]) => cli([...args, '--url', ledgerUrl, '--dir', m, '--json']);
    const dry = await run('migrate', '--dry-run');
    expect(envelopeOf(dry.stdout, 'migrate').status).toBe('dry-run');
    const mig = await run('migrate');
    expect(mig.code).toBe(0);
    expect(envelopeOf(mig.stdout, 'migrate')).toMatchObject({ status: 'done', current: '3' });
    expect(envelopeOf((await run('info')).stdout, 'info').status).toBe('done');
    expect(envelopeOf((await run('validate')).stdout, 'validate')).toMatchObject({ status: 'done', valid: true });
    writeFileSync(join(m, 'V1__create_orders.sql'), `${readFileSync(join(m, 'V1__create_orders.sql'), 'utf8')}\n-- edited\n`);
    const inval = await run('validate');
    expect(inval.code).toBe(1);
    expect(envelopeOf(inval.stdout, 'validate')).toMatchObject({
      status: 'failed',
      valid: false,
      problems: [{ kind: 'checksum-mismatch', version: '1', script: 'V1__create_orders.sql', message: expect.stringMatching(/^version 1 \(V1__create_orders.sql\) checksum mismatch/) }],
      error: { code: 'E_VALIDATE' },
    });
    expect(envelopeOf((await run('repair')).stdout, 'repair').status).toBe('done');
    const base = await run('baseline');
    expect(base.code).toBe(2);
    expect(envelopeOf(base.stdout, 'baseline')).toMatchObject({ status: 'refused', error: { code: 'E_BASELINE_NOT_EMPTY' } });
    expect(envelopeOf((await run('undo')).stdout, 'undo')).toMatchObject({ status: 'done', current: '2' });
    const noClean = await run('clean');
    expect(envelopeOf(noClean.stdout, 'clean')).toMatchObject({ status: 'refused', error: { code: 'E_CLEAN_DISABLED' } });
    expect(envelopeOf((await run('clean', '--clean-enabled')).stdout, 'clean').status).toBe('done');
    await dropDatabase(ledgerUrl);
  });

  it('a failed migrate keeps the list of files it applied before the failure', async () => {
    const failUrl = await freshDatabase(dialect, `env_fail_${dialect}`);
    const m = join(dir, 'failing');
    mkdirSync(m);
    writeFileSync(join(m, 'V1__ok.sql'), 'CREATE TABLE ok_t (id INT PRIMARY KEY);');
    writeFileSync(join(m, 'V2__ok_too.sql'), 'INSERT INTO ok_t (id) VALUES (1);');
    writeFileSync(join(m, 'V3__broken.sql'), 'INSERT INTO no_such_table (id) VALUES (1);');
    const r = await cli(['migrate', '--url', failUrl, '--dir', m, '--json']);
    expect(r.code).toBe(1);
    const e = envelopeOf(r.stdout, 'migrate');
    expect(e).toMatchObject({ status: 'failed', error: { code: 'E_MIGRATION_FAILED' } });
    expect((e.applied as { script: string }[]).map((a) => a.script)).toEqual(['V1__ok.sql', 'V2__ok_too.sql']);
    await dropDatabase(failUrl);
  });
});
