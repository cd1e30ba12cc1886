/**
 * The throttler's inputs on MySQL/MariaDB (the LoadProbe): status counters
 * named in --max-load (SHOW GLOBAL STATUS), and each replica's lag by the
 * heartbeat row the primary writes into the changelog (replicas.ts).
 */
import type { Pool } from 'mysql2/promise';
import type { ConnectionSpec } from '../../connection.js';
import type { Logger } from '../../log.js';
import type { LoadMeasurement, LoadProbe, TableRef } from '../engine.js';
import { queryExec, queryRows } from './connect.js';
import { ReplicaLagMonitor } from './replicas.js';
import { buildChangelogWrite } from './sql.js';

export class MysqlLoadProbe implements LoadProbe {
  /** Explicit --replica list, or the replicas the primary knows of (see replicas.ts). */
  private readonly replicas: ReplicaLagMonitor;

  constructor(private readonly o: { primary: ConnectionSpec; pool: Pool; changelog: TableRef; replicas: ConnectionSpec[]; discoverReplicas: boolean; log: Logger }) {
    this.replicas = new ReplicaLagMonitor({ primary: o.primary, pool: o.pool, explicit: o.replicas, discover: o.discoverReplicas, changelog: o.changelog, log: o.log });
  }

  async measure(loadNames: string[]): Promise<LoadMeasurement> {
    const load: Record<string, number> = {};
    if (loadNames.length) {
      const rows = await queryRows(this.o.pool, `SHOW GLOBAL STATUS WHERE Variable_name IN (${loadNames.map(() => '?').join(', ')})`, loadNames);
      for (const r of rows) load[String(r.Variable_name)] = Number(r.Value);
    }
    return { load, replicas: await this.replicas.measure() };
  }

  async heartbeat(): Promise<void> {
    const q = buildChangelogWrite(this.o.changelog, 'heartbeat', new Date().toISOString());
    await queryExec(this.o.pool, q.sql, q.params);
  }

  close(): Promise<void> {
    return this.replicas.close();
  }
}
