/**
 * The row copy on MySQL/MariaDB: keyset chunks along the copy key, each an
 * INSERT IGNORE ... SELECT of a closed key range (after, through] on a READ
 * COMMITTED row session, placed against the stream by the copy window
 * (core/copy-window.ts). Rows inserted beyond a chunk later come through the
 * stream.
 */
import type { Pool, PoolConnection } from 'mysql2/promise';
import type { CopyPlan } from '../../core/columns.js';
import type { CopyWindow } from '../../core/copy-window.js';
import { GhostwrightError } from '../../errors.js';
import type { ChunkResult, CopyRange, KeyTuple, TableRef } from '../engine.js';
import { BENIGN_WARNINGS, queryExec, queryRows } from './connect.js';
import { buildCopyChunk, buildKeyAtOffset, buildKeyBound, buildLastKeyInRange, buildMissingKeys } from './sql.js';
import { integerSplitPoints, rowsToSplit } from './split.js';

export interface MysqlCopyParts {
  pool: Pool;
  table: TableRef;
  ghost: TableRef;
  plan: CopyPlan;
  window: CopyWindow;
  /** The copy key is one integer column: split points by value (split.ts). */
  integerKey: boolean;
  /** A pooled connection set up for reading and binding key values (migration.ts rowSession). */
  rowSession: (conn: PoolConnection) => Promise<PoolConnection>;
  /** Queues a key whose row the copy could not write for the applier to decide (see checkCopyWarnings). */
  queueKey: (key: KeyTuple) => void;
}

export class MysqlRowCopy {
  constructor(private readonly p: MysqlCopyParts) {}

  private scan() {
    return { table: this.p.table, index: this.p.plan.keyName, key: this.p.plan.sourceKey };
  }

  private async keyRow(sql: { sql: string; params: unknown[] }): Promise<KeyTuple | null> {
    const conn = await this.p.rowSession(await this.p.pool.getConnection());
    try {
      const [rows] = await conn.query({ sql: sql.sql, rowsAsArray: true }, sql.params);
      const r = (rows as unknown[][])[0];
      return r ? (r as KeyTuple) : null;
    } finally {
      conn.release();
    }
  }

  async keyBounds(): Promise<{ min: KeyTuple; max: KeyTuple } | null> {
    const min = await this.keyRow(buildKeyBound({ ...this.scan(), desc: false }));
    const max = await this.keyRow(buildKeyBound({ ...this.scan(), desc: true }));
    return min && max ? { min, max } : null;
  }

  async splitPoints(n: number): Promise<KeyTuple[]> {
    if (n <= 1) return [];
    if (this.p.integerKey) {
      const bounds = await this.keyBounds();
      return bounds ? integerSplitPoints(bounds.min, bounds.max, n) : [];
    }
    const step = Math.floor((await rowsToSplit(this.p.pool, this.p.table)) / n);
    if (step < 1) return [];
    const out: KeyTuple[] = [];
    for (let i = 1; i < n; i++) {
      const k = await this.keyRow(buildKeyAtOffset({ ...this.scan(), after: null, upTo: null, offset: i * step }));
      if (k) out.push(k);
    }
    return out;
  }

  /**
   * One chunk: rows with key > after (and <= upTo), in key order, at most
   * limit rows; or, when the copier gives the end (a dense integer key,
   * core/chunker.ts arithmeticEnd), the rows of (after, end], end null: to
   * upTo, completing the range.
   */
  async copyChunk(range: CopyRange, limit: number, end?: KeyTuple | null): Promise<ChunkResult> {
    const { plan, window } = this.p;
    const scan = this.scan();
    // The chunk is a closed range (after, through]: rows inserted later beyond it come through the stream.
    const t0 = Date.now();
    const through =
      end !== undefined
        ? (end ?? range.upTo)
        : ((await this.keyRow(buildKeyAtOffset({ ...scan, after: range.after, upTo: range.upTo, offset: Math.max(0, limit - 1) }))) ??
          (await this.keyRow(buildLastKeyInRange({ ...scan, after: range.after, upTo: range.upTo }))));
    const boundaryMs = Date.now() - t0;
    if (!through) {
      window.rangeDone(range);
      return { rows: 0, last: null, boundaryMs };
    }
    const spec = { source: this.p.table, ghost: this.p.ghost, pairs: plan.mapping.pairs, index: scan.index, key: scan.key, after: range.after, through };
    const t1 = Date.now();
    let windowWaitMs = 0;
    // A given end of null completes the range with this chunk.
    const claimed = end === null ? null : through;
    const rows = await window.chunk(range, claimed, async () => {
      windowWaitMs = Date.now() - t1;
      const conn = await this.p.rowSession(await this.p.pool.getConnection());
      try {
        const q = buildCopyChunk(spec);
        const res = await queryExec(conn, q.sql, q.params);
        if (res.warningStatus > 0) await this.checkCopyWarnings(conn, spec);
        return res.affectedRows;
      } finally {
        conn.release();
      }
    });
    return { rows, last: claimed, boundaryMs, windowWaitMs };
  }

  /**
   * INSERT IGNORE turns every error into a warning. A duplicate on the copy
   * key is expected (the stream already wrote a newer row); a duplicate on
   * another unique key may be transient, so those rows' keys go to the
   * backlog, whose strict INSERT decides; anything else would silently change
   * data: refuse.
   */
  private async checkCopyWarnings(conn: Parameters<typeof queryRows>[0], spec: Omit<Parameters<typeof buildMissingKeys>[0], 'targetKey'>): Promise<void> {
    const warnings = await queryRows(conn, 'SHOW WARNINGS');
    let otherDup = false;
    for (const w of warnings) {
      const code = Number(w.Code);
      const msg = String(w.Message);
      if (BENIGN_WARNINGS.has(code)) continue;
      if (code === 1062) {
        // A duplicate on the ghost's copy key is a row the stream wrote first.
        // The apply deletes a key's ghost rows and inserts its current row, so
        // a widened key (plan.targetKeyUnique false) needs nothing else here.
        const key = /for key '(?:.*\.)?([^'.]*)'$/.exec(msg)?.[1];
        if (key !== this.p.plan.ghostKey.name) otherDup = true;
        continue;
      }
      throw new GhostwrightError('E_COPY_DATA_LOSS', `copying rows would change data: ${msg}`, { hint: 'the new column types cannot hold the existing values; fix the data or the ALTER' });
    }
    if (!otherDup) return;
    const missing = buildMissingKeys({ ...spec, targetKey: this.p.plan.targetKey });
    const [rows] = await conn.query({ sql: missing.sql, rowsAsArray: true }, missing.params);
    for (const k of rows as unknown[][]) this.p.queueKey(k);
  }
}
