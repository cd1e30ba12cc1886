/**
 * The MySQL/MariaDB sandbox servers' settings: what ghostwright needs (row
 * binlog with full images and metadata, GTIDs) plus fast-but-unsafe
 * durability for throwaway data, and the start-up SQL creating our user.
 */
import { join } from 'node:path';

export const SANDBOX_USER = 'ghostwright';
export const SANDBOX_PASSWORD = 'ghostwright';
export const SANDBOX_DATABASE = 'ghostwright_test';

export type MysqlFlavor = 'mariadb' | 'mysql';

/** Server settings by name (`binlog_format` or `binlog-format`); `null` removes one of ours. */
export type ServerOverrides = Record<string, string | null>;

export const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** Settings shared by primary and replica, as `name -> value` (value '' = bare flag). */
export function baseSettings(flavor: MysqlFlavor, serverDir: string, port: number, serverId: number): Map<string, string> {
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

export function applyOverrides(s: Map<string, string>, overrides: ServerOverrides | undefined): void {
  for (const [rawKey, value] of Object.entries(overrides ?? {})) {
    const key = rawKey.replace(/_/g, '-');
    if (value === null) s.delete(key);
    else if (key === 'log-bin' && /^(off|0|false)$/i.test(value)) {
      s.delete('log-bin');
      s.set('skip-log-bin', '');
    } else s.set(key, value);
  }
}

export function toArgs(s: Map<string, string>): string[] {
  return ['--no-defaults', ...[...s].map(([k, v]) => (v === '' ? `--${k}` : `--${k}=${v}`))];
}

/**
 * Runs at every start-up, before the server accepts connections. Not binlogged,
 * so a replica's own copy of these statements never collides with the stream.
 */
export function initSql(): string {
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
