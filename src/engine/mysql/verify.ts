/**
 * Verification before cut-over on MySQL/MariaDB (see core/verify.ts).
 *
 * One consistent point: session L takes `LOCK TABLES t READ`, which waits
 * for the transactions that wrote `t` and holds new writers (bounded by
 * lock_wait_timeout, as the cut-over's lock). Nothing can change `t` then, so
 * once the stream has applied everything up to the binlog's end, the ghost
 * equals `t`. Session S opens `START TRANSACTION WITH CONSISTENT SNAPSHOT`
 * (REPEATABLE READ: one InnoDB read view over both tables) and L unlocks.
 * The two sessions then checksum the original and the ghost side by side
 * while the application writes on: their read view doesn't move. A single
 * integer key: one statement per table, a range checksum per span of key
 * values (buildSpanChecksums); any other key: chunk by chunk, by the copy key.
 *
 * A chunk's checksum is `COUNT(*)` and `BIT_XOR(CRC32(...))` of each row's
 * shared columns (as pt-table-checksum and Spirit do), the original's values
 * cast to the ghost's column types where the ALTER changed a type. A type
 * change no MySQL CAST reproduces exactly (FLOAT, JSON, BINARY(n), ...) leaves
 * that column out, and the report names it.
 */
import type { Pool } from 'mysql2/promise';
import type { ConnectionSpec } from '../../connection.js';
import type { CopyPlan } from '../../core/columns.js';
import type { CopyWindow } from '../../core/copy-window.js';
import { GhostwrightError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ColumnInfo, KeyTuple, TableInfo, TableRef, VerifyChunk, VerifyPoint } from '../engine.js';
import { BENIGN_WARNINGS, openConnection, queryExec, queryRows } from './connect.js';
import { qualified, quoteIdent } from './ident.js';
import { buildKeyAtOffset, buildKeyBound, buildLastKeyInRange, cols as keyCols, keyCompare, type Sql } from './sql.js';
import { mysqlKeyKind } from './key-types.js';
import { nextIntegerBoundary } from './split.js';
import { compareBuckets, planKeySpans, refineSpan, spanBounds, spanCount, type KeySpans } from '../key-spans.js';

/** Rows per bucket of one pass, and at most this many buckets: each is a SELECT of the statement (~0.5 KB). */
const MYSQL_SPAN_ROWS = 20_000;
const MYSQL_MAX_SPANS = 256;

/** A number where it is exact, text beyond 2^53 (MySQL compares an integer column with a string as a double). */
const keyValue = (v: bigint): number | string => (Number.isSafeInteger(Number(v)) ? Number(v) : String(v));

export interface MysqlVerifyContext {
  spec: ConnectionSpec;
  pool: Pool;
  /** The copy window: a re-copy runs exclusively (no chunk, no apply batch beside it). */
  gate: CopyWindow;
  original: TableInfo;
  ghost: TableInfo;
  ghostRef: TableRef;
  plan: CopyPlan;
  lockTimeoutMs: number;
  /** Returns when every change committed so far is applied to the ghost. */
  waitCaughtUp: (timeoutMs: number) => Promise<void>;
  log: Logger;
}

const CHARSET_TYPES = /^(var)?char\b|^(tiny|medium|long)?text\b|^enum\b|^set\b/i;

/** The original column's value as the ghost's type would hold it, or null when no CAST reproduces it exactly. */
export function castToGhost(source: ColumnInfo, target: ColumnInfo): string | null {
  const col = quoteIdent(source.name);
  if (source.type.toLowerCase() === target.type.toLowerCase() && source.collation === target.collation) return col;
  const t = target.type.toLowerCase();
  if (/^(tinyint|smallint|mediumint|int|integer|bigint)\b/.test(t)) return `CAST(${col} AS ${/\bunsigned\b/.test(t) ? 'UNSIGNED' : 'SIGNED'})`;
  let m = /^decimal\((\d+),(\d+)\)/.exec(t);
  if (m) return `CAST(${col} AS DECIMAL(${m[1]},${m[2]}))`;
  m = /^(datetime|timestamp)(?:\((\d)\))?$/.exec(t);
  if (m) return `CAST(${col} AS DATETIME(${m[2] ?? 0}))`;
  if (t === 'date') return `CAST(${col} AS DATE)`;
  m = /^time(?:\((\d)\))?$/.exec(t);
  if (m) return `CAST(${col} AS TIME(${m[1] ?? 0}))`;
  if (CHARSET_TYPES.test(t) && target.collation) return `CONVERT(${col} USING ${target.collation.split('_')[0]})`;
  if (/^(varbinary|tinyblob|blob|mediumblob|longblob)\b/.test(t)) return `CAST(${col} AS BINARY)`;
  return null;
}

