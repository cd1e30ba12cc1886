import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { newLiveMigration } from '../../src/core/live.js';
import type { LiveMigration } from '../../src/core/live.js';
import { percent, runCommand, statusObject } from '../../src/control/commands.js';
import { flagExists, isCutOverPostponed, postponeReason } from '../../src/core/flags.js';
import { defaultSocketPath, findDefaultSockets } from '../../src/control/socket.js';

function makeLive(): LiveMigration {
  return newLiveMigration(
    { chunkSize: 1000, maxLagMs: 1500 },
    { state: 'copying', table: 'orders', engine: 'mysql', startedAt: 1_000, copyStartedAt: 2_000, rowsCopied: 500, rowsEstimated: 1000, eventsApplied: 7, backlog: 3, replicaLagMs: { r1: 12 } },
  );
}
const run = (live: LiveMigration, text: string) =>
  runCommand(text, { live, status: () => ({ position: 'bin.000001:4', state: 'copying', chunkSize: 1000, etaMs: 1 }), now: () => 12_000 });

describe('control commands', () => {
  it('throttle / no-throttle', () => {
    const live = makeLive();
    expect(run(live, 'throttle')).toMatchObject({ ok: true, command: 'throttle' });
    expect(live.settings.forcedThrottle).toBe(true);
    expect(run(live, 'no-throttle').ok).toBe(true);
    expect(live.settings.forcedThrottle).toBe(false);
  });

  it('chunk-size and max-lag-millis take whole numbers in range; =? reads', () => {
    const live = makeLive();
    expect(run(live, 'chunk-size=2500').answer).toBe('ok: chunk-size=2500');
    expect(live.settings.chunkSize).toBe(2500);
    expect(run(live, 'chunk-size=?').answer).toBe('2500');
    expect(run(live, 'chunk-size').answer).toBe('2500');
    expect(run(live, 'max-lag-millis=300').answer).toBe('ok: max-lag-millis=300');
    expect(live.settings.maxLagMs).toBe(300);
    for (const bad of ['chunk-size=0', 'chunk-size=abc', 'chunk-size=-5', 'chunk-size=1.5', 'chunk-size=2000000', 'max-lag-millis=x']) {
      const r = run(live, bad);
      expect(r.ok, bad).toBe(false);
      expect(r.answer, bad).toMatch(/^error: /);
    }
    expect(live.settings.chunkSize).toBe(2500);
    expect(live.settings.maxLagMs).toBe(300);
  });

  it('max-load / critical-load parse load specs, empty clears, bad text refused', () => {
    const live = makeLive();
    expect(run(live, 'max-load=Threads_running=30,Threads_connected=400').answer).toBe('ok: max-load=Threads_running=30,Threads_connected=400');
    expect(live.settings.maxLoad).toEqual({ Threads_running: 30, Threads_connected: 400 });
    expect(run(live, 'critical-load=Threads_running=90').ok).toBe(true);
    expect(live.settings.criticalLoad).toEqual({ Threads_running: 90 });
    expect(run(live, 'max-load=?').answer).toBe('Threads_running=30,Threads_connected=400');
    const bad = run(live, 'max-load=Threads_running');
    expect(bad.ok).toBe(false);
    expect(bad.answer).toContain('error: bad load spec');
    expect(live.settings.maxLoad).toEqual({ Threads_running: 30, Threads_connected: 400 });
    expect(run(live, 'max-load=').ok).toBe(true);
    expect(live.settings.maxLoad).toEqual({});
  });

  it('postpone-cut-over / unpostpone / cut-over', () => {
    const live = makeLive();
    run(live, 'postpone-cut-over');
    expect(live.settings).toMatchObject({ postponeCutOver: true, cutOverNow: false });
    run(live, 'unpostpone');
    expect(live.settings).toMatchObject({ postponeCutOver: false, cutOverNow: false });
    run(live, 'postpone-cut-over');
    run(live, 'cut-over');
    expect(live.settings).toMatchObject({ postponeCutOver: false, cutOverNow: true });
    run(live, 'postpone-cut-over');
    expect(live.settings).toMatchObject({ postponeCutOver: true, cutOverNow: false });
  });

  it('panic', () => {
    const live = makeLive();
    expect(run(live, 'panic').answer).toContain('ok: panic');
    expect(live.settings.panic).toBe(true);
  });

  it('status as text and JSON, with the migrator status fields', () => {
    const live = makeLive();
    const text = run(live, 'status').answer;
    expect(text).toContain('table: orders (mysql)');
    expect(text).toContain('state: copying');
    expect(text).toContain('copied: 500/1000 rows (50%), 50 rows/s, eta 10s');
    expect(text).toContain('backlog 3');
    expect(text).toContain('replica lag: r1=12ms');
    expect(text).toContain('position: bin.000001:4');
    expect(text.match(/^state:/gm)).toHaveLength(1);
    expect(text).not.toMatch(/^(chunkSize|etaMs):/m);
    for (const cmd of ['status json', '{"command":"status"}']) {
      const o = JSON.parse(run(live, cmd).answer) as Record<string, unknown>;
      expect(o).toMatchObject({ table: 'orders', state: 'copying', rowsCopied: 500, percent: 50, rowsPerSecond: 50, elapsedMs: 11_000, position: 'bin.000001:4' });
      expect(o.settings).toMatchObject({ chunkSize: 1000 });
    }
  });

  it('JSON commands get JSON answers', () => {
    const live = makeLive();
    expect(JSON.parse(run(live, '{"command":"chunk-size","value":700}').answer)).toEqual({ ok: true, answer: 'ok: chunk-size=700' });
    expect(live.settings.chunkSize).toBe(700);
    expect(JSON.parse(run(live, '{"command":"max-load","value":{"Threads_running":20}}').answer)).toMatchObject({ ok: true });
    expect(live.settings.maxLoad).toEqual({ Threads_running: 20 });
    expect(JSON.parse(run(live, '{"command":"nope"}').answer)).toMatchObject({ ok: false, error: expect.stringContaining('unknown command') });
    expect(JSON.parse(run(live, '{bad json').answer)).toEqual({ ok: false, error: 'not valid JSON' });
  });

  it('unknown and empty commands answer error:', () => {
    const live = makeLive();
    expect(run(live, 'frobnicate').answer).toBe('error: unknown command "frobnicate"; try help');
    expect(run(live, '').answer).toBe('error: empty command; try help');
    expect(run(live, 'help').answer).toContain('postpone-cut-over');
  });

  it('statusObject percent and helpers', () => {
    expect(statusObject({ live: makeLive(), status: () => ({}), now: () => 2_000 })).toMatchObject({ rowsPerSecond: 500_000, elapsedMs: 1_000 });
    expect(percent(0, 0)).toBe(0);
    expect(percent(5, 0)).toBe(100);
    expect(percent(1, 3)).toBe(33.3);
    expect(percent(200, 100)).toBe(100);
  });
});

