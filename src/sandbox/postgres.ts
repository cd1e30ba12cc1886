/**
 * A PostgreSQL primary, optionally with a streaming standby, started from the
 * binaries on this machine in its own directory on free loopback ports, with
 * logical decoding enabled (wal_level=logical, slots, senders) and durability
 * switched off for speed (throwaway test data).
 *
 * PostgreSQL refuses to run as root: when we are root, every server-side
 * command runs as the `postgres` OS user and the directories are chowned to it.
 */
import { mkdirSync, writeFileSync, appendFileSync, chownSync, chmodSync, existsSync, statSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import pg from 'pg';
import { GhostwrightError, RefusedError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { freePort } from './ports.js';
import { lookupUser, mustRun, runCommand, spawnServer, stopProcess, waitUntil, readSafe, type RunAs, type ServerProcess } from './process.js';
import { findPgBinaries, type PgBinaries } from './pg-binaries.js';
import { copyStandbyDataDir } from './pg-standby-copy.js';
import { SANDBOX_DATABASE, SANDBOX_PASSWORD, SANDBOX_USER, type ServerOverrides } from './mysql-settings.js';

export interface StartPostgresOptions {
  /** Directory that will hold the data directories, sockets and logs (created if missing). */
  dir: string;
  /** Also start a streaming standby (pg_basebackup -R, or a file-level base backup) and wait until it streams. */
  standby?: boolean;
  /** Major version to start (15, 16, 17, 18): Debian's /usr/lib/postgresql/<v>, else the npm package pg<v>. Default: the newest found. */
  pgVersion?: string | undefined;
  /** A directory holding initdb and postgres: wins over pgVersion. */
  pgBin?: string | undefined;
  /** Replace or add postgresql.conf settings, e.g. `{ wal_level: 'replica' }`. Primary only. */
  overrides?: ServerOverrides;
  log?: Logger;
  /** Let the servers outlive this process (CLI `sandbox start`). Default: they die with it. */
  detach?: boolean;
}

export interface PostgresSandbox {
  version: string;
  url: string;
  standbyUrl: string | undefined;
  port: number;
  standbyPort: number | undefined;
  pid: number;
  standbyPid: number | undefined;
  dir: string;
  stop(): Promise<void>;
  /**
   * Stops the primary (fast shutdown, or `immediate`: a crash, recovery on
   * start), keeps it down `downMs`, and starts it again on the same port and
   * data (tests of a server restart under a running migration). `pid` stays
   * the first postmaster's.
   */
  restartPrimary(o?: { immediate?: boolean; downMs?: number }): Promise<void>;
}

function serverUser(): RunAs | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const user = lookupUser('postgres');
  if (!user) {
    throw new RefusedError('E_SANDBOX_USER', 'PostgreSQL refuses to run as root and there is no "postgres" OS user to run it as', {
      hint: 'create one (apt-get install postgresql-15 does) or run as a non-root user',
    });
  }
  return user;
}

/**
 * The postgres OS user must be able to traverse down to its directories, and
 * mkdtemp makes 0700 directories. We add the search bit (o+x, not read) to
 * ancestors inside the temp dir or the working directory; anywhere else we ask.
 */
function makeReachable(dir: string): void {
  const roots = [resolve(tmpdir()), resolve(process.cwd())];
  for (let d = dir; ; d = dirname(d)) {
    const mode = statSync(d).mode;
    if ((mode & 0o001) === 0) {
      const ours = roots.some((r) => d === r || d.startsWith(`${r}/`));
      if (!ours) {
        throw new RefusedError('E_SANDBOX_DIR', `the postgres OS user cannot reach ${dir}: ${d} is not searchable by others`, {
          hint: `chmod o+x ${d}, or put the sandbox under ${tmpdir()}`,
        });
      }
      chmodSync(d, mode | 0o001);
    }
    if (d === dirname(d)) return;
  }
}

export function postgresUrl(port: number, database = SANDBOX_DATABASE): string {
  return `postgres://${SANDBOX_USER}:${SANDBOX_PASSWORD}@127.0.0.1:${port}/${database}`;
}

function confValue(v: string): string {
  return `'${v.replace(/'/g, "''")}'`;
}

function settings(serverDir: string, port: number, overrides: ServerOverrides | undefined): string {
  const s = new Map<string, string>([
    ['listen_addresses', '127.0.0.1'],
    ['port', String(port)],
    ['unix_socket_directories', serverDir],
    ['wal_level', 'logical'],
    ['max_replication_slots', '20'],
    ['max_wal_senders', '20'],
    ['max_connections', '200'],
    ['hot_standby', 'on'],
    ['hot_standby_feedback', 'on'],
    ['wal_keep_size', '256MB'],
    // Throwaway data: trade durability for speed.
    ['fsync', 'off'],
    ['synchronous_commit', 'off'],
    ['full_page_writes', 'off'],
    ['shared_buffers', '128MB'],
    ['timezone', 'UTC'],
    ['log_timezone', 'UTC'],
    ['logging_collector', 'off'],
    ['log_min_messages', 'warning'],
  ]);
  for (const [k, v] of Object.entries(overrides ?? {})) {
    if (v === null) s.delete(k);
    else s.set(k, v);
  }
  return ['# written by ghostwright sandbox', ...[...s].map(([k, v]) => `${k} = ${confValue(v)}`), ''].join('\n');
}

// Local socket: trust (setup runs as the postgres superuser). TCP: passwords,
// including physical replication, which pg_hba matches only via "replication".
const PG_HBA = `# written by ghostwright sandbox
local   all          all                  trust
local   replication  all                  trust
host    all          all    127.0.0.1/32  scram-sha-256
host    replication  all    127.0.0.1/32  scram-sha-256
`;

interface RunningPg {
  proc: ServerProcess;
  port: number;
  serverDir: string;
}

function own(path: string, user: RunAs | undefined): void {
  if (user) chownSync(path, user.uid, user.gid);
}

const superClient = (server: RunningPg): pg.Client =>
  new pg.Client({ host: server.serverDir, port: server.port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 2000 });

async function superQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(server: RunningPg, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = superClient(server);
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function boot(bins: PgBinaries, serverDir: string, port: number, user: RunAs | undefined, detach: boolean, log: Logger): Promise<RunningPg> {
  const dataDir = join(serverDir, 'data');
  const logFile = join(serverDir, 'postgres.log');
  const proc = spawnServer(join(bins.binDir, 'postgres'), ['-D', dataDir], { logFile, marker: serverDir, signal: 'INT', detach, ...(user ? { runAs: user } : {}) });
  log.debug({ pid: proc.pid, port, serverDir }, 'postgres sandbox: server spawned');
  const server = { proc, port, serverDir };
  try {
    // A standby answers only once it reached a consistent state; a primary once recovery is done.
    await waitUntil(`PostgreSQL sandbox server in ${serverDir}`, async () => (await superQuery(server, 'SELECT 1'), true), {
      proc,
      logFile,
      timeoutMs: 60_000,
      intervalMs: 50,
    });
  } catch (err) {
    await stopProcess(proc.pid, serverDir, 'SIGKILL', 5000);
    throw err;
  }
  return server;
}

async function startPrimary(bins: PgBinaries, serverDir: string, user: RunAs | undefined, overrides: ServerOverrides | undefined, detach: boolean, log: Logger): Promise<RunningPg> {
  mkdirSync(serverDir, { recursive: true });
  own(serverDir, user);
  const dataDir = join(serverDir, 'data');
  const initdb = join(bins.binDir, 'initdb');
  const common = ['-D', dataDir, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', '-N', '--no-instructions', '-E', 'UTF8'];
  const opts = user ? { runAs: user } : {};
  const first = await runCommand(initdb, [...common, '--locale=C.UTF-8'], opts);
  if (first.code !== 0) {
    // No C.UTF-8 locale on this system: plain C still gives UTF8 storage.
    await mustRun('initdb', initdb, [...common, '--locale=C'], opts);
  }
  appendFileSync(join(dataDir, 'postgresql.conf'), "\ninclude 'sandbox.conf'\n");
  writeFileSync(join(dataDir, 'pg_hba.conf'), PG_HBA);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    writeFileSync(join(dataDir, 'sandbox.conf'), settings(serverDir, port, overrides));
    own(join(dataDir, 'sandbox.conf'), user);
    let server: RunningPg | undefined;
    try {
      server = await boot(bins, serverDir, port, user, detach, log);
      await superQuery(server, `CREATE ROLE ${SANDBOX_USER} LOGIN SUPERUSER REPLICATION PASSWORD '${SANDBOX_PASSWORD}'`);
      await superQuery(server, `CREATE DATABASE ${SANDBOX_DATABASE} OWNER ${SANDBOX_USER}`);
      return server;
    } catch (err) {
      if (server) await stopProcess(server.proc.pid, serverDir, 'SIGINT', 10_000);
      if (attempt < 3 && /could not bind|address already in use/i.test(readSafe(join(serverDir, 'postgres.log')))) continue;
      throw err;
    }
  }
}

/**
 * pg_basebackup -R from the primary (or, where there is none, a file-level
 * base backup: pg-standby-copy.ts), then boot it on its own port and socket.
 */
async function startStandby(bins: PgBinaries, primary: RunningPg, serverDir: string, user: RunAs | undefined, detach: boolean, log: Logger): Promise<RunningPg> {
  mkdirSync(serverDir, { recursive: true });
  own(serverDir, user);
  const dataDir = join(serverDir, 'data');
  const basebackup = join(bins.binDir, 'pg_basebackup');
  if (existsSync(basebackup)) {
    await mustRun(
      'pg_basebackup',
      basebackup,
      ['-D', dataDir, '-R', '-X', 'stream', '-c', 'fast', '-h', '127.0.0.1', '-p', String(primary.port), '-U', SANDBOX_USER, '--no-sync'],
      { env: { ...process.env, PGPASSWORD: SANDBOX_PASSWORD }, ...(user ? { runAs: user } : {}) },
    );
  } else {
    const session = superClient(primary);
    await session.connect();
    try {
      await copyStandbyDataDir({ session, primaryDataDir: join(primary.serverDir, 'data'), standbyDataDir: dataDir, primaryPort: primary.port, user: SANDBOX_USER, password: SANDBOX_PASSWORD, runAs: user });
    } finally {
      await session.end().catch(() => undefined);
    }
  }
  const port = await freePort();
  writeFileSync(join(dataDir, 'sandbox.conf'), settings(serverDir, port, undefined));
  own(join(dataDir, 'sandbox.conf'), user);
  return boot(bins, serverDir, port, user, detach, log);
}

async function waitStreaming(primary: RunningPg, standby: RunningPg): Promise<void> {
  await waitUntil(
    `PostgreSQL standby in ${standby.serverDir} streaming from the primary`,
    async () => {
      const rows = await superQuery(primary, "SELECT 1 FROM pg_stat_replication WHERE state = 'streaming'");
      return rows.length > 0 ? true : undefined;
    },
    { proc: standby.proc, logFile: join(standby.serverDir, 'postgres.log'), timeoutMs: 30_000 },
  );
}

export async function startPostgres(opts: StartPostgresOptions): Promise<PostgresSandbox> {
  const log = opts.log ?? silentLogger;
  const bins = await findPgBinaries({ version: opts.pgVersion, binDir: opts.pgBin });
  const user = serverUser();
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  if (user) makeReachable(dir);
  const t0 = Date.now();
  const started: RunningPg[] = [];
  const stopAll = async () => {
    // Standby first: a primary's fast shutdown waits for its WAL senders.
    for (const s of [...started].reverse()) await stopProcess(s.proc.pid, s.serverDir, 'SIGINT', 30_000);
  };
  try {
    const primary = await startPrimary(bins, join(dir, 'primary'), user, opts.overrides, opts.detach ?? false, log);
    started.push(primary);
    let standby: RunningPg | undefined;
    if (opts.standby) {
      standby = await startStandby(bins, primary, join(dir, 'standby'), user, opts.detach ?? false, log);
      started.push(standby);
      await waitStreaming(primary, standby);
    }
    log.info({ ms: Date.now() - t0, port: primary.port, standbyPort: standby?.port }, 'postgres sandbox ready');
    return {
      version: bins.version,
      url: postgresUrl(primary.port),
      standbyUrl: standby ? postgresUrl(standby.port) : undefined,
      port: primary.port,
      standbyPort: standby?.port,
      pid: primary.proc.pid,
      standbyPid: standby?.proc.pid,
      dir,
      stop: stopAll,
      async restartPrimary(o = {}) {
        const current = started[0]!;
        await stopProcess(current.proc.pid, current.serverDir, o.immediate ? 'SIGQUIT' : 'SIGINT', 30_000);
        await new Promise((r) => setTimeout(r, o.downMs ?? 0));
        started[0] = await boot(bins, current.serverDir, current.port, user, opts.detach ?? false, log);
      },
    };
  } catch (err) {
    await stopAll();
    if (err instanceof GhostwrightError) throw err;
    throw new GhostwrightError('E_SANDBOX_START', `PostgreSQL sandbox failed to start: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
