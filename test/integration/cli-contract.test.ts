/**
 * The command-line contract a scheduler relies on: exit codes (0 done,
 * 1 failed, 2 refused or bad input, 3 server not reached), every flag checked
 * before anything connects. These runs need no server: the URLs point at a
 * closed loopback port, so a flag that was not checked first would show up
 * as exit 3 instead of 2.
 */
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';

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
