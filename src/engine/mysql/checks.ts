/**
 * Server readiness for a binlog-driven online ALTER, one CheckResult per
 * check with the exact fix. The binlog checks are shared with preflight.
 */
import type { CheckResult, ServerInfo } from '../engine.js';
import { redactedUrl, type ConnectionSpec } from '../../connection.js';
import { checkGrants } from './grants.js';
import { openConnection, queryRows, type Queryable, type Row } from './connect.js';

export function parseVersion(version: string): { flavor: 'mariadb' | 'mysql'; versionNumber: number } {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  const n = m ? Number(m[1]) * 10000 + Number(m[2]) * 100 + Number(m[3]) : 0;
  return { flavor: /mariadb/i.test(version) ? 'mariadb' : 'mysql', versionNumber: n };
}

export async function readServerInfo(conn: Queryable): Promise<ServerInfo> {
  const rows = await queryRows(conn, 'SELECT VERSION() AS v');
  const version = String(rows[0]?.v ?? '');
  const { flavor, versionNumber } = parseVersion(version);
  return { dialect: 'mysql', flavor, version, versionNumber };
}

/** The global settings the checks read; null = the server has no such variable. */
export type BinlogSettings = Record<string, string | null>;

const SETTINGS = ['log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata', 'server_id', 'gtid_mode', 'gtid_binlog_pos', 'lock_wait_timeout', 'binlog_transaction_compression', 'binlog_row_value_options'];

export async function readBinlogSettings(conn: Queryable): Promise<BinlogSettings> {
  const rows = await queryRows(conn, `SHOW GLOBAL VARIABLES WHERE Variable_name IN (${SETTINGS.map(() => '?').join(', ')})`, SETTINGS);
  const out: BinlogSettings = Object.fromEntries(SETTINGS.map((s) => [s, null]));
  for (const r of rows) out[String(r.Variable_name)] = r.Value === null ? null : String(r.Value);
  return out;
}

function setting(name: string, value: string): string {
  return `SET GLOBAL ${name}=${value}; and in my.cnf [mysqld]: ${name}=${value} (SET GLOBAL applies to new sessions only: reconnect or restart the application's connections)`;
}

/** Pure: the binlog checks a stream needs, from the settings read. */
export function binlogChecks(info: ServerInfo, s: BinlogSettings): CheckResult[] {
  const out: CheckResult[] = [];
  const logBin = (s.log_bin ?? '').toUpperCase();
  out.push({
    id: 'log-bin',
    title: 'binary log enabled',
    ok: logBin === 'ON' || logBin === '1',
    severity: 'error',
    detail: `log_bin=${s.log_bin ?? 'unknown'}`,
    fix: 'enable the binary log in my.cnf [mysqld]: log_bin=mysql-bin (and server_id=<unique>), then restart the server',
  });
  const fmt = (s.binlog_format ?? '').toUpperCase();
  out.push({
    id: 'binlog-format',
    title: 'row-based binary log',
    ok: fmt === 'ROW',
    severity: 'error',
    detail: `binlog_format=${s.binlog_format ?? 'unknown'}`,
    fix: setting('binlog_format', 'ROW'),
  });
  const image = (s.binlog_row_image ?? '').toUpperCase();
  out.push({
    id: 'binlog-row-image',
    title: 'full row images',
    ok: image === 'FULL',
    severity: 'error',
    detail: `binlog_row_image=${s.binlog_row_image ?? 'unknown'}`,
    fix: setting('binlog_row_image', 'FULL'),
  });
  // Without full metadata the stream labels columns from the CURRENT table
  // definition: events written before a concurrent ALTER are mislabelled.
  const meta = s.binlog_row_metadata;
  const metaAvailable = meta !== null;
  out.push({
    id: 'binlog-row-metadata',
    title: 'full row metadata in the binary log',
    ok: (meta ?? '').toUpperCase() === 'FULL',
    severity: metaAvailable ? 'error' : 'warn',
    detail: metaAvailable ? `binlog_row_metadata=${meta}` : `binlog_row_metadata not available on ${info.flavor} ${info.version}`,
    fix: metaAvailable ? setting('binlog_row_metadata', 'FULL') : 'upgrade to MariaDB >= 10.5 or MySQL >= 8.0 for binlog_row_metadata=FULL',
  });
  const serverId = Number(s.server_id ?? 0);
  out.push({
    id: 'server-id',
    title: 'server_id set',
    ok: serverId > 0,
    severity: 'error',
    detail: `server_id=${s.server_id ?? 'unknown'}`,
    fix: 'set a unique server_id in my.cnf [mysqld]: server_id=1 (and restart), or SET GLOBAL server_id=1',
  });
  if ((s.binlog_transaction_compression ?? 'OFF').toUpperCase() === 'ON') {
    out.push({ id: 'binlog-compression', title: 'binlog transaction compression off', ok: false, severity: 'error', detail: 'binlog_transaction_compression=ON', fix: setting('binlog_transaction_compression', 'OFF') });
  }
  if ((s.binlog_row_value_options ?? '').toUpperCase().includes('PARTIAL_JSON')) {
    out.push({ id: 'binlog-partial-json', title: 'no partial JSON row images', ok: false, severity: 'error', detail: `binlog_row_value_options=${s.binlog_row_value_options}`, fix: "SET GLOBAL binlog_row_value_options=''; and remove it from my.cnf" });
  }
  return out;
}

