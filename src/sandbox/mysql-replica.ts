/**
 * Attaching the sandbox's replica to its primary: GTID auto-positioning (the
 * statement differs between MariaDB and MySQL), then a binlogged no-op on the
 * primary waited for on the replica, which proves the stream end to end.
 */
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { waitUntil, type ServerProcess } from './process.js';
import { SANDBOX_PASSWORD, SANDBOX_USER, type MysqlFlavor } from './mysql-settings.js';

/** What the attach needs of a started server. */
export interface StartedServer {
  proc: ServerProcess;
  port: number;
  serverDir: string;
  socket: string;
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
export async function attachReplica(flavor: MysqlFlavor, primary: StartedServer, replica: StartedServer): Promise<void> {
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
  const [name, positionSql, waitSql] =
    flavor === 'mariadb'
      ? ['MariaDB', 'SELECT @@GLOBAL.gtid_binlog_pos AS pos', 'SELECT MASTER_GTID_WAIT(?, 1) AS w']
      : ['MySQL', 'SELECT @@GLOBAL.gtid_executed AS pos', 'SELECT WAIT_FOR_EXECUTED_GTID_SET(?, 1) AS w'];
  const [row] = await rootQuery<Array<{ pos: string }>>(primary.socket, positionSql);
  const pos = row?.pos ?? '';
  await waitUntil(
    `${name} replica in ${replica.serverDir} catching up to ${pos}`,
    async () => {
      const [r] = await rootQuery<Array<{ w: number | null }>>(replica.socket, waitSql, [pos]);
      return r?.w === 0 ? true : undefined;
    },
    { proc: replica.proc, logFile: join(replica.serverDir, 'error.log'), timeoutMs: 30_000 },
  );
}