describe('defaultSocketPath', () => {
  it('lives in the temp dir, is sanitized, and stays short', () => {
    expect(defaultSocketPath('shop.orders')).toBe(join(tmpdir(), 'ghostwright.shop.orders.sock'));
    expect(defaultSocketPath('we/ird name')).toBe(join(tmpdir(), 'ghostwright.we_ird_name.sock'));
    const long = defaultSocketPath('x'.repeat(200));
    // The schema is part of the name: same-named tables in two schemas don't share a socket.
    expect(defaultSocketPath({ schema: 'shop', name: 'orders' })).toBe(join(tmpdir(), 'ghostwright.shop.orders.sock'));
    expect(defaultSocketPath({ schema: 'shop', name: 'orders' })).not.toBe(defaultSocketPath({ schema: 'archive', name: 'orders' }));
    expect(defaultSocketPath({ schema: 'a.b', name: 'c' })).not.toBe(defaultSocketPath({ schema: 'a', name: 'b.c' }));
    expect(defaultSocketPath({ schema: 's', name: 'we/ird' })).not.toBe(defaultSocketPath({ schema: 's', name: 'we_ird' }));
    // `control --table` finds them by the table's name, with or without the schema.
    const made = defaultSocketPath({ schema: 'gwfind', name: `t${process.pid}` });
    writeFileSync(made, '');
    try {
      expect(findDefaultSockets(`t${process.pid}`)).toEqual([made]);
      expect(findDefaultSockets(`gwfind.t${process.pid}`)).toEqual([made]);
      expect(findDefaultSockets(`other.t${process.pid}`)).toEqual([]);
    } finally {
      rmSync(made);
    }
    // PostgreSQL: every database has a public schema.
    expect(defaultSocketPath({ database: 'shop', schema: 'public', name: 'orders' })).toBe(join(tmpdir(), 'ghostwright.shop.public.orders.sock'));
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(100);
    expect(long).not.toBe(defaultSocketPath(`${'x'.repeat(199)}y`));
  });
});

describe('flag files and postponement', () => {
  it('postpone reasons: cut-over command wins, then the postpone command, then the flag file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-flag-'));
    try {
      const file = join(dir, 'postpone');
      const live = makeLive();
      expect(flagExists(file)).toBe(false);
      expect(flagExists(null)).toBe(false);
      expect(postponeReason(file, live.settings)).toBeNull();
      writeFileSync(file, '');
      expect(flagExists(file)).toBe(true);
      expect(postponeReason(file, live.settings)).toBe(`postpone flag file ${file}`);
      live.settings.postponeCutOver = true;
      expect(postponeReason(file, live.settings)).toBe('postpone-cut-over command');
      live.settings.cutOverNow = true;
      expect(isCutOverPostponed(file, live.settings)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('status reports the postponement in force and why: a flag file postpones without the command', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-flag-'));
    try {
      const file = join(dir, 'postpone');
      writeFileSync(file, '');
      const live = makeLive();
      const ctx = { live, status: () => ({}), postponeFlagFile: file };
      expect(live.settings.postponeCutOver).toBe(false);
      expect(runCommand('status', ctx).answer).toContain(`postpone-cut-over=true (postpone flag file ${file})`);
      expect(JSON.parse(runCommand('{"command":"status"}', ctx).answer)).toMatchObject({ postponeCutOver: true, postponeReason: `postpone flag file ${file}` });
      expect(runCommand('unpostpone', ctx).answer).toBe(`ok: postpone-cut-over command dropped (still postponed: postpone flag file ${file})`);
      rmSync(file);
      expect(runCommand('status', ctx).answer).toContain('postpone-cut-over=false cut-over-now');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