interface Compared {
  source: string[];
  target: string[];
  uncompared: string[];
}

function comparedColumns(ctx: MysqlVerifyContext): Compared {
  const byName = (info: TableInfo, name: string) => info.columns.find((c) => c.name.toLowerCase() === name.toLowerCase());
  const out: Compared = { source: [], target: [], uncompared: [] };
  for (const p of ctx.plan.mapping.pairs) {
    const s = byName(ctx.original, p.source);
    const t = byName(ctx.ghost, p.target);
    const expr = s && t ? castToGhost(s, t) : null;
    if (!expr) {
      out.uncompared.push(`${p.target} (${s?.type ?? '?'} -> ${t?.type ?? '?'}: no exact cast)`);
      continue;
    }
    // CONCAT_WS skips NULLs: a column that may be NULL goes in with a marker ('v' tells a value from
    // the marker 'n'). One NOT NULL on both sides and compared as it is (no cast, which could yield
    // NULL) needs none: ~30% of the row checksum's cost on sysbench rows (1M: 0.20 s against 0.29 s).
    const bare = expr === quoteIdent(s!.name) && !s!.nullable && !t!.nullable;
    out.source.push(bare ? expr : nullMarked(expr));
    out.target.push(bare ? quoteIdent(p.target) : nullMarked(quoteIdent(p.target)));
  }
  return out;
}

const nullMarked = (e: string): string => `IFNULL(CONCAT('v', ${e}), 'n')`;

/** The row's text: its compared values (comparedColumns: NULL-marked where they may be NULL), '|' between. */
const rowText = (exprs: string[]): string => `CONCAT_WS('|', ${exprs.join(', ')})`;

function rangeWhere(key: readonly string[], after: KeyTuple | null, through: KeyTuple): Sql {
  const parts = [after ? keyCompare(key, '>', after) : null, keyCompare(key, '<=', through)].filter((p): p is Sql => p !== null);
  return { sql: parts.map((p) => p.sql).join(' AND '), params: parts.flatMap((p) => p.params) };
}

/** Chunk checksum of one side: `n` rows and `c` the XOR of their CRC32s. */
export function buildChecksum(table: TableRef, key: readonly string[], exprs: string[], after: KeyTuple | null, through: KeyTuple, index?: string): Sql {
  const w = rangeWhere(key, after, through);
  const force = index ? ` FORCE INDEX (${quoteIdent(index)})` : '';
  return { sql: `SELECT COUNT(*) AS n, COALESCE(BIT_XOR(CRC32(${rowText(exprs)})), 0) AS c FROM ${qualified(table)}${force} WHERE ${w.sql}`, params: w.params };
}

/**
 * Every bucket's count and XOR of CRC32s in one statement: a range checksum
 * per bucket of the plan (engine/key-spans.ts), UNION ALL, each a range of
 * the clustered index, so the table is read once. A scan grouped by bucket
 * reads it once too but groups in a temporary table: measured on 1M sbtest1
 * rows (5 alternated reps, load 4-5) 0.85-1.86 s, against 0.72-1.38 s for
 * 20 ranges UNION ALL and 0.64-1.05 s for one ungrouped checksum. Bounds go
 * as CAST(? AS SIGNED): a string operand would compare as a DOUBLE and blur
 * the buckets' edges beyond 2^53. The first bucket is open below (the
 * ghost's rows under the original's first key count there); the ghost's rows
 * above the last are ghostKeyAfter's.
 */
