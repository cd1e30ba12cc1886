/**
 * The ghost's secondary indexes, built once after the copy instead of row by
 * row during it (issue #11).
 *
 * InnoDB keeps every secondary index up to date as the copy inserts rows in
 * key order: an index on anything else (sysbench's k_1 on a random `k`) takes
 * its inserts at random pages, one by one. `ALTER TABLE ... ADD INDEX`,
 * ALGORITHM=INPLACE builds the index by sorting instead, and LOCK=NONE lets
 * DML go on meanwhile (the applier's: the server logs it and applies it at
 * the end, up to innodb_online_alter_log_max_size). Measured on MariaDB
 * 10.11, 1M sbtest1 rows, chunks of 20,000 by PRIMARY KEY: the copy into a
 * ghost with k_1 took 5.8-7.1 s; without it 3.8-3.9 s, plus 1.0-1.1 s for
 * ADD INDEX k_1.
 *
 * Which indexes: non-unique plain B-tree keys (`KEY` lines). Never the
 * primary key or a unique key (the copy's INSERT IGNORE and the apply rely
 * on them to find and reject rows), nor one the apply's lookups by the copy
 * key need (a widened key, core/columns.ts), nor FULLTEXT/SPATIAL (a table
 * with either keeps everything: adding them is not online, and their
 * presence changes what ADD INDEX may do), nor keys over an expression or a
 * virtual column, nor anything when the ghost has a foreign key (the server
 * refuses to drop the index a foreign key uses), nor anything on a table
 * that is not InnoDB.
 *
 * Order: the server sorts keys (PRIMARY, then unique keys, then the others
 * in the order they were added, FULLTEXT last), and re-added keys go after
 * the ones kept. So only the plain keys after the last one that must stay
 * are deferred: the new table lists its keys as a blocking ALTER would.
 *
 * Definitions are the server's own `SHOW CREATE TABLE` lines of the altered
 * ghost (prefix lengths, DESC, COMMENT, IGNORED / INVISIBLE, KEY_BLOCK_SIZE
 * exactly as it prints them), kept in the changelog before the ghost's keys
 * are dropped: a resumed run adds back what its ghost lacks before going on.
 */
