/**
 * The engine contract, part 2: one result of a server or table check
 * (doctor, preflight).
 */
export interface CheckResult {
  /** Stable id, e.g. 'binlog-format', 'wal-level'. */
  id: string;
  title: string;
  ok: boolean;
  /** 'error' refuses; 'warn' is shown but doesn't refuse. */
  severity: 'error' | 'warn';
  /** What was seen, e.g. 'binlog_format=STATEMENT'. */
  detail: string;
  /** The exact fix, shown on failure. */
  fix?: string;
}