export function buildSpanChecksums(table: TableRef, key: string, exprs: string[], s: KeySpans, index?: string): Sql {
  const k = quoteIdent(key);
  const force = index ? ` FORCE INDEX (${quoteIdent(index)})` : '';
  const parts: string[] = [];
  const params: unknown[] = [];
  for (let b = 0n; b < spanCount(s); b++) {
    const r = spanBounds(s, b);
    const where = r.after ? `${k} > CAST(? AS SIGNED) AND ${k} <= CAST(? AS SIGNED)` : `${k} <= CAST(? AS SIGNED)`;
    parts.push(`SELECT ${b} AS b, COUNT(*) AS n, COALESCE(BIT_XOR(CRC32(${rowText(exprs)})), 0) AS c FROM ${qualified(table)}${force} WHERE ${where}`);
    params.push(...(r.after ?? []), ...r.through);
  }
  return { sql: parts.join(' UNION ALL '), params };
}

function buildRowHashes(table: TableRef, key: readonly string[], exprs: string[], after: KeyTuple | null, through: KeyTuple): Sql {
  const w = rangeWhere(key, after, through);
  return { sql: `SELECT ${key.map(quoteIdent).join(', ')}, CRC32(${rowText(exprs)}) AS gw_crc FROM ${qualified(table)} WHERE ${w.sql}`, params: w.params };
}

