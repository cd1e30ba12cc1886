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

export const SANDBOX_USER = 'ghostwright';
export const SANDBOX_PASSWORD = 'ghostwright';
export const SANDBOX_DATABASE = 'ghostwright_test';

export type MysqlFlavor = 'mariadb' | 'mysql';

/** Server settings by name (`binlog_format` or `binlog-format`); `null` removes one of ours. */
export type ServerOverrides = Record<string, string | null>;

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

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** Settings shared by primary and replica, as `name -> value` (value '' = bare flag). */
function baseSettings(flavor: MysqlFlavor, serverDir: string, port: number, serverId: number): Map<string, string> {
  const s = new Map<string, string>([
    ['datadir', join(serverDir, 'data')],
    ['socket', join(serverDir, 'mysql.sock')],
    ['pid-file', join(serverDir, 'mysqld.pid')],
    ['log-error', join(serverDir, 'error.log')],
    ['port', String(port)],
    ['bind-address', '127.0.0.1'],
    ['skip-name-resolve', ''],
    ['server-id', String(serverId)],
    ['log-bin', join(serverDir, 'data', 'binlog')],
    ['relay-log', join(serverDir, 'data', 'relay')],
    ['binlog-format', 'ROW'],
    ['binlog-row-image', 'FULL'],
    ['binlog-row-metadata', 'FULL'],
    ['log-slave-updates', 'ON'],
    ['character-set-server', 'utf8mb4'],
    ['collation-server', flavor === 'mariadb' ? 'utf8mb4_general_ci' : 'utf8mb4_0900_ai_ci'],
    ['default-time-zone', '+00:00'],
    ['max-connections', '500'],
    // Throwaway data: trade durability for speed.
    ['innodb-buffer-pool-size', '256M'],
    ['innodb-log-file-size', '96M'],
    ['innodb-flush-log-at-trx-commit', '2'],
    ['innodb-doublewrite', '0'],
    ['sync-binlog', '0'],
    ['init-file', join(serverDir, 'init.sql')],
    // Private temp dir: MariaDB names temp-table files by a counter, not the pid,
    // so servers sharing /tmp (parallel bootstraps) collide on them.
    ['tmpdir', join(serverDir, 'tmp')],
  ]);
  if (flavor === 'mariadb') {
    s.set('gtid-strict-mode', 'ON');
    s.set('gtid-domain-id', '0');
  } else {
    s.set('gtid-mode', 'ON');
    s.set('enforce-gtid-consistency', 'ON');
    s.set('mysqlx', 'OFF');
    // innodb_log_file_size is deprecated since 8.0.30 (redo capacity instead);
    // log_replica_updates is ON by default and its old name is deprecated.
    s.delete('innodb-log-file-size');
    s.delete('log-slave-updates');
  }
  if (isRoot()) s.set('user', 'root');
  return s;
}

function applyOverrides(s: Map<string, string>, overrides: ServerOverrides | undefined): void {
  for (const [rawKey, value] of Object.entries(overrides ?? {})) {
    const key = rawKey.replace(/_/g, '-');
    if (value === null) s.delete(key);
    else if (key === 'log-bin' && /^(off|0|false)$/i.test(value)) {
      s.delete('log-bin');
      s.set('skip-log-bin', '');
    } else s.set(key, value);
  }
}

function toArgs(s: Map<string, string>): string[] {
  return ['--no-defaults', ...[...s].map(([k, v]) => (v === '' ? `--${k}` : `--${k}=${v}`))];
}

/**
 * Runs at every start-up, before the server accepts connections. Not binlogged,
 * so a replica's own copy of these statements never collides with the stream.
 */
function initSql(): string {
  const u = SANDBOX_USER;
  const p = SANDBOX_PASSWORD;
  return [
    'SET sql_log_bin = 0;',
    `CREATE USER IF NOT EXISTS '${u}'@'%' IDENTIFIED BY '${p}';`,
    `CREATE USER IF NOT EXISTS '${u}'@'localhost' IDENTIFIED BY '${p}';`,
    `GRANT ALL PRIVILEGES ON *.* TO '${u}'@'%' WITH GRANT OPTION;`,
    `GRANT ALL PRIVILEGES ON *.* TO '${u}'@'localhost' WITH GRANT OPTION;`,
    `CREATE DATABASE IF NOT EXISTS \`${SANDBOX_DATABASE}\`;`,
    '',
  ].join('\n');
}

interface RunningServer {
  proc: ServerProcess;
  /** Starts the same server again (same settings, port and data), once it has stopped. */
  respawn(): Promise<ServerProcess>;
  port: number;
  serverDir: string;
  socket: string;
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

async function rootQuery<T = unknown>(socket: string, sql: string, params: unknown[] = []): Promise<T> {
  const conn = await mysql.createConnection({ socketPath: socket, user: 'root' });
  try {
    const [rows] = await conn.query(sql, params);
    return rows as T;
  } finally {
    await conn.end();
  }
}

/** Attaches `replica` to `primary` with GTID auto-positioning and waits until a write on the primary arrives. */
async function attachReplica(flavor: MysqlFlavor, primary: RunningServer, replica: RunningServer): Promise<void> {
  if (flavor === 'mariadb') {
    await rootQuery(
      replica.socket,
      `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=?, MASTER_USER=?, MASTER_PASSWORD=?, MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1`,
      [primary.port, SANDBOX_USER, SANDBOX_PASSWORD],
    );
    await rootQuery(replica.socket, 'START SLAVE');
  } else {
    await rootQuery(
      replica.socket,
      `CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT=?, SOURCE_USER=?, SOURCE_PASSWORD=?, SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1, SOURCE_CONNECT_RETRY=1`,
      [primary.port, SANDBOX_USER, SANDBOX_PASSWORD],
    );
    await rootQuery(replica.socket, 'START REPLICA');
  }
  // Prove the stream end to end: a binlogged no-op on the primary, waited for on the replica.
  await rootQuery(primary.socket, 'CREATE DATABASE IF NOT EXISTS `_ghostwright_sandbox_probe`');
  await rootQuery(primary.socket, 'DROP DATABASE IF EXISTS `_ghostwright_sandbox_probe`');
  const logFile = join(replica.serverDir, 'error.log');
  if (flavor === 'mariadb') {
    const [row] = await rootQuery<Array<{ pos: string }>>(primary.socket, 'SELECT @@GLOBAL.gtid_binlog_pos AS pos');
    const pos = row?.pos ?? '';
    await waitUntil(
      `MariaDB replica in ${replica.serverDir} catching up to ${pos}`,
      async () => {
        const [r] = await rootQuery<Array<{ w: number | null }>>(replica.socket, 'SELECT MASTER_GTID_WAIT(?, 1) AS w', [pos]);
        return r?.w === 0 ? true : undefined;
      },
      { proc: replica.proc, logFile, timeoutMs: 30_000 },
    );
  } else {
    const [row] = await rootQuery<Array<{ pos: string }>>(primary.socket, 'SELECT @@GLOBAL.gtid_executed AS pos');
    const pos = row?.pos ?? '';
    await waitUntil(
      `MySQL replica in ${replica.serverDir} catching up to ${pos}`,
      async () => {
        const [r] = await rootQuery<Array<{ w: number | null }>>(replica.socket, 'SELECT WAIT_FOR_EXECUTED_GTID_SET(?, 1) AS w', [pos]);
        return r?.w === 0 ? true : undefined;
      },
      { proc: replica.proc, logFile, timeoutMs: 30_000 },
    );
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
