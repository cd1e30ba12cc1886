/**
 * Replica lag for the throttler, MySQL/MariaDB.
 *
 * Which replicas count (gh-ost's --throttle-control-replicas semantics):
 * - replicas given with `--replica URL` are exactly the list: no discovery.
 *   One that can't be read reports lagMs null, and the throttler holds the
 *   copy (the safe side: the DBA named it, the DBA can fix it).
 * - with none given, the primary is asked once which replicas are attached
 *   (`SHOW SLAVE HOSTS`, `SHOW REPLICAS` on MySQL 8.4, which removed the old
 *   spelling). Only replicas started with `report_host` (and `report_port`)
 *   say where they listen; the others can't be found this way and are
 *   skipped. Each is reached with the primary's user and password at the
 *   reported host:port and named `discovered:host:port`. One level only: a
 *   replica of a replica is not followed.
 *
 * A discovered replica that refuses the connection (down, firewalled, the
 * user not allowed from here) is left out for the rest of the run, with one
 * warning: a DBA can't fix an auto-discovered replica mid-run, and holding
 * the copy forever for it would stall the migration with no way out but
 * naming replicas explicitly. A discovered replica that answers but can't
 * show our heartbeat yet (the changelog table not replayed) IS lagging and
 * reports null, like an explicit one.
 *
 * Lag = the replica's clock minus the newest heartbeat row it has applied
 * (written every ~100 ms by the primary with its UTC clock): sub-second and
 * independent of Seconds_Behind_Master; assumes the clocks agree (NTP).
 */
import type { Pool, PoolConnection } from 'mysql2/promise';
import { atAddress, type ConnectionSpec } from '../../connection.js';
import type { Logger } from '../../log.js';
import type { LoadMeasurement, TableRef } from '../engine.js';
import { createPool, queryRows, type Queryable, type Row } from './connect.js';
import { buildHeartbeatLag } from './sql.js';

/** A discovered replica gets this long to accept a connection (measure() itself times out at 2 s). */
const DISCOVERED_CONNECT_TIMEOUT_MS = 1000;

export interface ReplicaHost {
  host: string;
  port: number;
}

/**
 * Replicas that reported where they listen, from the rows of SHOW SLAVE HOSTS
 * (MariaDB, MySQL < 8.4) or SHOW REPLICAS (MySQL 8.0.22+): both have `Host`
 * and `Port`. An empty Host means the replica set no report_host. Port 0
 * means no report_port: MariaDB then means the default port. The primary
 * itself is dropped if it somehow appears.
 */
export function parseReplicaHosts(rows: readonly Row[], primary: ReplicaHost): ReplicaHost[] {
  const out: ReplicaHost[] = [];
  for (const r of rows) {
    const host = String(r.Host ?? '').trim();
    if (!host) continue;
    const port = Number(r.Port) || 3306;
    if (host === primary.host && port === primary.port) continue;
    if (out.some((o) => o.host === host && o.port === port)) continue;
    out.push({ host, port });
  }
  return out;
}

/** SHOW SLAVE HOSTS, or SHOW REPLICAS where the server removed the old spelling (MySQL 8.4). */
export async function listReplicaHosts(conn: Queryable): Promise<Row[]> {
  try {
    return await queryRows(conn, 'SHOW SLAVE HOSTS');
  } catch (err) {
    if ((err as { code?: string }).code !== 'ER_PARSE_ERROR') throw err;
    return queryRows(conn, 'SHOW REPLICAS');
  }
}

interface Target {
  name: string;
  spec: ConnectionSpec;
  discovered: boolean;
  pool: Pool | null;
  /** Discovered and refused a connection: not measured any more. */
  dropped: boolean;
}

export interface ReplicaLagOptions {
  primary: ConnectionSpec;
  /** The primary's pool (for the discovery query). */
  pool: Pool;
  explicit: readonly ConnectionSpec[];
  /** Ask the primary for its replicas when none are explicit (false: `--replica none`). */
  discover: boolean;
  changelog: TableRef;
  log: Logger;
}

