import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { readPasswordFile, resolvePassword, warnPasswordInArgv } from '../../src/cli/password.js';
import { withoutSecrets } from '../../src/control/hooks.js';
import { RefusedError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('gw-pw-');
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text, { mode: 0o600 });
  return p;
};

async function refused(p: Promise<unknown> | (() => unknown)): Promise<RefusedError> {
  let caught: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(RefusedError);
  return caught as RefusedError;
}

describe('--password-file / --ask-pass', () => {
  it('reads the first line of the file, without its line end', () => {
    expect(readPasswordFile(file('a', 'p@ss w:rd\n'))).toBe('p@ss w:rd');
    expect(readPasswordFile(file('b', 'secret\r\nsecond line\n'))).toBe('secret');
    expect(readPasswordFile(file('c', 'no-newline'))).toBe('no-newline');
  });

  it('refuses an empty or unreadable file with exit 2, never showing content', async () => {
    expect((await refused(() => readPasswordFile(file('e', '\nrest')))).message).toMatch(/is empty/);
    const missing = await refused(() => readPasswordFile(join(dir, 'nope')));
    expect(missing.exitCode).toBe(2);
    expect(missing.message).toMatch(/cannot read --password-file .*ENOENT/);
  });

  it('refuses both flags at once, and --ask-pass without a terminal', async () => {
    expect((await refused(resolvePassword({ passwordFile: file('d', 'x\n'), askPass: true }))).message).toMatch(/both give the password/);
    const notTty = Object.assign(new PassThrough(), { isTTY: false }) as unknown as NodeJS.ReadStream;
    const err = await refused(resolvePassword({ askPass: true }, notTty));
    expect(err.code).toBe('E_NO_TTY');
    expect(err.exitCode).toBe(2);
    expect(await resolvePassword({})).toBeUndefined();
  });

  it('warns once, on stderr, when a URL in argv holds a password', () => {
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      warnPasswordInArgv(['mysql://u@h/db']);
      expect(spy).not.toHaveBeenCalled();
      warnPasswordInArgv(['mysql://u:hunter2@h/db']);
      warnPasswordInArgv(['postgres://u:other@h/db'], '--replica');
      expect(spy).toHaveBeenCalledTimes(1);
      const text = String(spy.mock.calls[0]![0]);
      expect(text).toMatch(/warning: a password is in the command line \(--url\)/);
      expect(text).not.toContain('hunter2');
    } finally {
      spy.mockRestore();
    }
  });

  it('hooks get no variable whose value holds the password', () => {
    const env = withoutSecrets({ PATH: '/bin', APP_SECRET: 'xx-S3cret-yy', DSN: 'host=h password=S3cret', OTHER: 'fine' }, ['S3cret']);
    expect(env).toEqual({ PATH: '/bin', OTHER: 'fine' });
  });
});
