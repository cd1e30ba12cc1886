/**
 * The MySQL/MariaDB engine. The only place (with its folder) that imports
 * mysql2 and @vlasky/zongji.
 */
import mysql from 'mysql2/promise';
import type { Pool, ResultSetHeader } from 'mysql2/promise';
import type { ConnectionSpec } from '../../connection.js';
import type { Logger } from '../../log.js';
import type { AlterRequest, CheckResult, Engine, Leftover, EngineCapabilities, OnlineAlter, ServerInfo, SqlSession, TableInfo, TableRef } from '../engine.js';
import { connectError, connectionOptions, createPool, openConnection, setupSession } from './connect.js';
import { doctorChecks, readServerInfo } from './checks.js';
import { dropMysqlLeftovers, mysqlLeftovers } from './leftovers.js';
import { inspectTable } from './inspect.js';
import { parseTableRef, quoteIdent, MAX_IDENTIFIER_CHARS } from './ident.js';
import { MYSQL_IDENTIFIER_LIMIT } from '../../core/names.js';
import { MysqlOnlineAlter } from './online-alter.js';
import { MysqlRevert } from './revert.js';
import type { RevertJob, RevertRequest } from '../revert-contract.js';

type Result = { rows: Record<string, unknown>[]; affectedRows: number };

/**
 * Results as { rows, affectedRows }. Several statements give one result per
 * statement (and `fields` per statement, undefined for non-SELECTs): the rows
 * of the last SELECT, affected rows summed.
 */
function toResult(raw: unknown, fields: unknown): Result {
  if (!Array.isArray(raw)) return { rows: [], affectedRows: (raw as ResultSetHeader)?.affectedRows ?? 0 };
  const multi = Array.isArray(fields) && fields.length > 0 && (Array.isArray(fields[0]) || fields[0] == null);
  if (!multi) return { rows: raw as Record<string, unknown>[], affectedRows: 0 };
  let rows: Record<string, unknown>[] = [];
  let affectedRows = 0;
  for (const part of raw) {
    if (Array.isArray(part)) rows = part as Record<string, unknown>[];
    else affectedRows += (part as ResultSetHeader).affectedRows ?? 0;
  }
  return { rows, affectedRows };
}

class MysqlEngine implements Engine {
  readonly dialect = 'mysql' as const;
  readonly capabilities: EngineCapabilities;
  private multi: Pool | null = null;

  constructor(
    private readonly spec: ConnectionSpec,
    private readonly log: Logger,
    private readonly pool: Pool,
    private readonly info: ServerInfo,
  ) {
    const instant = info.flavor === 'mariadb' ? info.versionNumber >= 100300 : info.versionNumber >= 80012;
    this.capabilities = { transactionalDdl: false, instantAddColumn: instant, maxIdentifierBytes: MAX_IDENTIFIER_CHARS, identifierLimit: MYSQL_IDENTIFIER_LIMIT, schemas: false };
  }

  quoteIdent(name: string): string {
    return quoteIdent(name);
  }

  tableRef(name: string): TableRef {
    return parseTableRef(name, this.spec.database);
  }

  async serverInfo(): Promise<ServerInfo> {
    return this.info;
  }

  doctor(replicas: ConnectionSpec[]): Promise<CheckResult[]> {
    return doctorChecks(this.pool, this.info, this.spec.database, replicas);
  }

  inspect(ref: TableRef): Promise<TableInfo> {
    return inspectTable(this.pool, ref, this.info.flavor);
  }

  leftovers(ref: TableRef): Promise<Leftover[]> {
    return mysqlLeftovers(this.pool, ref);
  }

  dropLeftovers(ref: TableRef, items: readonly Leftover[]): Promise<Leftover[]> {
    return dropMysqlLeftovers(this.pool, ref, items);
  }

  onlineAlter(request: AlterRequest, options: { replicas: ConnectionSpec[]; discoverReplicas?: boolean; log: Logger }): OnlineAlter {
    return new MysqlOnlineAlter({ spec: this.spec, info: this.info, request, replicas: options.replicas, discoverReplicas: options.discoverReplicas ?? true, log: options.log });
  }

  revert(request: RevertRequest, log: Logger): RevertJob {
    return new MysqlRevert({ spec: this.spec, info: this.info, request, log });
  }

  /** SQL text as is, possibly several statements (ledger files, tests). */
  async execute(sql: string, params: unknown[] = []): Promise<Result> {
    this.multi ??= createPool(this.spec, 2, [], { multipleStatements: true });
    const [raw, fields] = await this.multi.query(sql, params);
    return toResult(raw, fields);
  }

  async openSession(): Promise<SqlSession> {
    let conn: mysql.Connection;
    try {
      conn = await mysql.createConnection(connectionOptions(this.spec, { multipleStatements: true }));
      await setupSession(conn);
    } catch (err) {
      throw connectError(this.spec, err);
    }
    return {
      query: async (sql, params = []) => {
        const [raw, fields] = await conn.query(sql, params);
        return toResult(raw, fields);
      },
      cancel: async () => {
        const killer = await openConnection(this.spec);
        try {
          await killer.query(`KILL QUERY ${Number(conn.threadId)}`);
        } finally {
          await killer.end().catch(() => undefined);
        }
      },
      close: async () => {
        await conn.end().catch(() => undefined);
      },
    };
  }

  async close(): Promise<void> {
    await this.multi?.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
    this.log.debug('mysql engine closed');
  }
}

export async function createMysqlEngine(spec: ConnectionSpec, log: Logger): Promise<Engine> {
  const pool = createPool(spec, 4);
  let info: ServerInfo;
  try {
    info = await readServerInfo(pool);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw connectError(spec, err);
  }
  return new MysqlEngine(spec, log, pool, info);
}
