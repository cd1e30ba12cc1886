/**
 * The throttler's inputs on PostgreSQL: session counts from
 * pg_stat_activity, the slot's retained WAL, physical standbys' lag from
 * pg_stat_replication (replicas.ts) and each --replica URL's lag by the
 * heartbeat row the primary writes into the changelog.
 */
import type pg from 'pg';
import { redactedUrl, type ConnectionSpec } from '../../connection.js';
import type { Logger } from '../../log.js';
import type { LoadMeasurement, LoadProbe, TableRef } from '../engine.js';
import { catalog, createPool } from './connect.js';
import { qualified } from './ident.js';
import { STANDBY_LAG_SQL, standbyLags, type StandbyRow } from './replicas.js';

export class PgLoadProbe implements LoadProbe {
  private replicaPools = new Map<string, pg.Pool>();
  private warnedHiddenStandbys = false;
  /** The run's connections are closed: nothing to measure or throttle any more. */
  private closed = false;

  constructor(
    private readonly o: {
      pool: pg.Pool;
      /** The run's slot (a resumed run goes on with the interrupted run's). */
      slot: () => string;
      changelog: TableRef;
      replicas: ConnectionSpec[];
      /** False with `--replica none`: pg_stat_replication is not read, no standby lag watched. */
      discoverReplicas: boolean;
      log: Logger;
    },
  ) {}

  async measure(loadNames: string[]): Promise<LoadMeasurement> {
    try {
      return await this.measureNow(loadNames);
    } catch (err) {
      // The run ended while a measurement was in flight: nothing to throttle any more.
      if (this.closed) return { load: {}, replicas: [] };
      throw err;
    }
  }

  /** The slot's retained WAL at the last measurement (null before one, or without the slot): the deferred-index watch reads it (migration.ts). */
  lastRetainedWalBytes: number | null = null;

  async heartbeat(): Promise<void> {
    if (this.closed) return;
    await this.o.pool.query(`INSERT INTO ${qualified(this.o.changelog)} (id, heartbeat) VALUES (1, clock_timestamp()) ON CONFLICT (id) DO UPDATE SET heartbeat = EXCLUDED.heartbeat, updated_at = clock_timestamp()`);
  }

  private async measureNow(loadNames: string[]): Promise<LoadMeasurement> {
    if (this.closed) return { load: {}, replicas: [] };
    const { pool } = this.o;
    const [load] = await catalog<Record<string, number>>(
      pool,
      // Names usable in --max-load / --critical-load on PostgreSQL.
      `SELECT count(*) FILTER (WHERE state = 'active' AND backend_type = 'client backend')::int AS active_sessions,
              count(*) FILTER (WHERE wait_event_type = 'Lock')::int AS waiting_sessions,
              count(*) FILTER (WHERE state LIKE 'idle in transaction%')::int AS idle_in_transaction,
              count(*) FILTER (WHERE backend_type = 'client backend')::int AS total_sessions,
              coalesce(extract(epoch FROM max(clock_timestamp() - xact_start) FILTER (WHERE backend_type = 'client backend')), 0)::float8 AS longest_transaction_seconds
         FROM pg_stat_activity`,
    );
    const [slot] = await catalog<{ b: number | null }>(pool, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 AS b FROM pg_replication_slots WHERE slot_name = $1`, [this.o.slot()]);
    // Physical standbys from pg_stat_replication (see replicas.ts), plus each
    // --replica URL by heartbeat, as before.
    const standbys = this.o.discoverReplicas ? standbyLags(await catalog<StandbyRow>(pool, STANDBY_LAG_SQL)) : { replicas: [], hidden: 0 };
    if (standbys.hidden && !this.warnedHiddenStandbys) {
      this.warnedHiddenStandbys = true;
      this.o.log.warn({ hidden: standbys.hidden }, 'cannot see standby replication details: their lag is not checked; GRANT pg_monitor TO the migration user, or name them with --replica');
    }
    const replicas: LoadMeasurement['replicas'] = [...standbys.replicas];
    for (const r of this.o.replicas) replicas.push({ name: redactedUrl(r), lagMs: await this.replicaLag(r) });
    const all = load ?? {};
    const picked = loadNames.length ? Object.fromEntries(Object.entries(all).filter(([k]) => loadNames.includes(k))) : all;
    const out: LoadMeasurement = { load: picked, replicas };
    this.lastRetainedWalBytes = slot?.b ?? null;
    if (slot?.b != null) out.retainedWalBytes = slot.b;
    return out;
  }

  /** Replica lag from the heartbeat row the primary writes into the changelog (sub-second resolution). */
  private async replicaLag(spec: ConnectionSpec): Promise<number | null> {
    const key = redactedUrl(spec);
    let pool = this.replicaPools.get(key);
    if (!pool) {
      pool = createPool(spec, 1, { connectionTimeoutMillis: 2000 });
      this.replicaPools.set(key, pool);
    }
    try {
      const [r] = await catalog<{ lag: number | null }>(pool, `SELECT (extract(epoch FROM clock_timestamp() - heartbeat) * 1000)::float8 AS lag FROM ${qualified(this.o.changelog)} WHERE id = 1`);
      return r?.lag ?? null;
    } catch {
      return null;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.replicaPools.values()) await p.end().catch(() => undefined);
    this.replicaPools.clear();
  }
}