function versionCheck(info: ServerInfo): CheckResult {
  const min = info.flavor === 'mariadb' ? 100300 : 50700;
  return {
    id: 'server-version',
    title: 'supported server version',
    ok: info.versionNumber >= min,
    severity: 'error',
    detail: `${info.flavor} ${info.version}`,
    fix: info.flavor === 'mariadb' ? 'upgrade to MariaDB 10.3 or later (10.5+ recommended)' : 'upgrade to MySQL 5.7 or later (8.0+ recommended)',
  };
}

function gtidCheck(info: ServerInfo, s: BinlogSettings): CheckResult {
  const detail = info.flavor === 'mariadb' ? `gtid_binlog_pos=${s.gtid_binlog_pos || '(empty)'}` : `gtid_mode=${s.gtid_mode ?? 'unknown'}`;
  const ok = info.flavor === 'mariadb' || (s.gtid_mode ?? '').toUpperCase() === 'ON';
  return { id: 'gtid', title: 'GTIDs (informational: resume works with file:position too)', ok, severity: 'warn', detail, fix: 'optional: gtid_mode=ON and enforce_gtid_consistency=ON in my.cnf' };
}

function lockWaitCheck(s: BinlogSettings): CheckResult {
  return {
    id: 'lock-wait-timeout',
    title: 'lock_wait_timeout (informational: the cut-over sets its own per session)',
    ok: true,
    severity: 'warn',
    detail: `lock_wait_timeout=${s.lock_wait_timeout ?? 'unknown'} s`,
  };
}

export async function privilegeCheck(conn: Queryable, database: string, flavor: 'mariadb' | 'mysql'): Promise<CheckResult> {
  const rows = await queryRows(conn, 'SHOW GRANTS FOR CURRENT_USER()');
  const lines = rows.map((r: Row) => String(Object.values(r)[0] ?? ''));
  const { missingGlobal, missingSchema } = checkGrants(lines, database, flavor);
  const missing = [...missingGlobal.map((p) => `${p} ON *.*`), ...missingSchema.map((p) => `${p} ON \`${database}\`.*`)];
  const grants = [missingGlobal.length ? `GRANT ${missingGlobal.join(', ')} ON *.* TO CURRENT_USER;` : '', missingSchema.length ? `GRANT ${missingSchema.join(', ')} ON \`${database.replace(/`/g, '``')}\`.* TO CURRENT_USER;` : '']
    .filter(Boolean)
    .join(' ');
  return {
    id: 'privileges',
    title: 'privileges for binlog streaming and the ghost/cut-over DDL',
    ok: missing.length === 0,
    severity: 'error',
    detail: missing.length ? `missing: ${missing.join(', ')} (roles are not expanded)` : 'all needed privileges granted',
    fix: grants || undefined,
  };
}

/** Replica reachability and its own lag reading (SHOW REPLICA/SLAVE STATUS). */
export async function replicaCheck(spec: ConnectionSpec): Promise<CheckResult> {
  const name = `${spec.host}:${spec.port}`;
  let conn;
  try {
    conn = await openConnection(spec, { connectTimeout: 5000 });
  } catch (err) {
    return { id: `replica:${name}`, title: `replica ${name} reachable`, ok: false, severity: 'error', detail: (err as Error).message, fix: `check the replica URL ${redactedUrl(spec)} and that the user can connect there` };
  }
  try {
    let rows: Row[];
    try {
      rows = await queryRows(conn, 'SHOW REPLICA STATUS');
    } catch {
      rows = await queryRows(conn, 'SHOW SLAVE STATUS');
    }
    const r = rows[0];
    if (!r) return { id: `replica:${name}`, title: `replica ${name} replicating`, ok: false, severity: 'warn', detail: 'not configured as a replica (SHOW REPLICA STATUS is empty)', fix: 'pass only replicas of this primary' };
    const lag = r.Seconds_Behind_Master ?? r.Seconds_Behind_Source;
    const running = String(r.Slave_SQL_Running ?? r.Replica_SQL_Running ?? '') === 'Yes' && String(r.Slave_IO_Running ?? r.Replica_IO_Running ?? '') === 'Yes';
    const lagS = lag === null || lag === undefined ? null : Number(lag);
    return {
      id: `replica:${name}`,
      title: `replica ${name} replicating without lag`,
      ok: running && lagS !== null && lagS <= 1,
      severity: 'warn',
      detail: running ? `Seconds_Behind_Master=${lagS ?? 'NULL'}` : 'replication threads not running',
      fix: running ? 'wait for the replica to catch up, or raise --max-lag' : 'START REPLICA (START SLAVE) on the replica and check SHOW REPLICA STATUS for the error',
    };
  } finally {
    await conn.end().catch(() => undefined);
  }
}

export async function doctorChecks(conn: Queryable, info: ServerInfo, database: string, replicas: readonly ConnectionSpec[]): Promise<CheckResult[]> {
  const s = await readBinlogSettings(conn);
  const out = [versionCheck(info), ...binlogChecks(info, s), gtidCheck(info, s), await privilegeCheck(conn, database, info.flavor as 'mariadb' | 'mysql'), lockWaitCheck(s)];
  for (const r of replicas) out.push(await replicaCheck(r));
  return out;
}
