/**
 * The engine contract: what core asks of a database dialect. Core never
 * checks "is this Postgres?"; it reads capability flags and calls these
 * methods. Only src/engine/mysql imports mysql2/@vlasky/zongji and only
 * src/engine/postgres imports pg/pg-logical-replication.
 */
import type { ConnectionSpec, Dialect } from '../connection.js';
import type { Logger } from '../log.js';
import type { CopyPlan } from '../core/columns.js';
import type { IdentifierLimit } from '../core/names.js';

export type { Dialect };

export interface EngineCapabilities {
  /** DDL inside a transaction rolls back (PostgreSQL yes, MySQL no). */
  transactionalDdl: boolean;
  /** Server can add some columns without a rewrite (ALGORITHM=INSTANT / PG metadata-only). */
  instantAddColumn: boolean;
  /** Identifiers longer than this many bytes are rejected or truncated by the server (MySQL: see identifierLimit). */
  maxIdentifierBytes: number;
  /** The server's identifier length limit and its unit: MySQL 64 characters, PostgreSQL 63 bytes. */
  identifierLimit: IdentifierLimit;
  /** Tables live in a schema inside the database (PostgreSQL) rather than the database being the schema. */
  schemas: boolean;
}

/** A table named by the user: `orders` or `schema.orders`. */
export interface TableRef {
  /** MySQL: the database from the URL unless given. PostgreSQL: `public` (search_path) unless given. */
  schema: string;
  name: string;
}

export interface ServerInfo {
  dialect: Dialect;
  /** 'mariadb' | 'mysql' | 'postgresql' */
  flavor: string;
  version: string;
  /** e.g. 100611 for MariaDB 10.6.11, 150004 for PG 15.4 */
  versionNumber: number;
}

// ---------------------------------------------------------------- inspect

export interface ColumnInfo {
  name: string;
  /** Exact type as the server prints it (MySQL COLUMN_TYPE, PG format_type()). */
  type: string;
  nullable: boolean;
  /** Default expression text as the server stores it, or null. */
  default: string | null;
  /** Generated columns are never written by the copy or the apply. */
  generated: 'virtual' | 'stored' | null;
  generationExpression: string | null;
  /** PG identity ('always' | 'by default') / MySQL auto_increment ('auto_increment'). */
  identity: string | null;
  /** Character set / collation where the engine has them. */
  collation: string | null;
}

export interface KeyInfo {
  name: string;
  columns: string[];
  primary: boolean;
  unique: boolean;
  /** True when any key column is nullable (then it can't drive the copy). */
  hasNullableColumn: boolean;
  /** PG: partial (WHERE ...) or deferrable or expression indexes can't drive the copy. */
  usableForCopy: boolean;
  /** Why not usable, when usableForCopy is false. */
  reason?: string;
}

export interface IndexInfo {
  name: string;
  columns: string[];
  unique: boolean;
  definition?: string;
}

export interface ForeignKeyInfo {
  name: string;
  /** The table holding the constraint. */
  table: TableRef;
  columns: string[];
  referencedTable: TableRef;
  referencedColumns: string[];
  onUpdate: string;
  onDelete: string;
}

export interface TriggerInfo {
  name: string;
  timing: string;
  events: string[];
  definition?: string;
}

export interface TableInfo {
  ref: TableRef;
  columns: ColumnInfo[];
  primaryKey: KeyInfo | null;
  uniqueKeys: KeyInfo[];
  indexes: IndexInfo[];
  /** The key the copy and the apply would use (primary first, else the best usable unique key). */
  copyKey: KeyInfo | null;
  /** Constraints on this table pointing at others. */
  foreignKeys: ForeignKeyInfo[];
  /** Constraints on other tables pointing at this one. */
  referencedBy: ForeignKeyInfo[];
  triggers: TriggerInfo[];
  partitioned: boolean;
  partitions: string[];
  /** Views that depend on this table (PG) / that mention it (MySQL). */
  dependentViews: string[];
  /** Sequences owned by columns of this table (PG). */
  ownedSequences: string[];
  estimatedRows: number;
  estimatedBytes: number;
  /** Engine-specific facts worth showing (storage engine, charset, rules, replica identity, ...). */
  extra: Record<string, unknown>;
}

// ---------------------------------------------------------------- doctor / preflight

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

// ---------------------------------------------------------------- online alter

/** Opaque to core: the engine's representation of one key tuple. */
export type KeyTuple = readonly unknown[];

export interface AlterRequest {
  table: TableRef;
  /** Clauses after `ALTER TABLE t` (already stripped of a leading `ALTER TABLE t`). */
  alter: string;
  /** Milliseconds a cut-over attempt may block writers. */
  cutOverLockTimeoutMs: number;
  /** Keep `_t_del` after the swap unless true. */
  dropOldTable: boolean;
  /** --timestamp-old-table: the old table is `_t_<stamp>_del` (core/names.ts oldTableStamp), and a kept `_t_del` is not in the way. */
  oldTableStamp?: string;
  /** High-water mark for queued, unapplied change events (memory bound). */
  maxBacklogEvents: number;
  /** PG: how long creating the slot may wait for transactions already running (it must). Default 60 s. */
  streamStartTimeoutMs?: number;
  /** PG: preflight refuses while running ghostwright slots retain more WAL than this (--max-retained-wal-mb). */
  maxRetainedWalBytes?: number;
}

