/**
 * Vitest global setup: one sandbox (MariaDB primary + replica, PostgreSQL
 * primary + standby) for the whole run, in a temp dir, stopped in teardown.
 *
 * - GHOSTWRIGHT_TEST_MYSQL_URL / GHOSTWRIGHT_TEST_PG_URL: use that server and
 *   start nothing for that engine (optionally GHOSTWRIGHT_TEST_MYSQL_REPLICA_URL /
 *   GHOSTWRIGHT_TEST_PG_STANDBY_URL).
 * - GHOSTWRIGHT_TEST_SKIP_SERVERS=1: start nothing (unit-only runs).
 * - GHOSTWRIGHT_TEST_PG_VERSION=17: the PostgreSQL major to start (15 from
 *   Debian, 16/17/18 from the npm packages pg16/pg17/pg18); default the
 *   newest installed. GHOSTWRIGHT_TEST_PG_BIN=/dir: that bin directory.
 * - GHOSTWRIGHT_TEST_ENGINES=postgres (or mysql): start only that engine's
 *   servers (the other engine's tests skip; `npm run test:pg`).
 *
 * URLs reach tests through provide/inject and, as a fallback, process.env.
 *
 * Temp files: every test worker (and every CLI it spawns) gets TMPDIR set to
 * one run directory, removed in teardown; whatever tests left there is
 * listed first, so a test that forgets its temp dir shows up in the output
 * instead of piling up in /tmp (52 dirs after two runs, before).
 */
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startSandbox, stopSandbox } from '../../src/sandbox/index.js';

declare module 'vitest' {
  export interface ProvidedContext {
    ghostwrightMysqlUrl: string | undefined;
    ghostwrightMysqlReplicaUrl: string | undefined;
    ghostwrightPgUrl: string | undefined;
    ghostwrightPgStandbyUrl: string | undefined;
  }
}

export const ENV = {
  mysql: 'GHOSTWRIGHT_TEST_MYSQL_URL',
  mysqlReplica: 'GHOSTWRIGHT_TEST_MYSQL_REPLICA_URL',
  pg: 'GHOSTWRIGHT_TEST_PG_URL',
  pgStandby: 'GHOSTWRIGHT_TEST_PG_STANDBY_URL',
  skip: 'GHOSTWRIGHT_TEST_SKIP_SERVERS',
  pgVersion: 'GHOSTWRIGHT_TEST_PG_VERSION',
  pgBin: 'GHOSTWRIGHT_TEST_PG_BIN',
  engines: 'GHOSTWRIGHT_TEST_ENGINES',
} as const;

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | void> {
  const env = process.env;
  const runTmp = mkdtempSync(join(tmpdir(), 'gw-run-'));
  // The PostgreSQL sandbox may run as another OS user: let it traverse.
  chmodSync(runTmp, 0o755);
  const cleanRunTmp = (): void => {
    const left = readdirSync(runTmp).filter((n) => !n.startsWith('ghostwright.'));
    if (left.length) console.warn(`[ghostwright] tests left ${left.length} temp entr${left.length === 1 ? 'y' : 'ies'} behind (removed now): ${left.sort().join(', ')}`);
    rmSync(runTmp, { recursive: true, force: true });
  };
  if (env[ENV.skip] === '1' || env[ENV.skip] === 'true') {
    env.TMPDIR = runTmp;
    return async () => cleanRunTmp();
  }

  const engines = (env[ENV.engines] ?? 'mysql,postgres').split(',').map((e) => e.trim());
  const needMysql = !env[ENV.mysql] && engines.includes('mysql');
  const needPg = !env[ENV.pg] && engines.includes('postgres');
  let dir: string | undefined;
  if (needMysql || needPg) {
    dir = mkdtempSync(join(tmpdir(), 'gw-sbx-'));
    const t0 = Date.now();
    const sandbox = await startSandbox({ dir, mysql: needMysql, postgres: needPg, replicas: true, pgVersion: env[ENV.pgVersion] || undefined, pgBin: env[ENV.pgBin] || undefined });
    const engines = [needMysql && `${sandbox.manifest.mysql?.flavor} + replica`, needPg && `PostgreSQL ${sandbox.manifest.postgres?.version} + standby`].filter(Boolean).join(', ');
    console.log(`[ghostwright] sandbox (${engines}) ready in ${((Date.now() - t0) / 1000).toFixed(1)} s in ${dir}`);
    if (sandbox.mysql) {
      env[ENV.mysql] = sandbox.mysql.url;
      if (sandbox.mysql.replicaUrl) env[ENV.mysqlReplica] = sandbox.mysql.replicaUrl;
    }
    if (sandbox.postgres) {
      env[ENV.pg] = sandbox.postgres.url;
      if (sandbox.postgres.standbyUrl) env[ENV.pgStandby] = sandbox.postgres.standbyUrl;
    }
  }
  project.provide('ghostwrightMysqlUrl', env[ENV.mysql]);
  project.provide('ghostwrightMysqlReplicaUrl', env[ENV.mysqlReplica]);
  project.provide('ghostwrightPgUrl', env[ENV.pg]);
  project.provide('ghostwrightPgStandbyUrl', env[ENV.pgStandby]);

  // Set after the sandbox started (its own dir stays outside): workers fork with this env.
  env.TMPDIR = runTmp;
  const sandboxDir = dir;
  return async () => {
    if (sandboxDir) {
      await stopSandbox(sandboxDir, { timeoutMs: 20_000 });
      rmSync(sandboxDir, { recursive: true, force: true });
    }
    cleanRunTmp();
  };
}
