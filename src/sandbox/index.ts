/**
 * Local throwaway servers for tests, benchmarks and the demo: a MariaDB/MySQL
 * primary (+ replica) and a PostgreSQL primary (+ standby), started in
 * parallel in one directory, described by `<dir>/sandbox.json` so another
 * process (`ghostwright sandbox stop`) can find and stop them by pid.
 *
 * Layout: <dir>/sandbox.json, <dir>/mysql/{primary,replica}/, <dir>/postgres/{primary,standby}/
 */
import { existsSync, readFileSync, writeFileSync, rmSync, readdirSync, rmdirSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GhostwrightError, RefusedError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { startMysql, type MysqlSandbox, type MysqlFlavor, type ServerOverrides } from './mysql.js';
import { startPostgres, type PostgresSandbox } from './postgres.js';
import { isOurProcess, stopProcess } from './process.js';

export { startMysql, mysqlUrl, SANDBOX_USER, SANDBOX_PASSWORD, SANDBOX_DATABASE } from './mysql.js';
export type { StartMysqlOptions, MysqlSandbox, MysqlFlavor, ServerOverrides } from './mysql.js';
export { startPostgres, postgresUrl } from './postgres.js';
export type { StartPostgresOptions, PostgresSandbox } from './postgres.js';
export { findPgBinaries, NPM_PG_VERSIONS, type PgBinaries } from './pg-binaries.js';
export { freePort } from './ports.js';

export const MANIFEST_FILE = 'sandbox.json';

export type ServerRole = 'mysql-primary' | 'mysql-replica' | 'postgres-primary' | 'postgres-standby';

export interface ManifestProcess {
  role: ServerRole;
  pid: number;
  url: string;
  /** The server's own directory: its command line names it, which is how we know a pid is still ours. */
  serverDir: string;
  /** Clean, fast shutdown: MariaDB/MySQL SIGTERM, PostgreSQL SIGINT ("fast"). */
  signal: 'SIGTERM' | 'SIGINT';
}

export interface SandboxManifest {
  version: 1;
  dir: string;
  startedAt: string;
  startupMs: number;
  mysql?: { flavor: MysqlFlavor; url: string; replicaUrl?: string; pid: number; replicaPid?: number };
  postgres?: { version: string; url: string; standbyUrl?: string; pid: number; standbyPid?: number };
  processes: ManifestProcess[];
}

export interface StartSandboxOptions {
  dir: string;
  mysql?: boolean;
  postgres?: boolean;
  /** Also start a MySQL replica and a PostgreSQL standby. */
  replicas?: boolean;
  /** PostgreSQL major version (15, 16, 17, 18); see sandbox/pg-binaries.ts for where it is looked for. */
  pgVersion?: string | undefined;
  /** PostgreSQL bin directory (initdb, postgres): wins over pgVersion. */
  pgBin?: string | undefined;
  log?: Logger;
  /** Let the servers outlive this process (CLI). Default: they die with it. */
  detach?: boolean;
  /** Server settings over the sandbox's (e.g. the benches' memory); null removes one. */
  mysqlOverrides?: ServerOverrides;
  pgOverrides?: ServerOverrides;
}

export interface Sandbox {
  dir: string;
  manifest: SandboxManifest;
  mysql: MysqlSandbox | undefined;
  postgres: PostgresSandbox | undefined;
  startupMs: number;
  stop(): Promise<void>;
}

export interface ServerStatus {
  role: ServerRole;
  pid: number;
  url: string;
  alive: boolean;
}

export interface SandboxStatus {
  dir: string;
  /** False when there is no sandbox.json in dir. */
  exists: boolean;
  startedAt: string | undefined;
  servers: ServerStatus[];
  /** Every server in the manifest is running. */
  allAlive: boolean;
}

export function readManifest(dir: string): SandboxManifest | undefined {
  const file = join(resolve(dir), MANIFEST_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as SandboxManifest;
  } catch (err) {
    throw new GhostwrightError('E_SANDBOX_MANIFEST', `cannot read ${file}`, { cause: err, hint: 'remove the directory by hand if no sandbox server runs from it' });
  }
}

export function sandboxStatus(dir: string): SandboxStatus {
  const abs = resolve(dir);
  const manifest = readManifest(abs);
  const servers = (manifest?.processes ?? []).map((p) => ({ role: p.role, pid: p.pid, url: p.url, alive: isOurProcess(p.pid, p.serverDir) }));
  return {
    dir: abs,
    exists: manifest !== undefined,
    startedAt: manifest?.startedAt,
    servers,
    allAlive: servers.length > 0 && servers.every((s) => s.alive),
  };
}

function manifestProcesses(m: MysqlSandbox | undefined, p: PostgresSandbox | undefined): ManifestProcess[] {
  const out: ManifestProcess[] = [];
  if (m) {
    out.push({ role: 'mysql-primary', pid: m.pid, url: m.url, serverDir: join(m.dir, 'primary'), signal: 'SIGTERM' });
    if (m.replicaPid !== undefined && m.replicaUrl) out.push({ role: 'mysql-replica', pid: m.replicaPid, url: m.replicaUrl, serverDir: join(m.dir, 'replica'), signal: 'SIGTERM' });
  }
  if (p) {
    out.push({ role: 'postgres-primary', pid: p.pid, url: p.url, serverDir: join(p.dir, 'primary'), signal: 'SIGINT' });
    if (p.standbyPid !== undefined && p.standbyUrl) out.push({ role: 'postgres-standby', pid: p.standbyPid, url: p.standbyUrl, serverDir: join(p.dir, 'standby'), signal: 'SIGINT' });
  }
  return out;
}

/** Starts the requested servers in parallel and writes `<dir>/sandbox.json`. */
export async function startSandbox(opts: StartSandboxOptions): Promise<Sandbox> {
  const log = opts.log ?? silentLogger;
  const dir = resolve(opts.dir);
  const wantMysql = opts.mysql ?? true;
  const wantPg = opts.postgres ?? true;
  if (!wantMysql && !wantPg) throw new RefusedError('E_SANDBOX_NOTHING', 'nothing to start: both MySQL and PostgreSQL were turned off');
  const previous = sandboxStatus(dir);
  if (previous.servers.some((s) => s.alive)) {
    throw new RefusedError('E_SANDBOX_RUNNING', `a sandbox already runs from ${dir}`, { hint: `stop it first: ghostwright sandbox stop --dir ${dir}` });
  }
  if (previous.exists) removeSandboxFiles(dir); // stale leftovers of a crashed run
  else if (existsSync(join(dir, 'mysql')) || existsSync(join(dir, 'postgres'))) {
    // No manifest, so we cannot tell whether servers still run from here.
    throw new RefusedError('E_SANDBOX_DIRTY', `${dir} holds server files but no ${MANIFEST_FILE}`, {
      hint: `make sure no server runs from it, then remove ${join(dir, 'mysql')} and ${join(dir, 'postgres')}`,
    });
  }
  mkdirSync(dir, { recursive: true });
  const t0 = Date.now();
  const [m, p] = await Promise.allSettled([
    wantMysql ? startMysql({ dir: join(dir, 'mysql'), replica: opts.replicas ?? false, log, detach: opts.detach ?? false, overrides: opts.mysqlOverrides }) : Promise.resolve(undefined),
    wantPg
      ? startPostgres({ dir: join(dir, 'postgres'), standby: opts.replicas ?? false, log, detach: opts.detach ?? false, pgVersion: opts.pgVersion, pgBin: opts.pgBin, overrides: opts.pgOverrides })
      : Promise.resolve(undefined),
  ]);
  const mysql = m.status === 'fulfilled' ? m.value : undefined;
  const postgres = p.status === 'fulfilled' ? p.value : undefined;
  if (m.status === 'rejected' || p.status === 'rejected') {
    await Promise.all([mysql?.stop(), postgres?.stop()]);
    // Everything that started was stopped (each start cleans up after itself): the files can go.
    removeSandboxFiles(dir);
    throw (m.status === 'rejected' ? m.reason : (p as PromiseRejectedResult).reason) as Error;
  }
  const startupMs = Date.now() - t0;
  const manifest: SandboxManifest = {
    version: 1,
    dir,
    startedAt: new Date().toISOString(),
    startupMs,
    ...(mysql
      ? { mysql: { flavor: mysql.flavor, url: mysql.url, pid: mysql.pid, ...(mysql.replicaUrl ? { replicaUrl: mysql.replicaUrl, replicaPid: mysql.replicaPid } : {}) } }
      : {}),
    ...(postgres
      ? { postgres: { version: postgres.version, url: postgres.url, pid: postgres.pid, ...(postgres.standbyUrl ? { standbyUrl: postgres.standbyUrl, standbyPid: postgres.standbyPid } : {}) } }
      : {}),
    processes: manifestProcesses(mysql, postgres),
  };
  writeFileSync(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  log.info({ dir, startupMs }, 'sandbox ready');
  return { dir, manifest, mysql, postgres, startupMs, stop: async () => void (await stopSandbox(dir)) };
}

/**
 * Stops every server listed in `<dir>/sandbox.json` by its pid (clean shutdown
 * signal, SIGKILL after `timeoutMs`), replicas before primaries, then removes
 * what the sandbox wrote. Safe to re-run; a directory without a manifest is
 * left alone.
 */
export async function stopSandbox(dir: string, opts: { timeoutMs?: number; keepFiles?: boolean } = {}): Promise<ServerStatus[]> {
  const abs = resolve(dir);
  const manifest = readManifest(abs);
  if (!manifest) return [];
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const stopGroup = async (roles: ServerRole[]) => {
    for (const role of roles) {
      for (const p of manifest.processes.filter((x) => x.role === role)) await stopProcess(p.pid, p.serverDir, p.signal, timeoutMs);
    }
  };
  // Engines in parallel; within one, the replica first so the primary's shutdown doesn't wait on it.
  await Promise.all([stopGroup(['mysql-replica', 'mysql-primary']), stopGroup(['postgres-standby', 'postgres-primary'])]);
  const result = manifest.processes.map((p) => ({ role: p.role, pid: p.pid, url: p.url, alive: isOurProcess(p.pid, p.serverDir) }));
  if (!opts.keepFiles) removeSandboxFiles(abs);
  return result;
}

/** Removes only what a sandbox writes, then the directory itself if that left it empty. */
function removeSandboxFiles(dir: string): void {
  for (const entry of ['mysql', 'postgres', MANIFEST_FILE]) rmSync(join(dir, entry), { recursive: true, force: true });
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    /* already gone */
  }
}