export interface CopyRange {
  /** Exclusive lower bound; null = from the first row. */
  after: KeyTuple | null;
  /** Inclusive upper bound; null = to the end of the table as it is now. */
  upTo: KeyTuple | null;
}

export interface ChunkResult {
  /** Rows inserted into the ghost by this chunk. */
  rows: number;
  /** Last key read, or null when the range is exhausted. */
  last: KeyTuple | null;
}

export interface StreamStats {
  /** Row changes applied to the ghost so far. */
  eventsApplied: number;
  /** Row changes received but not yet applied. */
  backlog: number;
  /** Stream position of the last applied commit ('file:pos' / LSN). */
  appliedPosition: string;
}

export interface LoadMeasurement {
  /** Server-wide counters named as in --max-load (MySQL status variables, PG active_sessions/...). */
  load: Record<string, number>;
  /** Heartbeat lag per replica, ms; null when a replica can't be read. */
  replicas: { name: string; lagMs: number | null }[];
  /** PG: WAL held back by our slot; MySQL: undefined. */
  retainedWalBytes?: number;
}

export interface CutOverResult {
  /** How long writers were blocked by the swap, ms. */
  stallMs: number;
  /** Name of the old table after the swap, or null when it was dropped. */
  oldTable: string | null;
}

/** One checked chunk of the verification: original rows with after < key <= through, and the ghost's rows of those keys. */
export interface VerifyChunk {
  after: KeyTuple | null;
  through: KeyTuple;
  /** Rows of the original in the chunk. */
  rows: number;
  /** The checksums (and row counts) of both tables agree. */
  same: boolean;
}

/**
 * One consistent point of the original and the ghost (see core/verify.ts):
 * both are read in the same snapshot, taken while writes to the original were
 * briefly held and the stream had applied everything before them.
 */
export interface VerifyPoint {
  /** How long writers to the original were held to fix the point, ms. */
  lockMs: number;
  /** Shared columns left out of the comparison, with the reason (a type change no cast reproduces). */
  uncompared: string[];
  /** The next chunk of at most limit original rows after `after` (null: from the first key); null when none is left. */
  chunk(after: KeyTuple | null, limit: number): Promise<VerifyChunk | null>;
  /** Checks exactly (after, through]. */
  range(after: KeyTuple | null, through: KeyTuple): Promise<VerifyChunk>;
  /** Keys in (after, through] whose rows differ between the two tables (missing on either side included), at most max. */
  differingKeys(after: KeyTuple | null, through: KeyTuple, max: number): Promise<KeyTuple[]>;
  close(): Promise<void>;
}

/**
 * One online migration of one table, with its own connections and state.
 * Core calls the methods in this order (see core/migrator.ts):
 *   preflight -> createGhost -> usePlan -> startStream -> keyBounds/splitPoints ->
 *   beginCopy -> copyChunk* (obeying the throttler) -> waitCaughtUp -> cutOver -> cleanup
 * and abort() on any failure or signal. Every method after createGhost must
 * leave the original table untouched on failure.
 */