import type { Pool, PoolConnection } from 'mysql2/promise';
import { GhostwrightError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { CopyPlan } from '../../core/columns.js';
import type { TableInfo, TableRef } from '../engine.js';
import { queryExec, queryRows } from './connect.js';
import { qualified, quoteIdent } from './ident.js';
import { buildChangelogWrite, type Sql } from './sql.js';

/** One secondary key: its name and its `SHOW CREATE TABLE` line (`KEY \`k_1\` (\`k\`)`). */
export interface DeferredIndex {
  name: string;
  definition: string;
}

/** The changelog row (hint) that keeps the deferred definitions for --resume. */
export const DEFERRED_HINT = 'deferred-indexes';

interface KeyLine {
  kind: 'primary' | 'unique' | 'fulltext' | 'spatial' | 'plain' | 'other';
  name: string | null;
  definition: string;
}

/** The key lines of a `SHOW CREATE TABLE` text, in the server's order, each without its trailing comma. */
export function keyLines(createTable: string): KeyLine[] {
  const lines = createTable.split('\n');
  const out: KeyLine[] = [];
  // Column lines start with a backtick; the key lines come after them, before the ") ENGINE=..." line.
  for (const raw of lines.slice(1)) {
    if (raw.startsWith(')')) break;
    const m = /^\s+(?:(PRIMARY|UNIQUE|FULLTEXT|SPATIAL|[A-Z]+)\s+)?KEY\b(?:\s+(`(?:[^`]|``)*`))?/.exec(raw);
    if (!m) continue;
    const word = m[1];
    const kind = word === undefined ? 'plain' : word === 'PRIMARY' ? 'primary' : word === 'UNIQUE' ? 'unique' : word === 'FULLTEXT' ? 'fulltext' : word === 'SPATIAL' ? 'spatial' : 'other';
    out.push({ kind, name: m[2] ? m[2].slice(1, -1).replace(/``/g, '`') : null, definition: raw.trim().replace(/,$/, '') });
  }
  return out;
}

/**
 * The plain keys to build after the copy (see the header), in the server's
 * order. Pure: the ghost's SHOW CREATE TABLE text, its inspected shape, its
 * storage engine, and the copy plan.
 */
export function chooseDeferred(createTable: string, ghost: TableInfo, storageEngine: string, plan: Pick<CopyPlan, 'targetKey'>): DeferredIndex[] {
  const keys = keyLines(createTable);
  if (storageEngine.toLowerCase() !== 'innodb' || ghost.foreignKeys.length > 0) return [];
  if (keys.some((k) => k.kind === 'fulltext' || k.kind === 'spatial' || k.kind === 'other')) return [];
  const fold = (n: string) => n.toLowerCase();
  const virtual = new Set(ghost.columns.filter((c) => c.generated === 'virtual').map((c) => fold(c.name)));
  const byName = new Map(ghost.indexes.map((i) => [fold(i.name), i]));
  const target = plan.targetKey.map(fold);
  const deferrable = (k: KeyLine): boolean => {
    const idx = k.name === null ? undefined : byName.get(fold(k.name));
    // The line's quoted name must be the one the server reads back: else the line was misread.
    if (!idx || idx.unique || k.name === null || !k.definition.startsWith(`KEY ${quoteIdent(k.name)} (`)) return false;
    const cols = idx.columns.map(fold);
    if (cols.some((c) => c === '(expression)' || virtual.has(c))) return false;
    const leadsCopyKey = cols.length >= target.length && target.every((t) => cols.slice(0, target.length).includes(t));
    return !leadsCopyKey;
  };
  let deferred: DeferredIndex[] = [];
  for (const k of keys) {
    if (k.kind !== 'plain') continue;
    // A plain key that stays ahead of deferred ones would end up after them: defer only what follows it.
    if (deferrable(k)) deferred.push({ name: k.name!, definition: k.definition });
    else deferred = [];
  }
  return deferred;
}

export function buildDropIndexes(ghost: TableRef, indexes: readonly DeferredIndex[]): Sql {
  return { sql: `ALTER TABLE ${qualified(ghost)} ${indexes.map((i) => `DROP INDEX ${quoteIdent(i.name)}`).join(', ')}`, params: [] };
}

/** One statement for all: the server reads the table once and sorts each key (the definitions are the server's own text). */
export function buildAddIndexes(ghost: TableRef, indexes: readonly DeferredIndex[], online = true): Sql {
  return { sql: `ALTER TABLE ${qualified(ghost)} ${indexes.map((i) => `ADD ${i.definition}`).join(', ')}${online ? ', ALGORITHM=INPLACE, LOCK=NONE' : ''}`, params: [] };
}

/**
 * Drops the ghost's deferrable keys while it is still empty, after writing
 * their definitions to the changelog (so a run killed between the two finds
 * them there and its ghost lacking none). Returns what was dropped.
 */
export async function deferIndexes(o: { pool: Pool; ghost: TableRef; ghostInfo: TableInfo; changelog: TableRef; plan: Pick<CopyPlan, 'targetKey'>; log: Logger }): Promise<DeferredIndex[]> {
  const [create] = await queryRows(o.pool, `SHOW CREATE TABLE ${qualified(o.ghost)}`);
  const [table] = await queryRows(o.pool, 'SELECT ENGINE AS e FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [o.ghost.schema, o.ghost.name]);
  const deferred = chooseDeferred(String(create?.['Create Table'] ?? ''), o.ghostInfo, String(table?.e ?? ''), o.plan);
  if (deferred.length === 0) return [];
  const w = buildChangelogWrite(o.changelog, DEFERRED_HINT, JSON.stringify(deferred));
  await queryExec(o.pool, w.sql, w.params);
  const drop = buildDropIndexes(o.ghost, deferred);
  await queryExec(o.pool, drop.sql, drop.params);
  o.log.info({ indexes: deferred.map((d) => d.name) }, 'secondary indexes of the ghost deferred: built once the copy is done');
  return deferred;
}

/** The interrupted run's deferred definitions (--resume); none when it deferred none. */
export async function readDeferredIndexes(pool: Pool, changelog: TableRef): Promise<DeferredIndex[]> {
  const rows = await queryRows(pool, `SELECT \`value\` AS v FROM ${qualified(changelog)} WHERE \`hint\` = ?`, [DEFERRED_HINT]);
  const text = rows[0]?.v;
  if (text == null) return [];
  const parsed = JSON.parse(String(text)) as unknown;
  if (!Array.isArray(parsed) || !parsed.every((d: Partial<DeferredIndex>) => typeof d?.name === 'string' && typeof d.definition === 'string')) {
    throw new GhostwrightError('E_GHOST_INDEXES', `the changelog's deferred index definitions cannot be read: ${String(text).slice(0, 200)}`, { hint: 'the run cannot be resumed: ghostwright cleanup --execute, then run again' });
  }
  return parsed as DeferredIndex[];
}

/**
 * Adds the deferred keys the ghost lacks, once (later calls share the first
 * one's outcome; a failed attempt is tried again by the next call). Checked
 * against the ghost itself, so an add that a killed run left running on the
 * server (it finishes there) is not added twice.
 */
export class GhostIndexes {
  private adding: Promise<void> | null = null;
  /** The session running the ALTER, so stop() can end it (a KILL QUERY rolls the build back). */
  private threadId: number | null = null;

  constructor(private readonly o: { pool: Pool; ghost: TableRef; deferred: readonly DeferredIndex[]; log: Logger }) {}

  /** Resolves when the ghost has every deferred key. */
  restore(): Promise<void> {
    this.adding ??= this.addMissing().catch((err: unknown) => {
      this.adding = null;
      throw err;
    });
    return this.adding;
  }

  async stop(): Promise<void> {
    const id = this.threadId;
    if (id !== null) await queryExec(this.o.pool, 'KILL QUERY ?', [id]).catch(() => undefined);
  }

  private async missing(conn: PoolConnection): Promise<DeferredIndex[]> {
    const rows = await queryRows(conn, 'SELECT DISTINCT INDEX_NAME AS n FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [this.o.ghost.schema, this.o.ghost.name]);
    const present = new Set(rows.map((r) => String(r.n).toLowerCase()));
    return this.o.deferred.filter((d) => !present.has(d.name.toLowerCase()));
  }

  private async addMissing(): Promise<void> {
    if (this.o.deferred.length === 0) return;
    const conn = await this.o.pool.getConnection();
    try {
      for (let attempt = 1; ; attempt++) {
        const missing = await this.missing(conn);
        if (missing.length === 0) return;
        const started = Date.now();
        this.threadId = conn.threadId;
        try {
          await this.add(conn, missing);
          this.o.log.info({ indexes: missing.map((d) => d.name), ms: Date.now() - started }, 'deferred secondary indexes added to the ghost');
          return;
        } catch (err) {
          // 1061 duplicate key name: an add of a killed run finished meanwhile; look again.
          if ((err as { errno?: number }).errno === 1061 && attempt < 3) continue;
          throw new GhostwrightError('E_GHOST_INDEXES', `adding the deferred secondary indexes to ${this.o.ghost.name} failed: ${(err as Error).message}`, {
            cause: err,
            hint: 'the original table is unchanged; if the server says its online log is too small, raise innodb_online_alter_log_max_size (the write load during the index build outgrew it) and run again',
          });
        } finally {
          this.threadId = null;
        }
      }
    } finally {
      conn.release();
    }
  }

  /** Online where the server can; else (1845/1846: not supported here) as the server chooses, which may hold the applier's writes until it ends. */
  private async add(conn: PoolConnection, missing: readonly DeferredIndex[]): Promise<void> {
    const online = buildAddIndexes(this.o.ghost, missing);
    try {
      await queryExec(conn, online.sql, online.params);
    } catch (err) {
      const errno = (err as { errno?: number }).errno;
      if (errno !== 1845 && errno !== 1846) throw err;
      this.o.log.warn({ err: (err as Error).message }, 'the server cannot add the ghost\'s indexes online; adding them with its default algorithm');
      const plain = buildAddIndexes(this.o.ghost, missing, false);
      await queryExec(conn, plain.sql, plain.params);
    }
  }
}
