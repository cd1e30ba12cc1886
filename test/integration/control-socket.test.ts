/**
 * The control socket over a real unix socket: every command mutates the live
 * object, permissions are owner-only, the file is removed at close, a live
 * server is never displaced, and the CLI command talks to it.
 */
import { mkdtempSync, rmSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { newLiveMigration } from '../../src/core/live.js';
import type { LiveMigration } from '../../src/core/live.js';
import { sendControlCommand } from '../../src/control/client.js';
import { startControlServer, type ControlServer } from '../../src/control/socket.js';
import { registerControl } from '../../src/cli/commands/control.js';
import { silentLogger } from '../../src/log.js';

function makeLive(): LiveMigration {
  return newLiveMigration(
    { chunkSize: 1000, maxLagMs: 1500 },
    { state: 'copying', table: 'orders', engine: 'mysql', startedAt: Date.now() - 10_000, copyStartedAt: Date.now() - 5_000, rowsCopied: 500, rowsEstimated: 1000, eventsApplied: 7, backlog: 3 },
  );
}

let dir: string;
let server: ControlServer | null = null;
let live: LiveMigration;
let path: string;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gw-sock-'));
  path = join(dir, 'c.sock');
  live = makeLive();
  server = await startControlServer({ path, live, status: () => ({ phase: 'copy' }), log: silentLogger });
});
afterEach(async () => {
  await server?.close();
  server = null;
  rmSync(dir, { recursive: true, force: true });
});

const send = (cmd: string) => sendControlCommand(path, cmd, 2000);

describe('control socket', () => {
  it('is a socket with mode 0600, removed at close', async () => {
    const st = statSync(path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    await server!.close();
    server = null;
    expect(existsSync(path)).toBe(false);
  });

  it('runs every command against the live settings', async () => {
    expect(await send('throttle')).toMatch(/^ok/);
    expect(live.settings.forcedThrottle).toBe(true);
    expect(await send('no-throttle')).toMatch(/^ok/);
    expect(live.settings.forcedThrottle).toBe(false);
    expect(await send('chunk-size=250')).toBe('ok: chunk-size=250');
    expect(live.settings.chunkSize).toBe(250);
    expect(await send('max-lag-millis=900')).toBe('ok: max-lag-millis=900');
    expect(live.settings.maxLagMs).toBe(900);
    expect(await send('max-load=Threads_running=30')).toBe('ok: max-load=Threads_running=30');
    expect(live.settings.maxLoad).toEqual({ Threads_running: 30 });
    expect(await send('critical-load=Threads_running=80,Threads_connected=900')).toMatch(/^ok/);
    expect(live.settings.criticalLoad).toEqual({ Threads_running: 80, Threads_connected: 900 });
    expect(await send('postpone-cut-over')).toMatch(/^ok/);
    expect(live.settings.postponeCutOver).toBe(true);
    expect(await send('unpostpone')).toMatch(/^ok/);
    expect(live.settings.postponeCutOver).toBe(false);
    expect(await send('cut-over')).toMatch(/^ok/);
    expect(live.settings.cutOverNow).toBe(true);
    expect(await send('help')).toContain('critical-load=a=1');
    expect(await send('status')).toContain('state: copying');
    expect(await send('status')).toContain('phase: copy');
    const json = JSON.parse(await send('status json')) as Record<string, unknown>;
    expect(json).toMatchObject({ table: 'orders', rowsCopied: 500, phase: 'copy', settings: { chunkSize: 250, maxLagMs: 900 } });
    expect(JSON.parse(await send('{"command":"status"}'))).toMatchObject({ rowsCopied: 500 });
    expect(await send('chunk-size=zero')).toMatch(/^error: /);
    expect(await send('bogus')).toBe('error: unknown command "bogus"; try help');
    expect(live.settings.panic).toBe(false);
    expect(await send('panic')).toMatch(/^ok: panic/);
    expect(live.settings.panic).toBe(true);
  });

  it('answers a client that sends no newline but ends its input (echo -n | nc -U)', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const c = createConnection(path);
      let out = '';
      c.setEncoding('utf8');
      c.on('data', (d: string) => (out += d));
      c.on('end', () => resolve(out));
      c.on('error', reject);
      c.end('chunk-size=?');
    });
    expect(answer).toBe('1000\n');
  });

  it('refuses to start where another server answers; replaces a stale socket file', async () => {
    await expect(startControlServer({ path, live, status: () => ({}), log: silentLogger })).rejects.toMatchObject({ code: 'E_SOCKET_IN_USE', exitCode: 2 });
    expect(await send('chunk-size=?')).toBe('1000');

    // A stale socket file: its server was killed (SIGKILL) and never unlinked it.
    const stale = join(dir, 'stale.sock');
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(existsSync(stale)).toBe(true);
    const s2 = await startControlServer({ path: stale, live, status: () => ({}), log: silentLogger });
    expect(await sendControlCommand(stale, 'chunk-size=?', 2000)).toBe('1000');
    await s2.close();
  });

  it('never deletes a regular file at the socket path', async () => {
    const file = join(dir, 'not-a-socket');
    writeFileSync(file, 'important');
    await expect(startControlServer({ path: file, live, status: () => ({}), log: silentLogger })).rejects.toMatchObject({ code: 'E_SOCKET_PATH', exitCode: 2 });
    expect(existsSync(file)).toBe(true);
  });

  it('client: a missing socket is a refusal (exit 2)', async () => {
    await expect(sendControlCommand(join(dir, 'nope.sock'), 'status', 1000)).rejects.toMatchObject({ code: 'E_NO_SOCKET', exitCode: 2 });
  });

  it('CLI: ghostwright control --socket PATH <command...> prints the answer', async () => {
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    try {
      const program = () => {
        const p = new Command('ghostwright').exitOverride();
        registerControl(p);
        for (const c of p.commands) c.exitOverride();
        return p;
      };
      await program().parseAsync(['node', 'gw', 'control', '--socket', path, 'max-load=Threads_running=12,Threads_connected=99']);
      expect(live.settings.maxLoad).toEqual({ Threads_running: 12, Threads_connected: 99 });
      await program().parseAsync(['node', 'gw', 'control', '--socket', path, 'status', 'json']);
      await expect(program().parseAsync(['node', 'gw', 'control', '--socket', path, 'nonsense'])).rejects.toMatchObject({ exitCode: 2 });
      await expect(program().parseAsync(['node', 'gw', 'control', '--socket', join(dir, 'x.sock'), 'status'])).rejects.toMatchObject({ code: 'E_NO_SOCKET', exitCode: 2 });
    } finally {
      spy.mockRestore();
    }
    expect(out[0]).toBe('ok: max-load=Threads_running=12,Threads_connected=99\n');
    expect(JSON.parse(out[1]!)).toMatchObject({ table: 'orders' });
    expect(out[2]).toBe('error: unknown command "nonsense"; try help\n');
  });
});
