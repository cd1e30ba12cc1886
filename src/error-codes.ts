/**
 * The stable error codes of ghostwright, shared by both engines, the ledger
 * and the CLI: what `error.code` can be in --json output and on a thrown
 * GhostwrightError. A code names a kind of failure, never a table or a
 * version: those go in the message and in `error.details`.
 *
 * E_PREFLIGHT_<CHECK> is a family: <CHECK> is the id of the preflight check
 * that refused (listed under PREFLIGHT_CHECKS), in upper snake case.
 * A test (test/unit/error-codes.test.ts) fails when the code base throws a
 * code that is not listed here.
 */
export const ERROR_CODES = {
  // command line and configuration (exit 2)
  E_USAGE: 'the command line could not be parsed: unknown option, missing argument or command',
  E_BAD_FLAG: 'a flag value is out of range or not one of the allowed words',
  E_BAD_CONFIG: 'ghostwright.config.json or a GHOSTWRIGHT_* variable holds an invalid value',
  E_NO_URL: 'no database URL was given (flag, environment or config file)',
  E_BAD_URL: 'the database URL cannot be parsed or names an unsupported scheme',
  E_BAD_URL_PARAM: 'the database URL carries a query parameter ghostwright does not know',
  E_NO_TTY: '--ask-pass was given but stdin is not a terminal: use --password-file or MYSQL_PWD / PGPASSWORD',
  E_NO_DIALECT: 'lint could not tell the SQL dialect: pass --dialect or --url',
  E_BAD_LOAD_SPEC: 'a --max-load / --critical-load spec is malformed or names a metric the server lacks',
  E_BAD_TABLE: 'the --table value is not a table name',
  E_BAD_IDENTIFIER: 'an identifier is empty or cannot be quoted safely',
  // reaching the server
  E_UNREACHABLE: 'the server did not answer (refused, timed out, unknown host); nothing changed, retry may help (exit 3)',
  E_CONNECT: 'the server answered but refused the connection: user, password, database or TLS (exit 2)',
  E_NO_BINLOG: 'MySQL: the server writes no binary log',
  // online ALTER: refusals before anything is written (exit 2)
  E_NO_TABLE: 'the table (or its database) does not exist',
  E_NO_KEY: 'the table has no PRIMARY KEY or NOT NULL UNIQUE key to copy by',
  E_NO_SHARED_KEY: 'no usable key is shared by the old and the new shape of the table',
  E_KEY_TYPE: 'MySQL: a copy key column has a type the binlog cannot give back exactly',
  E_BAD_ALTER: '--alter is not exactly one ALTER TABLE of --table (refused before connecting), or the server rejected it on the ghost table (the original is untouched)',
  E_DRY_RUN_UNSUPPORTED: 'MySQL: a dry run cannot prove this ALTER on a private temporary table (partitioned table, FULLTEXT index, foreign key, or a session that logs statements); nothing changed',
  E_TABLE_NAME: 'no helper table name fits the identifier limit',
  E_LEFTOVER: 'a ghost or old table of an earlier run exists',
  E_CHECKPOINT_EXISTS: 'an interrupted run on the table left a checkpoint: continue it with --resume, or remove it with ghostwright cleanup --execute',
  E_NO_CHECKPOINT: '--resume found no checkpoint of an interrupted run on the table',
  E_CHECKPOINT_MISMATCH: '--resume: the checkpoint belongs to a different --alter (or copy key) than this request',
  E_CHECKPOINT_UNREADABLE: '--resume: the checkpoint in the changelog cannot be read by this version',
  E_RESUME_STREAM_GONE: '--resume: the change stream cannot restart from the checkpoint (binlog file purged, slot dropped)',
  E_RUN_ACTIVE: 'a run on the table is still going (its slot is in use, its control socket answers): wait for it to finish or stop it, then try again; nothing changed',
  E_PREFLIGHT: 'family E_PREFLIGHT_<CHECK>: a preflight check refused; details.checks lists the failed check ids',
  E_SOCKET: 'the control socket cannot be created',
  E_SOCKET_IN_USE: 'another ghostwright listens on the control socket path',
  E_SOCKET_PATH: 'the control socket path exists and is not a socket',
  // revert after cut-over (alter --revert): refusals, nothing changed (exit 2)
  E_REVERT_NO_OLD_TABLE: 'alter --revert: the kept old table (_t_del) is gone, so there is nothing to swap back',
  E_REVERT_NO_POINT: 'alter --revert: the kept old table carries no revert point (its cut-over did not record where the new table\'s writes begin)',
  E_REVERT_WINDOW: 'alter --revert: the revert window has passed (MySQL: the binlog since the cut-over is purged; PostgreSQL: --revert-window expired, slot dropped)',
  E_REVERT_NO_WINDOW: 'alter --revert on PostgreSQL: the alter kept no slot after its cut-over (run it with --revert-window)',
  E_REVERT_SHAPE: 'alter --revert: the old shape can\'t hold the new rows (a narrowed type, a NOT NULL column the new shape lacks or makes nullable)',
  // online ALTER: failures while running (exit 1; the original table stays)
  E_STREAM: 'the change stream (binlog / logical replication) failed',
  E_STREAM_START: 'PostgreSQL: the replication slot could not be created in time',
  E_STREAM_KEY: 'PostgreSQL: a change event carried no key value',
  E_DDL_DURING_ALTER: 'the table was changed by other DDL during the migration',
  E_APPLY: 'applying streamed changes to the ghost table failed',
  E_APPLY_UNIQUE: 'applying changes violates a unique key of the new table (the original holds rows the new key rejects)',
  E_APPLY_DATA_LOSS: 'applying changes would change values (new column types too narrow)',
  E_COPY_UNIQUE: 'copying rows violates a unique key of the new table',
  E_COPY_DATA_LOSS: 'copying rows would change values (new column types too narrow)',
  E_REPLICA_IDENTITY: 'PostgreSQL: the replica identity of the table could not be set',
  E_CATCHUP_TIMEOUT: 'the stream did not catch up with the copy in time',
  E_GHOST_INDEXES: 'the new table\'s indexes, built after the copy, could not be added (the original table stays)',
  E_VERIFY: 'verification before cut-over found rows of the new table that differ from the original, even after copying them again; the cut-over was refused',
  E_VERIFY_LOCK_TIMEOUT: 'verification could not hold writes briefly enough to fix its consistent point, on every attempt',
  E_CUTOVER: 'the cut-over failed; the original table is unchanged',
  E_CUTOVER_LOCK_TIMEOUT: 'the cut-over could not take its locks within the timeout on every attempt',
  E_CUTOVER_CATCHUP_TIMEOUT: 'the stream did not catch up under the cut-over\'s lock in time, on every attempt (retried like a lock timeout)',
  E_CRITICAL_LOAD: 'a --critical-load threshold was exceeded (for longer than --critical-load-interval-millis)',
  E_PANIC: 'the panic flag file or the panic control command aborted the migration',
  E_INTERRUPTED: 'SIGINT/SIGTERM aborted the migration; the original table stays',
  E_ONLINE_ALTER: 'an online ALTER run by the ledger did not complete',
  E_STATE: 'internal: a step ran out of order',
  E_INTERNAL: 'internal error (a bug): set GHOSTWRIGHT_DEBUG=1 for the stack',
  E_FAILED: 'an unexpected error without a code of its own',
  // ledger
  E_NO_MIGRATIONS_DIR: 'the migrations directory cannot be read',
  E_BAD_VERSION: 'a migration version is malformed',
  E_DUPLICATE_VERSION: 'two migration files share a version',
  E_BAD_PLACEHOLDER: 'a --placeholder flag is not name=value',
  E_UNKNOWN_PLACEHOLDER: 'a migration uses a ${placeholder} without a value',
  E_TRANSACTION_CONTROL: 'a migration controls its own transaction (BEGIN/COMMIT)',
  E_NON_EMPTY_SCHEMA: 'the schema has tables but no history table: baseline first',
  E_BASELINE_NOT_EMPTY: 'baseline on a history table that already has rows',
  E_VALIDATE: 'applied migrations disagree with the files (checksum, missing, failed, out of order)',
  E_MIGRATION_FAILED: 'a migration statement failed; the history records how far it got',
  E_RESUME_MISMATCH: 'a partly applied migration file no longer starts with the applied statements',
  E_LOCK_TIMEOUT: 'another runner held the migration lock too long',
  E_NO_UNDO: 'no U<version> file for a version to undo',
  E_CLEAN_DISABLED: 'clean was not enabled with --clean-enabled',
  E_SCHEMA_TOO_OLD: 'requireSchemaVersion: the schema is below the version the application needs',
  E_LINT: 'lint found refuse-level issues (exit 1)',
  // commands
  E_NOT_READY: 'doctor: a server check failed (exit 2)',
  E_NO_SOCKET: 'control: no migration answers on the socket',
  E_CONTROL: 'control: the socket connection failed',
  E_CONTROL_TIMEOUT: 'control: no answer in time',
  E_CONTROL_REFUSED: 'control: the migration refused the command or its value (exit 2)',
  E_DEMO_FAILED: 'the demo migration did not verify',
  // sandbox (local test servers)
  E_SANDBOX_BINARY: 'sandbox: no server binary installed',
  E_SANDBOX_DIR: 'sandbox: the directory is not reachable by the server user',
  E_SANDBOX_DIRTY: 'sandbox: the directory holds server files without a manifest',
  E_SANDBOX_MANIFEST: 'sandbox: the manifest cannot be read',
  E_SANDBOX_NOTHING: 'sandbox: both engines were turned off',
  E_SANDBOX_RUNNING: 'sandbox: one already runs from the directory',
  E_SANDBOX_START: 'sandbox: a server failed to start',
  E_SANDBOX_STOP: 'sandbox: a server did not stop',
  E_SANDBOX_USER: 'sandbox: PostgreSQL cannot run as root and no postgres user exists',
  E_SANDBOX_DOWN: 'sandbox status: a server is not running, or there is no sandbox (exit 1)',
} as const satisfies Record<string, string>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The E_PREFLIGHT_<CHECK> code for a failed check id: `leftover:t_del` -> E_PREFLIGHT_LEFTOVER (no table names in codes). */
export function preflightCode(checkId: string): string {
  const kind = checkId.split(':')[0]!;
  return `E_PREFLIGHT_${kind.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`;
}

/** Is this a documented code (a listed one, or a member of the E_PREFLIGHT_ family)? */
export function isKnownCode(code: string): boolean {
  return code in ERROR_CODES || /^E_PREFLIGHT_[A-Z0-9_]+$/.test(code);
}
