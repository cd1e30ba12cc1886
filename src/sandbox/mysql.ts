/**
 * A MariaDB (or MySQL) primary, optionally with a GTID replica, started from
 * the binaries on this machine in its own directory on free loopback ports,
 * configured the way ghostwright needs it: row-based binlog with full row
 * images and full metadata, GTIDs, and fast-but-unsafe durability settings
 * (this is throwaway test data).
 */
import { mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import mysql from 'mysql2/promise';
import { GhostwrightError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { freePort } from './ports.js';
import { findBinary, mustRun, requireBinary, spawnServer, stopProcess, waitUntil, BIN_DIRS, runCommand, type ServerProcess } from './process.js';
import { applyOverrides, baseSettings, initSql, isRoot, SANDBOX_DATABASE, SANDBOX_PASSWORD, SANDBOX_USER, toArgs, type MysqlFlavor, type ServerOverrides } from './mysql-settings.js';
import { attachReplica, type StartedServer } from './mysql-replica.js';

export { SANDBOX_DATABASE, SANDBOX_PASSWORD, SANDBOX_USER, type MysqlFlavor, type ServerOverrides } from './mysql-settings.js';

export interface StartMysqlOptions {
  /** Directory that will hold the datadirs, sockets and logs (created if missing). */
  dir: string;
  /** Also start a replica (server-id 2) replicating from the primary with GTIDs. */
  replica?: boolean;
  /** Replace or add server settings, e.g. `{ binlog_format: 'STATEMENT' }`. Applied to the primary only. */
  overrides?: ServerOverrides;
  log?: Logger;
  /** Let the servers outlive this process (CLI `sandbox start`). Default: they die with it. */
  detach?: boolean;
}

export interface MysqlSandbox {
  flavor: MysqlFlavor;
  url: string;
  replicaUrl: string | undefined;
  port: number;
  replicaPort: number | undefined;
  pid: number;
  replicaPid: number | undefined;
  dir: string;
  stop(): Promise<void>;
  /**
   * Stops the primary (SIGTERM: a clean shutdown; SIGKILL: a crash) and
   * starts it again on the same port and data; `downMs` keeps it down that
   * long first. For tests of a server restart under a running migration.
   */
  restartPrimary(o?: { signal?: 'SIGTERM' | 'SIGKILL'; downMs?: number }): Promise<void>;
}

interface Binaries {
  flavor: MysqlFlavor;
  server: string;
  installDb: string | undefined;
}

function findMysqlBinaries(): Binaries {
  const dirs = [...BIN_DIRS];
  const mariadbd = findBinary(['mariadbd'], dirs);
  if (mariadbd) return { flavor: 'mariadb', server: mariadbd, installDb: findBinary(['mariadb-install-db', 'mysql_install_db'], dirs) };
  const server = requireBinary(['mysqld'], 'mariadb-server', dirs);
  // Debian's mysqld is a symlink to mariadbd on MariaDB installs; otherwise it is MySQL.
  const installDb = findBinary(['mariadb-install-db', 'mysql_install_db'], dirs);
  return { flavor: installDb ? 'mariadb' : 'mysql', server, installDb };
}

/** Refines the flavor from `--version` (a MariaDB mysqld says so). */
async function detectFlavor(bins: Binaries): Promise<Binaries> {
  const res = await runCommand(bins.server, ['--no-defaults', '--version']);
  const flavor: MysqlFlavor = /mariadb/i.test(res.output) ? 'mariadb' : 'mysql';
  return { ...bins, flavor };
}

export function mysqlUrl(port: number, database = SANDBOX_DATABASE): string {
  return `mysql://${SANDBOX_USER}:${SANDBOX_PASSWORD}@127.0.0.1:${port}/${database}`;
}


interface RunningServer extends StartedServer {
  /** Starts the same server again (same settings, port and data), once it has stopped. */
  respawn(): Promise<ServerProcess>;
}

async function initDatadir(bins: Binaries, serverDir: string): Promise<void> {
  const datadir = join(serverDir, 'data');
  const tmp = join(serverDir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const user = isRoot() ? ['--user=root'] : [];
  const [what, file, args] =
    bins.flavor === 'mariadb' && bins.installDb
      ? ['mariadb-install-db', bins.installDb, ['--no-defaults', '--auth-root-authentication-method=normal', '--skip-test-db', `--datadir=${datadir}`, `--tmpdir=${tmp}`, ...user]]
      : ['mysqld --initialize-insecure', bins.server, ['--no-defaults', '--initialize-insecure', `--datadir=${datadir}`, `--tmpdir=${tmp}`, ...user]];
  for (let attempt = 1; ; attempt++) {
    try {
      await mustRun(what, file, args);
      return;
    } catch (err) {
      if (attempt >= 2) throw err;
      rmSync(datadir, { recursive: true, force: true });
    }
  }
}

/**
 * `report`: the server is a replica that tells its primary where it listens
 * (report_host/report_port), so SHOW SLAVE HOSTS / SHOW REPLICAS on the
 * primary lists it and replica discovery can find it.
 */
async function startServer(bins: Binaries, serverDir: string, serverId: number, overrides: ServerOverrides | undefined, detach: boolean, log: Logger, report = false): Promise<RunningServer> {
  mkdirSync(serverDir, { recursive: true });
  writeFileSync(join(serverDir, 'init.sql'), initSql());
  await initDatadir(bins, serverDir);
  const socket = join(serverDir, 'mysql.sock');
  if (Buffer.byteLength(socket) > 100) {
    throw new GhostwrightError('E_SANDBOX_START', `socket path too long for a unix socket (${socket})`, { hint: 'use a shorter --dir' });
  }
  // The port can be taken between our probe and the server's bind: retry with another.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const settings = baseSettings(bins.flavor, serverDir, port, serverId);
    if (report) {
      settings.set('report-host', '127.0.0.1');
      settings.set('report-port', String(port));
    }
    applyOverrides(settings, overrides);
    const logFile = join(serverDir, 'error.log');
    const spawnIt = async (): Promise<ServerProcess> => {
      const proc = spawnServer(bins.server, toArgs(settings), { logFile: join(serverDir, 'stdout.log'), marker: serverDir, signal: 'TERM', detach });
      log.debug({ pid: proc.pid, port, serverDir }, 'mysql sandbox: server spawned');
      try {
        await waitUntil(
          `MySQL sandbox server in ${serverDir}`,
          async () => {
            const conn = await mysql.createConnection({ socketPath: socket, user: 'root', connectTimeout: 2000 });
            await conn.end();
            return true;
          },
          { proc, logFile, timeoutMs: 60_000, intervalMs: 50 },
        );
      } catch (err) {
        (err as { proc?: ServerProcess }).proc = proc;
        throw err;
      }
      return proc;
    };
    try {
      const proc = await spawnIt();
      return { proc, respawn: spawnIt, port, serverDir, socket };
    } catch (err) {
      const proc = (err as { proc?: ServerProcess }).proc;
      if (proc) await stopProcess(proc.pid, serverDir, 'SIGKILL', 5000);
      const text = readFileSafe(logFile);
      if (attempt < 3 && /address already in use|Can't start server: Bind/i.test(text)) continue;
      throw err;
    }
  }
}

function readFileSafe(f: string): string {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return '';
  }
}


export async function startMysql(opts: StartMysqlOptions): Promise<MysqlSandbox> {
  const log = opts.log ?? silentLogger;
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  let bins = findMysqlBinaries();
  bins = await detectFlavor(bins);
  const t0 = Date.now();
  // Primary and replica initialise and boot in parallel; only the attach waits for both.
  const primaryP = startServer(bins, join(dir, 'primary'), 1, opts.overrides, opts.detach ?? false, log);
  const replicaP = opts.replica ? startServer(bins, join(dir, 'replica'), 2, undefined, opts.detach ?? false, log, true) : Promise.resolve(undefined);
  const settled = await Promise.allSettled([primaryP, replicaP]);
  const started = settled.flatMap((s) => (s.status === 'fulfilled' && s.value ? [s.value] : []));
  const stopAll = async () => {
    // Replica first, so it doesn't spin reconnecting to a primary that is gone.
    for (const s of [...started].reverse()) await stopProcess(s.proc.pid, s.serverDir, 'SIGTERM', 30_000);
  };
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await stopAll();
    throw failed.reason;
  }
  const primary = started[0] as RunningServer;
  const replica = opts.replica ? started[1] : undefined;
  if (replica) {
    try {
      await attachReplica(bins.flavor, primary, replica);
    } catch (err) {
      await stopAll();
      throw err;
    }
  }
  log.info({ ms: Date.now() - t0, port: primary.port, replicaPort: replica?.port }, 'mysql sandbox ready');
  const sandbox: MysqlSandbox = {
    flavor: bins.flavor,
    url: mysqlUrl(primary.port),
    replicaUrl: replica ? mysqlUrl(replica.port) : undefined,
    port: primary.port,
    replicaPort: replica?.port,
    pid: primary.proc.pid,
    replicaPid: replica?.proc.pid,
    dir,
    stop: stopAll,
    async restartPrimary(o = {}) {
      await stopProcess(primary.proc.pid, primary.serverDir, o.signal ?? 'SIGTERM', 30_000);
      if (o.downMs) await new Promise((r) => setTimeout(r, o.downMs));
      primary.proc = await primary.respawn();
      sandbox.pid = primary.proc.pid;
    },
  };
  return sandbox;
}
