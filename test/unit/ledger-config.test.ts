import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConfigFile, resolveLedgerOptions } from '../../src/ledger/config.js';
import { retryDelayMs } from '../../src/ledger/session.js';
import { tempDir } from '../helpers/tmp.js';

describe('ledger config: flags > env > ghostwright.config.json > defaults', () => {
  it('defaults', () => {
    const o = resolveLedgerOptions({}, {}, {});
    expect(o).toMatchObject({ dir: 'migrations', outOfOrder: false, baselineOnMigrate: false, baselineVersion: '1', connectRetries: 0, cleanEnabled: false, placeholders: {} });
    expect(o.url).toBeUndefined();
    expect('onlineThreshold' in o).toBe(false);
  });
  it('precedence and placeholders from all three', () => {
    const dir = tempDir('gw-cfg-');
    writeFileSync(join(dir, 'ghostwright.config.json'), JSON.stringify({ url: 'postgres://file/db', dir: 'db/migrations', onlineThreshold: 5, placeholders: { owner: 'file', ts: 'pg_default' }, ledger: { outOfOrder: true } }));
    const file = readConfigFile(dir);
    const env = { GHOSTWRIGHT_URL: 'postgres://env/db', GHOSTWRIGHT_PLACEHOLDERS_OWNER: 'env', GHOSTWRIGHT_CONNECT_RETRIES: '4', GHOSTWRIGHT_CLEAN_ENABLED: 'true' };
    const o = resolveLedgerOptions({ placeholder: ['extra=1'], onlineThreshold: 7 }, env, file);
    expect(o).toMatchObject({ url: 'postgres://env/db', dir: 'db/migrations', onlineThreshold: 7, outOfOrder: true, connectRetries: 4, cleanEnabled: true, placeholders: { owner: 'env', ts: 'pg_default', extra: '1' } });
    expect(resolveLedgerOptions({ url: 'mysql://flag/db', outOfOrder: false }, env, file)).toMatchObject({ url: 'mysql://flag/db', outOfOrder: false });
    expect(Object.isFrozen(o)).toBe(true);
  });
  it('online-engine flags become AlterOptions for delegated ALTERs', () => {
    const o = resolveLedgerOptions({ maxLoad: 'Threads_running=25', maxLagMillis: 500, chunkSize: 1000, replica: ['mysql://r/db'] }, {}, {});
    expect(o.onlineOptions).toEqual({ throttle: { maxLoad: { Threads_running: 25 }, maxLagMs: 500 }, chunkSize: 1000, replicas: ['mysql://r/db'] });
    expect(resolveLedgerOptions({ replica: ['none'] }, {}, {}).onlineOptions).toEqual({ replicas: [], replicaDiscovery: false });
  });
  it('refuses bad env numbers and bad JSON', () => {
    expect(() => resolveLedgerOptions({}, { GHOSTWRIGHT_CONNECT_RETRIES: 'many' }, {})).toThrow(/non-negative integer/);
    const dir = tempDir('gw-cfg-');
    writeFileSync(join(dir, 'ghostwright.config.json'), '{nope');
    expect(() => readConfigFile(dir)).toThrow(/not valid JSON/);
    expect(readConfigFile(tempDir('gw-cfg-'))).toEqual({});
  });
  it('connect retries back off exponentially, capped', () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => retryDelayMs(n))).toEqual([1000, 2000, 4000, 8000, 10000, 10000]);
  });
});