export interface OnlineAlter {
  /** Engine-specific checks: server settings, leftovers, triggers, foreign keys, privileges. */
  preflight(original: TableInfo): Promise<CheckResult[]>;
  /**
   * Creates `_t_gho` like the original and applies the ALTER to it, plus the
   * changelog `_t_ghc`. Throws RefusedError (E_BAD_ALTER) when the ALTER is
   * invalid, after dropping what it created. Returns the ghost's shape.
   */
  createGhost(): Promise<TableInfo>;
  /**
   * Core's decision of which columns feed which and which key drives the copy
   * (see core/columns.ts chooseSharedKey). Called after createGhost, before startStream.
   */
  usePlan(plan: CopyPlan): void;
  /**
   * Dry run: proves the ALTER on a ghost and returns the ghost's shape,
   * leaving nothing behind (PostgreSQL: inside a transaction that is rolled
   * back, invisible to other sessions). Use instead of createGhost.
   */
  probeGhost(): Promise<TableInfo>;
  /** Dry run: drops what createGhost/probeGhost left and closes the connections. */
  dropGhost(): Promise<void>;
  /**
   * Starts capturing and applying changes of the original table to the ghost.
   * Must be called before the first chunk is copied so nothing committed after
   * the copy's snapshot is missed.
   */
  startStream(): Promise<void>;
  streamStats(): StreamStats;
  /**
   * The error that stopped the stream or the applier, if one did. Nothing is
   * applied any more after it, so every wait (backlog, postponed cut-over)
   * must end on it rather than wait for progress that can't come.
   */
  failure(): Error | null;
  /** Smallest and largest key now in the original, or null when empty. */
  keyBounds(): Promise<{ min: KeyTuple; max: KeyTuple } | null>;
  /** Up to n-1 keys splitting the table into n ranges of similar row counts. */
  splitPoints(n: number): Promise<KeyTuple[]>;
  /**
   * The ranges the copy will cover (from the first key, contiguous), before
   * its first chunk. Called whether or not the table has rows (then with
   * none). An engine may leave changes of rows the copy has yet to reach to
   * the copy, which reads them as they are by then.
   */
  beginCopy(ranges: readonly CopyRange[]): void;
  /** Copies the next chunk of the range: rows with key > after (and <= upTo), in key order, at most limit rows. */
  copyChunk(range: CopyRange, limit: number): Promise<ChunkResult>;
  /** Returns when every change committed before the call is applied to the ghost. */
  waitCaughtUp(timeoutMs: number): Promise<void>;
  /**
   * Verification: holds writes to the original briefly (at most the cut-over's
   * lock timeout; E_VERIFY_LOCK_TIMEOUT, retryable, when it can't), lets the
   * stream apply everything before, and opens a snapshot of both tables.
   * Called after the copy, with the stream running.
   */
  openVerifyPoint(): Promise<VerifyPoint>;
  /** Copies the original's rows with after < key <= through into the ghost again (replacing the ghost's rows of those keys). */
  recopyRange(after: KeyTuple | null, through: KeyTuple): Promise<void>;
  /** Throttle measurements, gathered from the primary and the replicas. */
  measure(loadNames: string[]): Promise<LoadMeasurement>;
  /** Writes a heartbeat row into the changelog (replica lag is read from it). */
  heartbeat(): Promise<void>;
  /** Writes copy progress and stream position into the changelog. */
  checkpoint(state: Record<string, unknown>): Promise<void>;
  /**
   * The atomic swap. One attempt: throws GhostwrightError with code
   * E_CUTOVER_LOCK_TIMEOUT when it couldn't get its locks in time (retryable,
   * original untouched); any other throw also leaves the original in place.
   */
  cutOver(): Promise<CutOverResult>;
  /** After a successful cut-over: stop the stream, drop changelog/slot/publication. */
  cleanup(): Promise<void>;
  /**
   * On failure, refusal or signal: stop the stream, drop the ghost, changelog
   * and slot THIS run created (never a leftover of another run: a refusal for
   * "_t_gho exists" must leave it), close connections; the original stays.
   * Called on every path that doesn't end in cleanup(). Never throws.
   */
  abort(): Promise<void>;
}

/**
 * Something a run left behind (see `ghostwright cleanup`): its ghost,
 * changelog, kept old table, and on PostgreSQL its slot, publication and
 * replication origins. A slot in use (`active`) means a run is still going.
 */
export interface Leftover {
  kind: 'ghost' | 'changelog' | 'old-table' | 'slot' | 'publication' | 'origin';
  name: string;
  active?: boolean;
  /** An old table kept by a --timestamp-old-table run (`_t_<stamp>_del`): listed for cleanup, never in a new run's way. */
  timestamped?: boolean;
}

export interface Engine {
  readonly dialect: Dialect;
  readonly capabilities: EngineCapabilities;
  /** The one identifier-quoting function of this dialect. */
  quoteIdent(name: string): string;
  /** Parses 'schema.table' / 'table' into a TableRef with this dialect's default schema. */
  tableRef(name: string): TableRef;
  serverInfo(): Promise<ServerInfo>;
  /** Server readiness for online schema changes; replicas are checked for reachability and lag. */
  doctor(replicas: ConnectionSpec[]): Promise<CheckResult[]>;
  /** Throws RefusedError E_NO_TABLE when the table (or schema) doesn't exist. */
  inspect(ref: TableRef): Promise<TableInfo>;
  /**
   * `replicas`: the only replicas watched when non-empty. Otherwise the
   * engine discovers them from the primary unless `discoverReplicas` is
   * false (`--replica none`). Default: discover.
   */
  /** What runs on this table left behind (read-only; the original is never listed). */
  leftovers(ref: TableRef): Promise<Leftover[]>;
  /** Drops these leftovers, in a safe order; returns those dropped. Never touches the original table. */
  dropLeftovers(ref: TableRef, items: readonly Leftover[]): Promise<Leftover[]>;
  onlineAlter(request: AlterRequest, options: { replicas: ConnectionSpec[]; discoverReplicas?: boolean; log: Logger }): OnlineAlter;
  /** Runs SQL text (one or more statements) as is; for the ledger and tests. */
  execute(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[]; affectedRows: number }>;
  /** A dedicated connection for transactions and session locks (GET_LOCK / pg_advisory_lock). */
  openSession(): Promise<SqlSession>;
  close(): Promise<void>;
}

/** Creates the engine for a connection spec; verifies the connection (wrong password -> RefusedError E_CONNECT). */
export type EngineFactory = (spec: ConnectionSpec, log: Logger) => Promise<Engine>;

// ---------------------------------------------------------------- sessions (ledger, tests)

/** A dedicated connection: transactions and session-scoped locks live on it. */
export interface SqlSession {
  query(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[]; affectedRows: number }>;
  close(): Promise<void>;
}
