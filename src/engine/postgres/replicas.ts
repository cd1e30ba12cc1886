/**
 * Lag of the physical standbys streaming from this primary, read from the
 * primary's pg_stat_replication: no connection to the standbys needed.
 *
 * Which walsenders are standbys:
 * - logical walsenders (our own slot's stream, other ghostwright runs,
 *   CDC tools) hold an active logical slot: left out;
 * - a walsender whose receiver never replays (pg_basebackup -X stream,
 *   pg_receivewal) reports no replay_lsn: left out, it is not a standby;
 * - a walsender whose details we may not see (state is NULL: the user lacks
 *   pg_read_all_stats / pg_monitor) is left out and reported as hidden.
 *
 * replay_lag (PG 10+) is the time between the primary flushing WAL and the
 * standby confirming it replayed it, measured by the walsender on each
 * standby reply. While replay is stuck (paused, conflict, slow apply) and WAL
 * keeps arriving, each reply reports a growing lag; with no WAL at all it
 * is not updated. Once a standby has replayed everything and stays idle,
 * replay_lag turns NULL: that standby is 0 ms behind. NULL while replay is
 * behind what was sent means no reply has measured it yet (just connected,
 * or the first reply after an idle spell): unknown, which throttles until the
 * next reply (milliseconds on a streaming standby).
 */
import type { LoadMeasurement } from '../engine.js';

export const STANDBY_LAG_SQL = `SELECT r.pid, r.application_name AS name, r.client_addr::text AS addr, r.state,
       (extract(epoch FROM r.replay_lag) * 1000)::float8 AS lag,
       (r.replay_lsn IS NOT NULL AND r.replay_lsn = r.sent_lsn) AS caught_up,
       (r.replay_lsn IS NULL) AS no_replay
  FROM pg_stat_replication r
 WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots s WHERE s.active_pid = r.pid AND s.slot_type = 'logical')
 ORDER BY r.application_name, r.pid`;

export interface StandbyRow {
  pid: number;
  name: string | null;
  addr: string | null;
  state: string | null;
  lag: number | null;
  caught_up: boolean;
  no_replay: boolean;
}

export interface StandbyLags {
  replicas: LoadMeasurement['replicas'];
  /** Walsenders whose details this user may not read. */
  hidden: number;
}

/** One `standby:<application_name or client_addr>` entry per physical standby; duplicates get `#pid`. */
export function standbyLags(rows: readonly StandbyRow[]): StandbyLags {
  const seen = new Map<string, number>();
  const kept: { label: string; row: StandbyRow }[] = [];
  let hidden = 0;
  for (const row of rows) {
    if (row.state === null) {
      hidden++;
      continue;
    }
    if (row.no_replay) continue;
    const label = row.name || row.addr || `pid ${row.pid}`;
    seen.set(label, (seen.get(label) ?? 0) + 1);
    kept.push({ label, row });
  }
  const replicas = kept.map(({ label, row }) => {
    const name = (seen.get(label) ?? 0) > 1 ? `standby:${label}#${row.pid}` : `standby:${label}`;
    const lagMs = row.lag !== null ? Math.max(0, row.lag) : row.caught_up ? 0 : null;
    return { name, lagMs };
  });
  return { replicas, hidden };
}
