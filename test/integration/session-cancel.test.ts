/**
 * SqlSession.cancel() stops the statement running on a session (the
 * --exact-rowcount COUNT(*) when a run is aborted): MySQL KILL QUERY,
 * PostgreSQL pg_cancel_backend. Closing alone left the server running it.
 */
import { describe, expect, it } from 'vitest';
import { parseConnectionUrl } from '../../src/connection.js';
import { connectEngine } from '../../src/engine/index.js';
import { silentLogger } from '../../src/log.js';
import { hasMysql, hasPostgres, serverUrl, type TestDialect } from '../helpers/servers.js';

describe.each<TestDialect>(['mysql', 'postgres'])('%s: SqlSession.cancel', (dialect) => {
  it.skipIf(!(dialect === 'mysql' ? hasMysql() : hasPostgres()))('stops a running statement at once; the server no longer runs it', async () => {
    const engine = await connectEngine(parseConnectionUrl(serverUrl(dialect), {}), silentLogger);
    const session = await engine.openSession();
    try {
      const marker = `gw_cancel_${Date.now()}`;
      const started = Date.now();
      const running = session.query(dialect === 'mysql' ? `SELECT SLEEP(60) AS ${marker}` : `SELECT pg_sleep(60) AS ${marker}`).then(
        () => 'finished',
        () => 'cancelled',
      );
      const seen = async () =>
        Number(
          (
            await engine.execute(
              dialect === 'mysql' ? 'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND INFO NOT LIKE ?' : "SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND query NOT LIKE $2",
              [`%${marker}%`, '%PROCESSLIST%'],
            )
          ).rows[0]?.n,
        );
      while ((await seen()) === 0) await new Promise((r) => setTimeout(r, 100));
      await session.cancel!();
      // MySQL's SLEEP() returns 1 when killed instead of failing: either way it ends now, not in 60 s.
      expect(['cancelled', 'finished']).toContain(await running);
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(await seen()).toBe(0);
    } finally {
      await session.close();
      await engine.close();
    }
  });
});