export async function openMysqlVerifyPoint(ctx: MysqlVerifyContext): Promise<VerifyPoint> {
  const cols = comparedColumns(ctx);
  const t = ctx.original.ref;
  const lock = await openConnection(ctx.spec);
  // Two snapshots of the same point: the original's side and the ghost's
  // are checksummed at once, which halves the verification's wall time.
  // Both open while `t` is locked and the ghost caught up, so both see
  // exactly that state (nothing else writes either table then).
  const snap = await openConnection(ctx.spec, { supportBigNumbers: true, bigNumberStrings: true });
  const snapGhost = await openConnection(ctx.spec, { supportBigNumbers: true, bigNumberStrings: true }).catch(async (err: unknown) => {
    await snap.end().catch(() => undefined);
    throw err;
  });
  let lockMs = 0;
  try {
    await lock.query('SET SESSION lock_wait_timeout = ?', [Math.max(1, Math.ceil(ctx.lockTimeoutMs / 1000))]);
    for (const s of [snap, snapGhost]) await s.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    const t0 = Date.now();
    try {
      await lock.query(`LOCK TABLES ${qualified(t)} READ`);
    } catch (err) {
      throw lockTimeout(ctx, err);
    }
    try {
      await ctx.waitCaughtUp(ctx.lockTimeoutMs).catch((err: unknown) => {
        throw (err as GhostwrightError).code === 'E_CATCHUP_TIMEOUT' ? lockTimeout(ctx, err) : err;
      });
      for (const s of [snap, snapGhost]) await s.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
    } finally {
      await lock.query('UNLOCK TABLES').catch(() => undefined);
      lockMs = Date.now() - t0;
    }
  } catch (err) {
    for (const s of [snap, snapGhost]) await s.end().catch(() => undefined);
    throw err;
  } finally {
    await lock.end().catch(() => undefined);
  }
  const sourceKey = ctx.plan.sourceKey;
  const targetKey = ctx.plan.targetKey;
  const scan = { table: t, index: ctx.plan.keyName, key: sourceKey };
  const keyOf = async (q: Sql): Promise<KeyTuple | null> => {
    const [rows] = await snap.query({ sql: q.sql, rowsAsArray: true }, q.params);
    return ((rows as unknown[][])[0] as KeyTuple | undefined) ?? null;
  };
  const check = async (after: KeyTuple | null, through: KeyTuple): Promise<VerifyChunk> => {
    const o = buildChecksum(t, sourceKey, cols.source, after, through, ctx.plan.keyName);
    const g = buildChecksum(ctx.ghostRef, targetKey, cols.target, after, through);
    const [[a], [b]] = await Promise.all([queryRows(snap, o.sql, o.params), queryRows(snapGhost, g.sql, g.params)]);
    return { after, through, rows: Number(a!.n), same: String(a!.n) === String(b!.n) && String(a!.c) === String(b!.c) };
  };
  // One integer key: chunks are spans of key values (split.ts), each as wide
  // as the last one's density says holds `limit` rows, so no row is read
  // twice (an OFFSET boundary read walks the chunk's rows once more).
  const keyType = ctx.original.columns.find((c) => c.name.toLowerCase() === sourceKey[0]!.toLowerCase())?.type ?? '';
  const ends = sourceKey.length === 1 && mysqlKeyKind(keyType) === 'integer' ? { min: await keyOf(buildKeyBound({ ...scan, desc: false })), max: await keyOf(buildKeyBound({ ...scan, desc: true })) } : null;
  let width = 0;
  let lastRows = 0;
  let busy = 0;
  const ghostKeyType = ctx.ghost.columns.find((c) => c.name.toLowerCase() === targetKey[0]!.toLowerCase())?.type ?? '';
  const bucketed = ends !== null && targetKey.length === 1 && mysqlKeyKind(ghostKeyType) === 'integer';
  // A differing bucket far larger than a span is walked by span-sized chunks (key-spans.ts).
  const refine = (c: VerifyChunk): Promise<VerifyChunk[]> =>
    refineSpan(c, 2 * MYSQL_SPAN_ROWS, (after, through) => keyOf(buildKeyAtOffset({ ...scan, after, upTo: through, offset: MYSQL_SPAN_ROWS - 1 })), check);
  return {
    lockMs,
    uncompared: cols.uncompared,
    async spans() {
      if (!bucketed || !ends) return null;
      if (!ends.min || !ends.max) return [];
      const [est] = await queryRows(snap, 'SELECT TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [t.schema, t.name]);
      const max = BigInt(String(ends.max[0]));
      const plan = max < 2n ** 63n ? planKeySpans(BigInt(String(ends.min[0])), max, Number(est?.n ?? 0), MYSQL_SPAN_ROWS, MYSQL_MAX_SPANS) : null;
      if (!plan) return null;
      const o = buildSpanChecksums(t, sourceKey[0]!, cols.source, plan, ctx.plan.keyName);
      const g = buildSpanChecksums(ctx.ghostRef, targetKey[0]!, cols.target, plan);
      // Empty buckets left out, as a grouped scan would: a sparse key's gaps are not chunks.
      const sums = (rows: Record<string, unknown>[]) => new Map(rows.filter((r) => Number(r.n) > 0).map((r) => [String(r.b), { n: String(r.n), c: String(r.c) }]));
      busy++;
      const [a, b] = await Promise.all([queryRows(snap, o.sql, o.params), queryRows(snapGhost, g.sql, g.params)]).finally(() => busy--);
      const out: VerifyChunk[] = [];
      for (const x of compareBuckets(sums(a), sums(b))) out.push(...(await refine({ ...spanBounds(plan, x.bucket, keyValue), rows: x.rows, same: x.same })));
      return out;
    },
    async chunk(after, limit) {
      if (ends) {
        if (!ends.min || !ends.max) return null;
        width = width ? Math.min(width * 4, Math.max(1, width / 4, width * (limit / Math.max(1, lastRows)))) : limit;
        const end = nextIntegerBoundary(after, ends.min, ends.max, width);
        if (!end) return null;
        const out = await check(after, end);
        lastRows = out.rows;
        return out;
      }
      const through = (await keyOf(buildKeyAtOffset({ ...scan, after, upTo: null, offset: Math.max(0, limit - 1) }))) ?? (await keyOf(buildLastKeyInRange({ ...scan, after, upTo: null })));
      return through ? check(after, through) : null;
    },
    range: check,
    async differingKeys(after, through, max) {
      const hashes = async (q: Sql, key: readonly string[]) => {
        const rows = await queryRows(snap, q.sql, q.params);
        return new Map(rows.map((r) => [JSON.stringify(key.map((k) => String(r[k]))), { key: key.map((k) => r[k]) as KeyTuple, crc: String(r.gw_crc) }]));
      };
      const o = await hashes(buildRowHashes(t, sourceKey, cols.source, after, through), sourceKey);
      const g = await hashes(buildRowHashes(ctx.ghostRef, targetKey, cols.target, after, through), targetKey);
      const out: KeyTuple[] = [];
      for (const [k, row] of [...o, ...g]) if (out.length < max && o.get(k)?.crc !== g.get(k)?.crc && !out.some((x) => JSON.stringify(x.map(String)) === k)) out.push(row.key);
      return out;
    },
    async ghostKeyAfter(after) {
      const w = after ? keyCompare(targetKey, '>', after) : { sql: '1=1', params: [] };
      const desc = targetKey.map((c) => `${quoteIdent(c)} DESC`).join(', ');
      const [rows] = await snapGhost.query({ sql: `SELECT ${keyCols(targetKey)} FROM ${qualified(ctx.ghostRef)} WHERE ${w.sql} ORDER BY ${desc} LIMIT 1`, rowsAsArray: true }, w.params);
      return ((rows as unknown[][])[0] as KeyTuple | undefined) ?? null;
    },
    async close() {
      // Closed while spans() runs (the run is stopping): its statements are stopped, or the ROLLBACK would wait for a whole table's read.
      if (busy > 0) for (const s of [snap, snapGhost]) await ctx.pool.query(`KILL QUERY ${Number(s.threadId)}`).catch(() => undefined);
      for (const s of [snap, snapGhost]) {
        await s.query('ROLLBACK').catch(() => undefined);
        await s.end().catch(() => undefined);
      }
    },
  };
}

function lockTimeout(ctx: MysqlVerifyContext, err: unknown): GhostwrightError {
  return new GhostwrightError('E_VERIFY_LOCK_TIMEOUT', `verification could not hold writes to ${ctx.original.ref.name} for ${ctx.lockTimeoutMs} ms to fix its consistent point: ${(err as Error).message}`, {
    cause: err,
    hint: 'a long transaction or a heavy write load; it is retried, and --cut-over-lock-timeout bounds each attempt',
  });
}

/**
 * Copies the original's rows of (after, through] into the ghost again: the
 * apply's delete + locking re-read (see apply.ts), over a key range, inside
 * the copy window, exclusively, so no chunk or batch overlaps it.
 */
export async function recopyMysqlRange(ctx: Omit<MysqlVerifyContext, 'waitCaughtUp' | 'spec'>, after: KeyTuple | null, through: KeyTuple): Promise<void> {
  const pairs = ctx.plan.mapping.pairs;
  const del = rangeWhere(ctx.plan.targetKey, after, through);
  const src = rangeWhere(ctx.plan.sourceKey, after, through);
  await ctx.gate.exclusive(async () => {
    const conn = await ctx.pool.getConnection();
    try {
      await conn.query('START TRANSACTION');
      await queryExec(conn, `DELETE FROM ${qualified(ctx.ghostRef)} WHERE ${del.sql}`, del.params);
      const res = await queryExec(
        conn,
        `INSERT INTO ${qualified(ctx.ghostRef)} (${pairs.map((p) => quoteIdent(p.target)).join(', ')}) SELECT ${pairs.map((p) => quoteIdent(p.source)).join(', ')} FROM ${qualified(ctx.original.ref)} FORCE INDEX (${quoteIdent(ctx.plan.keyName)}) WHERE ${src.sql} LOCK IN SHARE MODE`,
        src.params,
      );
      if (res.warningStatus > 0) {
        const warnings = (await queryRows(conn, 'SHOW WARNINGS')).filter((w) => !BENIGN_WARNINGS.has(Number(w.Code)));
        if (warnings.length) throw new GhostwrightError('E_APPLY_DATA_LOSS', `copying the chunk again would change values: ${String(warnings[0]!.Message)}`, { hint: 'the ALTER truncates or converts data lossily; fix the data or the ALTER' });
      }
      await conn.query('COMMIT');
    } catch (err) {
      await conn.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      conn.release();
    }
  });
}
