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

/**
 * One read-only preflight check, in a file of its own (Spirit's check/):
 * an id, what it reads, and the results it gives (each with its message
 * and fix). An engine's registry lists them in the order they are reported;
 * core refuses on the first failed error-level result.
 */
export interface PreflightCheck<Context> {
  id: string;
  /** What it reads: server settings and grants, the table's shape, the ALTER text, or what earlier runs left. */
  scope: 'server' | 'table' | 'alter' | 'leftovers';
  run(context: Context): Promise<CheckResult[]> | CheckResult[];
}
