/**
 * Which replicas count for the throttler: MySQL discovery (SHOW SLAVE HOSTS
 * rows, unreachable discovered replicas left out with one warning) and
 * PostgreSQL physical standbys from pg_stat_replication.
 */
import { describe, expect, it } from 'vitest';
import type { Pool } from 'mysql2/promise';
import { parseConnectionUrl } from '../../src/connection.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { parseReplicaHosts, ReplicaLagMonitor } from '../../src/engine/mysql/replicas.js';
import { STANDBY_LAG_SQL, standbyLags, type StandbyRow } from '../../src/engine/postgres/replicas.js';

describe('mysql parseReplicaHosts', () => {
  const primary = { host: '10.0.0.1', port: 3306 };
  it('keeps replicas that report an address, with the default port when none is reported', () => {
    const rows = [
      { Server_id: 2, Host: '10.0.0.2', Port: 3307, Master_id: 1 },
      { Server_id: 3, Host: '', Port: 3306, Master_id: 1 }, // no report_host: can't be reached
      { Server_id: 4, Host: 'db4.internal', Port: 0, Master_id: 1 },
      { Server_id: 5, Host: '10.0.0.2', Port: 3307, Master_id: 1 }, // listed twice
      { Server_id: 1, Host: '10.0.0.1', Port: 3306, Master_id: 1 }, // the primary itself
    ];
    expect(parseReplicaHosts(rows, primary)).toEqual([
      { host: '10.0.0.2', port: 3307 },
      { host: 'db4.internal', port: 3306 },
    ]);
  });
  it('reads MySQL 8.4 SHOW REPLICAS rows (same Host/Port columns)', () => {
    expect(parseReplicaHosts([{ Server_Id: 7, Host: 'r7', Port: 3310, Source_Id: 1, Replica_UUID: 'x' }], primary)).toEqual([{ host: 'r7', port: 3310 }]);
  });
});

describe('mysql ReplicaLagMonitor discovery', () => {
  function fakePool(rows: Record<string, unknown>[], calls: string[]): Pool {
    return { query: async (sql: string) => (calls.push(sql), [rows, []]) } as unknown as Pool;
  }
  function recordingLog(): { log: Logger; warnings: string[] } {
    const warnings: string[] = [];
    const log = Object.create(silentLogger) as Logger;
    log.warn = ((_o: unknown, msg?: string) => void warnings.push(String(msg))) as Logger['warn'];
    log.info = (() => undefined) as Logger['info'];
    return { log, warnings };
  }
  const primary = parseConnectionUrl('mysql://u:secret@127.0.0.1:3306/db');
  const changelog = { schema: 'db', name: '_t_ghc' };

  it('leaves out a discovered replica that refuses connections, warning once', async () => {
    const calls: string[] = [];
    const { log, warnings } = recordingLog();
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const m = new ReplicaLagMonitor({ primary, pool: fakePool([{ Server_id: 2, Host: '127.0.0.1', Port: 1 }], calls), explicit: [], discover: true, changelog, log });
    try {
      expect(await m.measure()).toEqual([]);
      expect(await m.measure()).toEqual([]);
      expect(calls).toEqual(['SHOW SLAVE HOSTS']); // discovered once
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/discovered replica refuses connections/);
    } finally {
      await m.close();
    }
  });

  it('an explicit --replica disables discovery, and an unreachable one reports null (throttles)', async () => {
    const calls: string[] = [];
    const { log, warnings } = recordingLog();
    const explicit = [parseConnectionUrl('mysql://u:secret@127.0.0.1:1/db')];
    const m = new ReplicaLagMonitor({ primary, pool: fakePool([{ Server_id: 2, Host: '127.0.0.1', Port: 2 }], calls), explicit, discover: true, changelog, log });
    try {
      expect(await m.measure()).toEqual([{ name: '127.0.0.1:1', lagMs: null }]);
      expect(await m.measure()).toEqual([{ name: '127.0.0.1:1', lagMs: null }]);
      expect(calls).toEqual([]);
      expect(warnings).toEqual([]);
    } finally {
      await m.close();
    }
  });

  it('--replica none (discovery off) asks the primary nothing and watches no replica', async () => {
    const calls: string[] = [];
    const pool = fakePool([{ Server_id: 2, Host: '127.0.0.1', Port: 2 }], calls);
    const m = new ReplicaLagMonitor({ primary, pool, explicit: [], discover: false, changelog, log: silentLogger });
    try {
      expect(await m.measure()).toEqual([]);
      expect(calls).toEqual([]);
    } finally {
      await m.close();
    }
  });
});

describe('postgres standbyLags', () => {
  const row = (over: Partial<StandbyRow>): StandbyRow => ({ pid: 100, name: 'walreceiver', addr: '10.0.0.5', state: 'streaming', lag: 12.5, caught_up: false, no_replay: false, ...over });

  it('replay_lag in ms; an idle caught-up standby (NULL lag) is 0; NULL while behind is unknown', () => {
    expect(standbyLags([row({})]).replicas).toEqual([{ name: 'standby:walreceiver', lagMs: 12.5 }]);
    expect(standbyLags([row({ lag: null, caught_up: true })]).replicas).toEqual([{ name: 'standby:walreceiver', lagMs: 0 }]);
    expect(standbyLags([row({ lag: null, caught_up: false })]).replicas).toEqual([{ name: 'standby:walreceiver', lagMs: null }]);
  });

  it('names by application_name, else client address; duplicates get the pid', () => {
    const out = standbyLags([row({ pid: 1, name: '' }), row({ pid: 2, name: 'replica_a' }), row({ pid: 3, name: 'replica_a', lag: 40 })]);
    expect(out.replicas).toEqual([
      { name: 'standby:10.0.0.5', lagMs: 12.5 },
      { name: 'standby:replica_a#2', lagMs: 12.5 },
      { name: 'standby:replica_a#3', lagMs: 40 },
    ]);
  });

  it('leaves out receivers that never replay, and counts walsenders hidden by missing privileges', () => {
    const out = standbyLags([row({ pid: 1, no_replay: true, name: 'pg_receivewal' }), row({ pid: 2, state: null, name: null, addr: null, lag: null }), row({ pid: 3 })]);
    expect(out).toEqual({ replicas: [{ name: 'standby:walreceiver', lagMs: 12.5 }], hidden: 1 });
  });

  it('the query leaves out walsenders of logical slots (our own stream among them)', () => {
    expect(STANDBY_LAG_SQL).toContain(`WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots s WHERE s.active_pid = r.pid AND s.slot_type = 'logical')`);
    expect(STANDBY_LAG_SQL).toContain('FROM pg_stat_replication r');
  });
});
