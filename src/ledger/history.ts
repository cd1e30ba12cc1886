/**
 * The history table contract (`ghostwright_schema_history`, Flyway's
 * columns) and an in-memory implementation for unit tests. Rows are never
 * rewritten to pretend something else happened: an undo, a baseline and a
 * deletion (Flyway 9+ `repair` of a missing migration) are rows of their own.
 */
export type HistoryType = 'SQL' | 'BASELINE' | 'UNDO_SQL' | 'DELETE';

export interface AppliedMigration {
  installedRank: number;
  /** null for repeatable migrations. */
  version: string | null;
  description: string;
  type: HistoryType;
  script: string;
  checksum: number | null;
  installedBy: string;
  /** As the server prints it. */
  installedOn: string;
  /** Milliseconds. */
  executionTime: number;
  success: boolean;
}

export type NewHistoryRow = Omit<AppliedMigration, 'installedRank' | 'installedOn'>;

/**
 * Where a file that failed half-way stopped. Only written when statements of
 * it were committed (MySQL auto-commits each DDL; PostgreSQL commits before
 * and after statements that can't run in a transaction), so that the next
 * migrate after `repair` resumes at the first statement not yet applied.
 */
export interface ProgressRow {
  script: string;
  version: string | null;
  /** Statements 1..done are applied. */
  statementsDone: number;
  statementsTotal: number;
  /** CRC32 of the applied statements' text: a resumed file must start with the same statements. */
  doneChecksum: number;
  error: string | null;
}

/** Something that runs SQL: the engine's pool or a session inside a transaction. */
export interface SqlRunner {
  query(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[]; affectedRows: number }>;
}

export interface HistoryStore {
  /** Qualified name as shown to people. */
  readonly tableName: string;
  exists(): Promise<boolean>;
  /** Creates the history and progress tables when missing. */
  create(): Promise<void>;
  /** All rows in installed_rank order. */
  list(): Promise<AppliedMigration[]>;
  /** Appends with the next installed_rank; `via` runs it inside the caller's transaction. */
  append(row: NewHistoryRow, via?: SqlRunner): Promise<void>;
  remove(installedRank: number): Promise<void>;
  realign(installedRank: number, fields: { checksum: number | null; description: string }): Promise<void>;
  progress(script: string): Promise<ProgressRow | null>;
  saveProgress(row: ProgressRow, via?: SqlRunner): Promise<void>;
  clearProgress(script: string, via?: SqlRunner): Promise<void>;
}

export class MemoryHistoryStore implements HistoryStore {
  readonly tableName = 'ghostwright_schema_history';
  private created = false;
  private rows: AppliedMigration[] = [];
  private progressRows = new Map<string, ProgressRow>();
  private clock = 0;

  constructor(initial: AppliedMigration[] = []) {
    if (initial.length) {
      this.created = true;
      this.rows = initial.map((r) => ({ ...r }));
    }
  }

  async exists(): Promise<boolean> {
    return this.created;
  }
  async create(): Promise<void> {
    this.created = true;
  }
  async list(): Promise<AppliedMigration[]> {
    return this.rows.map((r) => ({ ...r })).sort((a, b) => a.installedRank - b.installedRank);
  }
  async append(row: NewHistoryRow): Promise<void> {
    const rank = this.rows.reduce((m, r) => Math.max(m, r.installedRank), 0) + 1;
    this.clock++;
    this.rows.push({ ...row, installedRank: rank, installedOn: `2024-01-01 00:00:${String(this.clock).padStart(2, '0')}` });
  }
  async remove(installedRank: number): Promise<void> {
    this.rows = this.rows.filter((r) => r.installedRank !== installedRank);
  }
  async realign(installedRank: number, fields: { checksum: number | null; description: string }): Promise<void> {
    const row = this.rows.find((r) => r.installedRank === installedRank);
    if (row) Object.assign(row, fields);
  }
  async progress(script: string): Promise<ProgressRow | null> {
    const row = this.progressRows.get(script);
    return row ? { ...row } : null;
  }
  async saveProgress(row: ProgressRow): Promise<void> {
    this.progressRows.set(row.script, { ...row });
  }
  async clearProgress(script: string): Promise<void> {
    this.progressRows.delete(script);
  }
}