export class ReplicaLagMonitor {
  private targets: Promise<Target[]> | null = null;
  private closed = false;

  constructor(private readonly opts: ReplicaLagOptions) {}

  /** One entry per replica that counts; discovery runs on the first call. */
  async measure(): Promise<LoadMeasurement['replicas']> {
    if (this.closed) return [];
    this.targets ??= this.resolveTargets();
    const targets = (await this.targets).filter((t) => !t.dropped);
    const lags = await Promise.all(targets.map((t) => this.lag(t)));
    const out: LoadMeasurement['replicas'] = [];
    targets.forEach((t, i) => {
      const lag = lags[i];
      if (lag !== undefined && !t.dropped) out.push({ name: t.name, lagMs: lag });
    });
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    const targets = this.targets ? await this.targets.catch(() => [] as Target[]) : [];
    for (const t of targets) await t.pool?.end().catch(() => undefined);
  }

  private async resolveTargets(): Promise<Target[]> {
    const { explicit, primary, log } = this.opts;
    if (explicit.length) return explicit.map((spec) => ({ name: `${spec.host}:${spec.port}`, spec, discovered: false, pool: null, dropped: false }));
    if (!this.opts.discover) {
      log.info('replica discovery is off (--replica none): no replica lag is watched');
      return [];
    }
    let rows: Row[];
    try {
      rows = await listReplicaHosts(this.opts.pool);
    } catch (err) {
      // MariaDB 10.5+ wants REPLICATION MASTER ADMIN, MySQL REPLICATION SLAVE.
      log.warn({ err }, 'cannot list replicas (SHOW SLAVE HOSTS / SHOW REPLICAS failed): replica lag is not checked; grant the privilege or name replicas with --replica');
      return [];
    }
    const hosts = parseReplicaHosts(rows, { host: primary.host, port: primary.port });
    if (hosts.length) log.info({ replicas: hosts.map((h) => `${h.host}:${h.port}`) }, 'replicas discovered; their lag throttles the copy');
    else if (rows.length) log.warn({ replicas: rows.length }, 'replicas are attached but none reports its address (report_host); their lag is not checked: name them with --replica');
    return hosts.map((h) => ({ name: `discovered:${h.host}:${h.port}`, spec: atAddress(primary, h.host, h.port), discovered: true, pool: null, dropped: false }));
  }

  private poolFor(t: Target): Pool {
    if (!t.pool) {
      // A discovered replica is reached without a default database: our
      // queries name the schema, and a replica that hasn't replayed CREATE
      // DATABASE yet is lagging (null), not unreachable.
      t.pool = t.discovered ? createPool(t.spec, 1, [], { connectTimeout: DISCOVERED_CONNECT_TIMEOUT_MS, database: undefined }) : createPool(t.spec, 1);
    }
    return t.pool;
  }

  /** Milliseconds, null when not readable, undefined when a discovered replica was just dropped. */
  private async lag(t: Target): Promise<number | null | undefined> {
    if (this.closed) return undefined;
    let conn: PoolConnection;
    try {
      conn = await this.poolFor(t).getConnection();
    } catch (err) {
      if (this.closed) return undefined; // the run is ending: not the replica's fault
      if (!t.discovered) return null;
      t.dropped = true;
      this.opts.log.warn({ err, replica: t.name }, 'discovered replica refuses connections: its lag is NOT checked for the rest of this run (name replicas with --replica to make an unreachable one throttle)');
      const pool = t.pool;
      t.pool = null;
      await pool?.end().catch(() => undefined);
      return undefined;
    }
    try {
      const q = buildHeartbeatLag(this.opts.changelog);
      const rows = await queryRows(conn, q.sql, q.params);
      const us = rows[0]?.lag_us;
      return us === undefined || us === null ? null : Math.max(0, Number(us) / 1000);
    } catch {
      return null;
    } finally {
      conn.release();
    }
  }
}
