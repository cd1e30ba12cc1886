/**
 * The command-line contract a scheduler relies on: exit codes (0 done,
 * 1 failed, 2 refused or bad input, 3 server not reached), every flag checked
 * before anything connects (the URLs point at a closed loopback port, so a
 * flag that was not checked first would show up as exit 3 instead of 2), and
 * one configuration for every command.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { dropDatabase, freshDatabase, sql, type TestSql } from '../helpers/servers.js';
import { tempDir } from '../helpers/tmp.js';

const CLOSED_MYSQL = 'mysql://u:S3cretPw@127.0.0.1:1/x';
const CLOSED_PG = 'postgres://u:S3cretPw@127.0.0.1:1/x';

const alter = (url: string, ...extra: string[]) => ['alter', '--url', url, '--table', 't', '--alter', 'ADD COLUMN x INT', ...extra];

describe('exit codes', () => {
  it.each([
    ['--cut-over-lock-timeout abc', alter(CLOSED_MYSQL, '--cut-over-lock-timeout', 'abc'), '--cut-over-lock-timeout'],
    ['--cut-over-lock-timeout 0', alter(CLOSED_MYSQL, '--cut-over-lock-timeout', '0'), '--cut-over-lock-timeout'],
    ['--threads 0', alter(CLOSED_MYSQL, '--threads', '0'), '--threads'],
    ['--threads 1.5', alter(CLOSED_MYSQL, '--threads', '1.5'), '--threads'],
    ['--status-interval -5', alter(CLOSED_MYSQL, '--status-interval', '-5'), '--status-interval'],
    ['--chunk-size 0', alter(CLOSED_MYSQL, '--chunk-size', '0'), '--chunk-size'],
    ['--log-level bogus', ['--log-level', 'bogus', ...alter(CLOSED_MYSQL)], '--log-level'],
    ['--progress fancy', alter(CLOSED_PG, '--progress', 'fancy'), '--progress'],
    ['migrate --progress fancy', ['migrate', '--url', CLOSED_MYSQL, '--progress', 'fancy'], '--progress'],
    ['--verbose --quiet', ['--verbose', '--quiet', ...alter(CLOSED_MYSQL)], '--verbose'],
    ['--critical-load-interval-millis soon', alter(CLOSED_MYSQL, '--critical-load-interval-millis', 'soon'), '--critical-load-interval-millis'],
    ['--critical-load-hibernate-seconds -1', alter(CLOSED_MYSQL, '--critical-load-hibernate-seconds', '-1'), '--critical-load-hibernate-seconds'],
    ['--throttle-http ftp://x', alter(CLOSED_MYSQL, '--throttle-http', 'ftp://x'), '--throttle-http'],
  ])('%s: exit 2 before connecting, with a message naming the flag', async (_name, args, flag) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(flag);
    expect(r.stderr).not.toContain('ECONNREFUSED');
    expect(r.stderr + r.stdout).not.toContain('S3cretPw');
  });

  it('accepts --threads auto and --verbose (then fails to reach the server: exit 3)', async () => {
    const r = await cli(alter(CLOSED_MYSQL, '--threads', 'auto', '--verbose', '--cut-over-lock-timeout', '1.5'));
    expect(r.code).toBe(3);
  });

  it.each([
    ['alter on MySQL', alter(CLOSED_MYSQL, '--json')],
    ['alter on PostgreSQL', alter(CLOSED_PG, '--json')],
    ['doctor', ['doctor', '--url', CLOSED_PG, '--json']],
    ['inspect', ['inspect', '--url', CLOSED_MYSQL, '--table', 't', '--json']],
    ['migrate', ['migrate', '--url', CLOSED_MYSQL, '--dir', 'examples/migrations-mysql', '--json']],
    ['info', ['info', '--url', CLOSED_PG, '--dir', 'examples/migrations-postgres', '--json']],
    ['unknown host', ['doctor', '--url', 'postgres://u@no-such-host.invalid:5432/x', '--json']],
  ])('server not reached (%s): exit 3 with E_UNREACHABLE, no password', async (_name, args) => {
    const r = await cli(args);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'unreachable', error: { code: 'E_UNREACHABLE' } });
    expect(r.stderr + r.stdout).not.toContain('S3cretPw');
  });
});

describe('one configuration for every command: flags > GHOSTWRIGHT_* > ghostwright.config.json', () => {
  let url: string;
  let db: TestSql;
  let cwd: string;

  beforeAll(async () => {
    url = await freshDatabase('mysql', 'cfg');
    db = await sql(url);
    await db.query('CREATE TABLE cfg_t (id INT NOT NULL PRIMARY KEY, v INT NOT NULL)');
    cwd = tempDir('gw-cfg-cli-');
  });

  afterAll(async () => {
    await db?.end();
    if (url) await dropDatabase(url);
  });

  const plan = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = await cli(['alter', '--table', 'cfg_t', '--alter', 'ADD COLUMN w INT', '--json', ...args], { GHOSTWRIGHT_URL: '', ...env }, cwd);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { plan: { chunkSize: number; threads: number; cutOver: string } }).plan;
  };

  it('alter and doctor read the url and settings from the file; env beats the file; flags beat both', async () => {
    writeFileSync(join(cwd, 'ghostwright.config.json'), JSON.stringify({ url, alter: { chunkSize: 700, threads: 2, cutOverLockTimeout: 1.5 } }));
    expect(await plan([])).toMatchObject({ chunkSize: 700, threads: 2 });
    expect((await plan([])).cutOver).toContain('1500 ms');
    expect(await plan([], { GHOSTWRIGHT_CHUNK_SIZE: '800', GHOSTWRIGHT_THREADS: '3' })).toMatchObject({ chunkSize: 800, threads: 3 });
    expect(await plan(['--chunk-size', '900'], { GHOSTWRIGHT_CHUNK_SIZE: '800' })).toMatchObject({ chunkSize: 900, threads: 2 });
    const doctor = await cli(['doctor', '--json'], { GHOSTWRIGHT_URL: '' }, cwd);
    expect(doctor.code).toBe(0);
    expect(JSON.parse(doctor.stdout)).toMatchObject({ command: 'doctor', status: 'done', ready: true });
  });

  it('bad values from env or file are refused like bad flags (exit 2, named), before connecting', async () => {
    writeFileSync(join(cwd, 'ghostwright.config.json'), JSON.stringify({ url: CLOSED_MYSQL, alter: { threads: 0 } }));
    const file = await cli(['alter', '--table', 't', '--alter', 'x'], { GHOSTWRIGHT_URL: '' }, cwd);
    expect(file.code).toBe(2);
    expect(file.stderr).toContain('alter.threads');
    const env = await cli(['alter', '--table', 't', '--alter', 'x', '--threads', '1'], { GHOSTWRIGHT_URL: '', GHOSTWRIGHT_STATUS_INTERVAL: '-5' }, cwd);
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('GHOSTWRIGHT_STATUS_INTERVAL');
  });
});
