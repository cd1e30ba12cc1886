/**
 * Connecting with retries (migrate --connect-retries, for a database still
 * starting): a server that is not there yet is retried; a server that says
 * no (wrong password) answers the same every time, so the run fails at
 * once with E_CONNECT, exit 2, and never waits out the backoff (before:
 * 1 + 2 + 4 + 8 + 10 s for five retries, then the same error).
 */
import { describe, expect, it } from 'vitest';
import { parseConnectionUrl } from '../../src/connection.js';
import { connectEngine } from '../../src/engine/index.js';
import { GhostwrightError, RefusedError, UnreachableError } from '../../src/errors.js';
import { connectWithRetries } from '../../src/ledger/session.js';
import { silentLogger } from '../../src/log.js';
import { hasMysql, hasPostgres, serverUrl, type TestDialect } from '../helpers/servers.js';

const withPassword = (url: string, password: string): string => {
  const u = new URL(url);
  u.password = password;
  return u.toString();
};

describe.each<TestDialect>(['mysql', 'postgres'])('%s: connect retries', (dialect) => {
  const available = dialect === 'mysql' ? hasMysql() : hasPostgres();

  it.skipIf(!available)('a wrong password fails at once: E_CONNECT, exit 2, one attempt', async () => {
    const spec = parseConnectionUrl(withPassword(serverUrl(dialect), 'wrong-Pw-123'), {});
    let attempts = 0;
    const err = await connectWithRetries(spec, silentLogger, 5, async (s, log) => {
      attempts++;
      return connectEngine(s, log);
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefusedError);
    expect((err as GhostwrightError).code).toBe('E_CONNECT');
    expect((err as GhostwrightError).exitCode).toBe(2);
    expect((err as Error).message).not.toContain('wrong-Pw-123');
    expect(attempts).toBe(1); // before: 6 attempts over 25 s of backoff
  });
});

describe('what is retried', () => {
  it('a server that does not answer (yet) or says "starting up" is retried; other refusals are not', async () => {
    const spec = parseConnectionUrl('postgres://u@127.0.0.1:1/db', {});
    const run = async (errors: unknown[]) => {
      let n = 0;
      const out = await connectWithRetries(spec, silentLogger, 3, async () => {
        const e = errors[n++];
        if (e) throw e;
        return 'engine' as never;
      }).catch((e: unknown) => e);
      return { n, out };
    };
    const startingUp = Object.assign(new RefusedError('E_CONNECT', 'the database system is starting up', { cause: Object.assign(new Error('starting up'), { code: '57P03' }) }));
    expect(await run([new UnreachableError('refused'), startingUp])).toEqual({ n: 3, out: 'engine' });
    const denied = new RefusedError('E_CONNECT', 'password authentication failed');
    expect(await run([denied])).toEqual({ n: 1, out: denied });
    const badUrl = new RefusedError('E_BAD_URL', 'bad url');
    expect(await run([badUrl])).toEqual({ n: 1, out: badUrl });
  }, 20_000);
});
