/** Defaults a DBA can keep (--threads auto, --replica none) and the copy's share (--max-share). */
import { describe, expect, it } from 'vitest';
import { AUTO_THREADS_CAP, autoThreads, isLocalHost } from '../../src/core/auto-threads.js';
import { newLiveMigration } from '../../src/core/live.js';
import { alterOptions, replicaChoice } from '../../src/core/options.js';
import { restAfterChunk, shareText } from '../../src/core/share.js';
import { runCommand } from '../../src/control/commands.js';
import { formatProgressLine } from '../../src/cli/progress.js';
import { replicasText, toOptions } from '../../src/cli/commands/alter.js';
import { GhostwrightError } from '../../src/errors.js';

describe('--threads auto', () => {
  it('a server on this machine: one worker per core, at most 4', () => {
    expect(autoThreads({ host: '127.0.0.1' }, 2)).toBe(2);
    expect(autoThreads({ host: 'localhost' }, 1)).toBe(1);
    expect(autoThreads({ host: '::1' }, 16)).toBe(AUTO_THREADS_CAP);
  });
  it('a remote server (or an unknown host): 4', () => {
    expect(autoThreads({ host: 'db.example.com' }, 2)).toBe(4);
    expect(autoThreads({ host: null }, 2)).toBe(4);
  });
  it('loopback and socket hosts count as local', () => {
    for (const h of ['127.0.0.1', '127.0.1.1', 'LOCALHOST', '[::1]', '/var/run/mysqld/mysqld.sock', '']) expect(isLocalHost(h)).toBe(true);
    for (const h of ['10.0.0.5', 'db', '::2']) expect(isLocalHost(h)).toBe(false);
  });
  it('alterOptions fills threads in when not given, and keeps an explicit number', () => {
    expect(alterOptions({ url: 'mysql://u@db.example.com/d', table: 't', alter: 'ADD x INT' }).threads).toBe(4);
    expect(alterOptions({ url: 'mysql://u@db.example.com/d', table: 't', alter: 'ADD x INT', threads: 1 }).threads).toBe(1);
  });
  it('the CLI default is auto; --threads N wins', () => {
    const base = { url: 'mysql://u@db.example.com/d', table: 't', alter: 'ADD x INT', chunkSize: 5000, chunkTime: 500, cutOverLockTimeout: 3, cutOverRetries: 5, replica: [], criticalLoadHibernateSeconds: 0, maxLagMillis: 1500, maxRetainedWalMb: 1024, heartbeatIntervalMillis: 100, statusInterval: 10, maxBacklog: 50_000, maxShare: 100, streamStartTimeout: 60 };
    expect(toOptions({ ...base, threads: 'auto' }).threads).toBe(4);
    expect(toOptions({ ...base, threads: 3 }).threads).toBe(3);
    expect(toOptions({ ...base, threads: 'auto', maxShare: 40 }).throttle.maxSharePercent).toBe(40);
  });
});

describe('--replica none', () => {
  it('turns discovery off; URLs name the only replicas; no flag keeps discovery', () => {
    expect(replicaChoice([])).toEqual({ replicas: [], replicaDiscovery: true });
    expect(replicaChoice(['none'])).toEqual({ replicas: [], replicaDiscovery: false });
    expect(replicaChoice(['mysql://r1/d'])).toEqual({ replicas: ['mysql://r1/d'], replicaDiscovery: true });
  });
  it('refuses none mixed with URLs (exit 2)', () => {
    try {
      replicaChoice(['none', 'mysql://r1/d']);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(GhostwrightError);
      expect((err as GhostwrightError).exitCode).toBe(2);
    }
  });
  it('the report says which replicas were watched', () => {
    expect(replicasText({ discovery: true, watched: ['discovered:127.0.0.1:3307'] })).toBe('watched discovered:127.0.0.1:3307');
    expect(replicasText({ discovery: true, watched: [] })).toBe('none found (lag not watched)');
    expect(replicasText({ discovery: false, watched: [] })).toBe('none watched (--replica none)');
  });
});

describe('--max-share', () => {
  it('rests t * (100 - P) / P after a chunk of t ms', () => {
    expect(restAfterChunk(200, 100)).toBe(0);
    expect(restAfterChunk(200, 50)).toBe(200);
    expect(restAfterChunk(200, 25)).toBe(600);
    expect(restAfterChunk(200, 80)).toBe(50);
    expect(restAfterChunk(0, 10)).toBe(0);
  });
  it('busy time over busy + rest time is the share', () => {
    for (const p of [1, 10, 33, 50, 90]) {
      const busy = 300;
      const share = busy / (busy + restAfterChunk(busy, p));
      expect(share).toBeCloseTo(p / 100, 2);
    }
  });
  it('changes live on the socket and shows in the progress line', () => {
    const live = newLiveMigration({ chunkSize: 1000, maxLagMs: 1500 }, { state: 'copying', table: 'orders', copyStartedAt: 1, rowsEstimated: 10 });
    expect(formatProgressLine(live, 2)).toMatch(/\| copying$/);
    expect(runCommand('max-share=50', { live, status: () => ({}) }).answer).toBe('ok: max-share=50');
    expect(live.settings.maxSharePercent).toBe(50);
    expect(formatProgressLine(live, 2)).toMatch(/\| copying \(share ≤50%\)$/);
    expect(runCommand('max-share=?', { live, status: () => ({}) }).answer).toBe('50');
    expect(runCommand('max-share=0', { live, status: () => ({}) }).ok).toBe(false);
    expect(runCommand('max-share=101', { live, status: () => ({}) }).ok).toBe(false);
    expect(runCommand('{"command":"max-share","value":75}', { live, status: () => ({}) }).ok).toBe(true);
    expect(live.settings.maxSharePercent).toBe(75);
    expect(shareText(100)).toBeNull();
  });
});
