/**
 * The engine contract: what core asks of a database dialect. Core never
 * checks "is this Postgres?"; it reads capability flags and calls these
 * methods. Only src/engine/mysql imports mysql2/@vlasky/zongji and only
 * src/engine/postgres imports pg/pg-logical-replication.
 */
import type { ConnectionSpec, Dialect } from '../connection.js';
import type { Logger } from '../log.js';
import type { AlterParser } from './alter.js';
import type { CheckResult } from './check.js';
import type { AlterRequest, OnlineAlter } from './online-alter-contract.js';
import type { TableInfo, TableRef } from './table-info.js';
import type { RevertJob, RevertRequest } from './revert-contract.js';

export type { Dialect };
export type * from './check.js';
export type * from './online-alter-contract.js';
export type * from './table-info.js';

/**
 * How long an identifier may be: MySQL/MariaDB count characters (64 of
 * them, whatever their UTF-8 length), PostgreSQL counts bytes (63, NAMEDATALEN - 1).
 * A bare number means bytes.
 */
export interface IdentifierLimit {
  max: number;
  unit: 'characters' | 'bytes';
}

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

export interface ServerInfo {
  dialect: Dialect;
  /** 'mariadb' | 'mysql' | 'postgresql' */
  flavor: string;
  version: string;
  /** e.g. 100611 for MariaDB 10.6.11, 150004 for PG 15.4 */
  versionNumber: number;
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
  /** What it is beyond its kind, for people (e.g. a slot kept for alter --revert, and until when). */
  note?: string;
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
  /** Swaps the kept old table back in after a cut-over (engine/revert-contract.ts). */
  revert(request: RevertRequest, log: Logger): RevertJob;
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
  /**
   * Stops the statement running on this session, from another connection
   * (MySQL KILL QUERY, PostgreSQL pg_cancel_backend): closing alone leaves
   * the server running it to the end. The session stays open.
   */
  cancel?(): Promise<void>;
  close(): Promise<void>;
}

/** How the runbook reaches the engines without importing them (engine/index.ts supplies it). */
export interface EngineCatalog {
  connect(spec: ConnectionSpec, log: Logger): Promise<Engine>;
  /** The dialect's --alter parser, available before anything connects. */
  alterParser(dialect: Dialect): Promise<AlterParser>;
}
