/**
 * The PostgreSQL engine. Only this folder imports pg and pg-logical-replication.
 */
import type pg from 'pg';
import type { ConnectionSpec } from '../../connection.js';
import type { Logger } from '../../log.js';
import type { AlterRequest, CheckResult, Engine, Leftover, OnlineAlter, ServerInfo, SqlSession, TableInfo, TableRef } from '../engine.js';
import { originPrivilegeCheck } from './origin.js';
import { dropPgLeftovers, pgLeftovers } from './leftovers.js';
import { leftoverSlotCheck, replicaChecks, serverChecks, standbyChecks } from './checks.js';
import { leftoverOriginCheck } from './preflight-checks/leftover-origins.js';
import { connectError, createPool } from './connect.js';
import { PG_MAX_IDENTIFIER_BYTES, parseTableRef, quoteIdent } from './ident.js';
import { PG_IDENTIFIER_LIMIT } from '../../core/names.js';
import { inspectTable } from './inspect.js';
import { revertWindowCheck } from './revert-window-check.js';
import { DEFAULT_THROTTLE } from '../../core/options.js';
import { PgOnlineAlter } from './online-alter.js';
import { PgRevert } from './revert.js';
import type { RevertJob, RevertRequest } from '../revert-contract.js';

export { quoteIdent } from './ident.js';

class PostgresEngine implements Engine {
  readonly dialect = 'postgres' as const;
  readonly capabilities = Object.freeze({ transactionalDdl: true, instantAddColumn: true, maxIdentifierBytes: PG_MAX_IDENTIFIER_BYTES, identifierLimit: PG_IDENTIFIER_LIMIT, schemas: true });

  constructor(
    private readonly spec: ConnectionSpec,
    private readonly pool: pg.Pool,
    private readonly defaultSchema: string,
    private readonly log: Logger,
  ) {}

  quoteIdent(name: string): string {
    return quoteIdent(name);
  }

  tableRef(name: string): TableRef {
    return parseTableRef(name, this.defaultSchema);
  }

  async serverInfo(): Promise<ServerInfo> {
    const res = await this.pool.query<{ v: string; n: string }>(`SELECT current_setting('server_version') AS v, current_setting('server_version_num') AS n`);
    const row = res.rows[0]!;
    return { dialect: 'postgres', flavor: 'postgresql', version: row.v, versionNumber: Number(row.n) };
  }

  async doctor(replicas: ConnectionSpec[]): Promise<CheckResult[]> {
    return [...(await serverChecks(this.pool, null)), await leftoverSlotCheck(this.pool), await leftoverOriginCheck(this.pool), await originPrivilegeCheck(this.pool), await revertWindowCheck(this.pool, DEFAULT_THROTTLE.maxRetainedWalBytes), ...(await standbyChecks(this.pool)), ...(await replicaChecks(replicas))];
  }

  inspect(ref: TableRef): Promise<TableInfo> {
    return inspectTable(this.pool, ref);
  }

  leftovers(ref: TableRef): Promise<Leftover[]> {
    return pgLeftovers(this.pool, ref);
  }

  dropLeftovers(ref: TableRef, items: readonly Leftover[]): Promise<Leftover[]> {
    return dropPgLeftovers(this.pool, ref, items);
  }

  onlineAlter(request: AlterRequest, options: { replicas: ConnectionSpec[]; discoverReplicas?: boolean; log: Logger }): OnlineAlter {
    return new PgOnlineAlter({ spec: this.spec, request, replicas: options.replicas, discoverReplicas: options.discoverReplicas ?? true, log: options.log ?? this.log });
  }

  revert(request: RevertRequest, log: Logger): RevertJob {
    return new PgRevert({ spec: this.spec, request, log });
  }

  async execute(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[]; affectedRows: number }> {
    const res = await this.pool.query(sql, params);
    return lastResult(res);
  }

  async openSession(): Promise<SqlSession> {
    const client = await this.pool.connect();
    let closed = false;
    return {
      async query(sql: string, params?: unknown[]) {
        return lastResult(await client.query(sql, params));
      },
      cancel: async () => {
        if (closed) return;
        await this.pool.query('SELECT pg_cancel_backend($1)', [(client as unknown as { processID: number }).processID]);
      },
      async close() {
        if (closed) return;
        closed = true;
        client.release();
      },
    };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** A multi-statement text returns an array of results: report the last one. */
function lastResult(res: pg.QueryResult | pg.QueryResult[]): { rows: Record<string, unknown>[]; affectedRows: number } {
  const last = Array.isArray(res) ? res[res.length - 1] : res;
  return { rows: (last?.rows ?? []) as Record<string, unknown>[], affectedRows: last?.rowCount ?? 0 };
}

export async function createPostgresEngine(spec: ConnectionSpec, log: Logger): Promise<Engine> {
  const pool = createPool(spec, 4, { connectionTimeoutMillis: 10_000 });
  let schema: string;
  try {
    const res = await pool.query<{ s: string | null }>('SELECT current_schema() AS s');
    schema = res.rows[0]?.s ?? 'public';
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw connectError(spec, err);
  }
  return new PostgresEngine(spec, pool, schema, log);
}
