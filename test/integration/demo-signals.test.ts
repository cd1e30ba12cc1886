/**
 * `ghostwright demo` started its own server: a SIGINT/SIGTERM (Ctrl-C, a CI
 * cancel) must stop that server too, not leave a mariadbd running in /tmp.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/ghostwright', import.meta.url));

/** Server processes whose command line names the demo's directory. */
function serversIn(dir: string): string[] {
  const ps = spawnSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).stdout;
  return ps.split('\n').filter((l) => l.includes(dir) && /mariadbd|mysqld|postgres/.test(l));
}

describe('demo under a signal', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s while the sample table is filled: exit %i, and the server it started is stopped', async (signal, code) => {
    const child = spawn(process.execPath, [BIN, 'demo', '--engine', 'mysql', '--rows', '400000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let dir = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the demo never reached its table:\n${stderr}`)), 90_000);
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        dir ||= /server in (\S+) \.\.\./.exec(stderr)?.[1] ?? '';
        if (dir && stderr.includes('creating ')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    expect(serversIn(dir).length, 'the demo server runs').toBeGreaterThan(0);
    child.kill(signal);
    const exit = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000))]);
    if (exit === 'hung') child.kill('SIGKILL');
    expect(exit, stderr).toBe(code);
    expect(serversIn(dir), 'no server left running in the demo directory').toEqual([]);
  });
});
