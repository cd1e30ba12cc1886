/**
 * The history store on a real database, through the engine contract only.
 * Drivers differ in what they return (MySQL BOOL is 0/1, our PostgreSQL
 * engine returns every value as text), so every row is normalised here.
 */
import type { Engine } from '../engine/engine.js';
import {
  createHistoryTables,
  deleteHistory,
  deleteProgress,
  HISTORY_TABLE,
  historyTable,
  insertHistory,
  realignHistory,
  selectHistory,
  selectProgress,
  tableExists,
  upsertProgress,
  type HistoryNames,
  type Sql,
} from './dialect-sql.js';
import type { AppliedMigration, HistoryStore, HistoryType, NewHistoryRow, ProgressRow, SqlRunner } from './history.js';

export function historyNames(engine: Engine, table = HISTORY_TABLE): HistoryNames {
  return { dialect: engine.dialect, quote: (n) => engine.quoteIdent(n), schema: engine.tableRef(table).schema, table };
}

export function asBool(v: unknown): boolean {
  return v === true || v === 1 || v === '1' || v === 't' || v === 'true' || (typeof v === 'bigint' && v !== 0n);
}

function asInt(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

function asText(v: unknown): string {
  if (v instanceof Date) return v.toISOString().replace('T', ' ').replace(/\.\d+Z$/, '');
  return v === null || v === undefined ? '' : String(v);
}

export function rowToApplied(r: Record<string, unknown>): AppliedMigration {
  return {
    installedRank: asInt(r.installed_rank) ?? 0,
    version: r.version === null || r.version === undefined ? null : String(r.version),
    description: asText(r.description),
    type: asText(r.type) as HistoryType,
    script: asText(r.script),
    checksum: asInt(r.checksum),
    installedBy: asText(r.installed_by),
    installedOn: asText(r.installed_on),
    executionTime: asInt(r.execution_time) ?? 0,
    success: asBool(r.success),
  };
}

export class EngineHistoryStore implements HistoryStore {
  readonly names: HistoryNames;
  readonly tableName: string;
  private readonly runner: SqlRunner;

  constructor(private readonly engine: Engine, table = HISTORY_TABLE) {
    this.names = historyNames(engine, table);
    this.tableName = historyTable(this.names);
    this.runner = { query: (sql, params) => engine.execute(sql, params) };
  }

  private run(q: Sql, via?: SqlRunner) {
    return (via ?? this.runner).query(q.sql, q.params);
  }

  async exists(): Promise<boolean> {
    const { rows } = await this.run(tableExists(this.names, this.names.table));
    return rows.length > 0;
  }

  async create(): Promise<void> {
    for (const sql of createHistoryTables(this.names)) await this.engine.execute(sql);
  }

  async list(): Promise<AppliedMigration[]> {
    if (!(await this.exists())) return [];
    const { rows } = await this.run(selectHistory(this.names));
    return rows.map(rowToApplied);
  }

  async append(row: NewHistoryRow, via?: SqlRunner): Promise<void> {
    await this.run(insertHistory(this.names, row), via);
  }

  async remove(installedRank: number): Promise<void> {
    await this.run(deleteHistory(this.names, installedRank));
  }

  async realign(installedRank: number, fields: { checksum: number | null; description: string }): Promise<void> {
    await this.run(realignHistory(this.names, installedRank, fields.checksum, fields.description));
  }

  async progress(script: string): Promise<ProgressRow | null> {
    const { rows } = await this.run(selectProgress(this.names, script));
    const r = rows[0];
    if (!r) return null;
    return {
      script: asText(r.script),
      version: r.version === null || r.version === undefined ? null : String(r.version),
      statementsDone: asInt(r.statements_done) ?? 0,
      statementsTotal: asInt(r.statements_total) ?? 0,
      doneChecksum: asInt(r.done_checksum) ?? 0,
      error: r.error === null || r.error === undefined ? null : String(r.error),
    };
  }

  async saveProgress(row: ProgressRow, via?: SqlRunner): Promise<void> {
    await this.run(upsertProgress(this.names, row), via);
  }

  async clearProgress(script: string, via?: SqlRunner): Promise<void> {
    await this.run(deleteProgress(this.names, script), via);
  }
}
