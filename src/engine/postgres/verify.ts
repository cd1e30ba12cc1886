/**
 * Verification before cut-over on PostgreSQL (see core/verify.ts), without
 * holding writers at all.
 *
 * The point: the applier is held (after a catch-up, the backlog is small),
 * so the ghost no longer changes. Session A begins a REPEATABLE READ
 * transaction and exports its snapshot X; session B imports it. A WAL marker
 * is emitted after X, and once the stream has RECEIVED it, every change
 * visible in X is in the backlog or already in the ghost: a commit visible
 * in X wrote its commit record before X, so before the marker. A then takes
 * the whole backlog and applies it to the ghost INSIDE its transaction,
 * reading the original at X: the ghost as A sees it is the ghost brought to
 * exactly X (a change not visible in X that came along is re-read as of X:
 * harmless). No other session writes the ghost meanwhile (the applier is
 * held, the copy is done), so A's writes meet no serialization failure.
 * B checksums the original at X while A checksums the ghost, in parallel:
 * with a single integer key in ONE scan each (spans(): the whole table's
 * checksum, and only when it differs a scan grouped by span of key values,
 * engine/key-spans.ts; measured on 1M pgbench rows, 0.26-0.34 s a table
 * ungrouped, 0.45-0.54 s grouped, against 0.76-1.36 s for the 20 chunk
 * checksums and chunk-end lookups), any other key chunk by chunk.
 * At close A rolls back, the taken keys go back to the backlog untouched (no
 * position was acknowledged for them), and the applier resumes.
 *
 * A chunk's checksum is count(*) and the sum of a 64-bit hash of each row's
 * shared columns, the original's values cast to the ghost's column types
 * (format_type), or its ALTER ... USING expression: as the ghost holds them.
 * The hash is hash_record_extended over the row (PostgreSQL 14+), ~2x cheaper
 * than hashtextextended of the row's text (measured: 1M pgbench rows, 0.5 s
 * against 1.0 s), itself ~3x cheaper than md5. Only types whose binary hash is
 * as strict as their text are hashed as they are (integers, booleans, dates,
 * timestamps, uuid, bytea, strings under COLLATE "C" so a nondeterministic
 * collation cannot make two spellings equal); any other column (numeric, where
 * 1.0 = 1.00; floats, where -0 = 0; json; arrays; domains; user types) goes in
 * as its text, as before.
 */
import type pg from 'pg';
import type { ChangeApplier, ApplyWork } from '../../core/change-applier.js';
import type { BacklogBatch } from '../../core/change-backlog.js';
import type { CopyWindow } from '../../core/copy-window.js';
import { GhostwrightError } from '../../errors.js';
import type { KeyTuple, TableInfo, TableRef, VerifyChunk, VerifyPoint } from '../engine.js';
import { compareBuckets, planKeySpans, refineSpan, spanBounds, type KeySpans } from '../key-spans.js';
import type { PgApplySql } from './apply.js';
import { inTransaction } from './connect.js';
import { qualified, quoteIdent } from './ident.js';
import { chunkEndSql, copyRangeSql, type CopySpec, type Sql } from './sql.js';
import type { ChangeStream } from './stream.js';

/** Original rows per verification chunk: a chunk costs ~4 round trips, its checksum ~1 us a row. */
export const VERIFY_CHUNK_ROWS = 50_000;

export interface PgVerifyContext {
  pool: pg.Pool;
  window: CopyWindow;
  spec: CopySpec;
  ghost: TableInfo;
  stream: ChangeStream;
  applier: ChangeApplier<string>;
  applySql: PgApplySql;
  /** How long the stream may take to deliver the point's marker. */
  markerTimeoutMs: number;
  emitMarker: () => Promise<string>;
  waitCaughtUp: (timeoutMs: number) => Promise<void>;
}

const castTuple = (types: string[], first: number): string => `(${types.map((t, i) => `$${first + i}::${t}`).join(', ')})`;
const row = (names: string[]): string => `(${names.map(quoteIdent).join(', ')})`;

/** `key > after AND key <= through` over `key`, parameters from $1. */
export function keyRange(key: string[], types: string[], after: KeyTuple | null, through: KeyTuple): Sql {
  const params: unknown[] = [];
  const parts: string[] = [];
  if (after) {
    parts.push(`${row(key)} > ${castTuple(types, 1)}`);
    params.push(...after);
  }
  parts.push(`${row(key)} <= ${castTuple(types, params.length + 1)}`);
  params.push(...through);
  return { sql: parts.join(' AND '), params };
}

/** format_type() names whose binary hash tells apart exactly the values their text does. */
const BINARY_HASHED = /^(smallint|integer|bigint|boolean|date|uuid|bytea|timestamp(\(\d\))? with(out)? time zone)$/;
const STRING = /^(text|character varying(\(\d+\))?|character(\(\d+\))?)$/;

/** A compared value as it goes into the row hash: itself, byte-compared, or its text. */
export function hashedValue(expr: string, type: string): string {
  if (BINARY_HASHED.test(type)) return expr;
  if (STRING.test(type)) return `(${expr} COLLATE "C")`;
  return `((${expr})::text COLLATE "C")`;
}

/** The original's value of each shared column as the ghost holds it, and the ghost's. */
export function comparedExpressions(spec: CopySpec, ghost: TableInfo): { source: string[]; target: string[] } {
  const typeOf = (name: string) => ghost.columns.find((c) => c.name === name)?.type;
  const source: string[] = [];
  const target: string[] = [];
  for (const p of spec.pairs) {
    const type = typeOf(p.target);
    if (!type) continue;
    source.push(hashedValue(`(${p.expression ?? quoteIdent(p.source)})::${type}`, type));
    target.push(hashedValue(quoteIdent(p.target), type));
  }
  return { source, target };
}

const rowHash = (exprs: string[]): string => `hash_record_extended(ROW(${exprs.join(', ')}), 0)`;

export function checksumSql(table: TableRef, key: string[], types: string[], exprs: string[], after: KeyTuple | null, through: KeyTuple): Sql {
  const w = keyRange(key, types, after, through);
  return { sql: `SELECT count(*)::text AS n, coalesce(sum(${rowHash(exprs)}), 0)::text AS c FROM ${qualified(table)} WHERE ${w.sql}`, params: w.params };
}

/** Integer key types that bucket exactly in int8 arithmetic (engine/key-spans.ts). */
const INTEGER_KEY = /^(smallint|integer|bigint)$/;
/**
 * Per-bucket count and hash sum of a whole table in one scan. The ghost's
 * rows below min go to bucket 0 (CASE, so key - min never runs on them and
 * cannot overflow); its rows above max are left out (ghostKeyAfter sees
 * them). Keys are compared as int8: the ALTER may have widened the ghost's.
 */
export function spanChecksumSql(table: TableRef, key: string, exprs: string[], s: KeySpans, side: 'original' | 'ghost'): Sql {
  const k = quoteIdent(key);
  const bucket = `(${k}::int8 - $1::int8) / $2::int8`;
  const params = [String(s.min), String(s.span)];
  if (side === 'original') return { sql: `SELECT ${bucket} AS b, count(*)::text AS n, coalesce(sum(${rowHash(exprs)}), 0)::text AS c FROM ${qualified(table)} GROUP BY 1`, params };
  return { sql: `SELECT CASE WHEN ${k} < $1::int8 THEN 0 ELSE ${bucket} END AS b, count(*)::text AS n, coalesce(sum(${rowHash(exprs)}), 0)::text AS c FROM ${qualified(table)} WHERE ${k} <= $3::int8 GROUP BY 1`, params: [...params, String(s.max)] };
}

export async function openPgVerifyPoint(ctx: PgVerifyContext): Promise<VerifyPoint> {
  const { spec, stream } = ctx;
  const cols = comparedExpressions(spec, ctx.ghost);
  // A small backlog: what A applies below is little, and the stream is not paused at its high-water mark.
  await ctx.waitCaughtUp(ctx.markerTimeoutMs);
  await ctx.applier.hold(true);
  const clients: pg.PoolClient[] = [];
  let taken: BacklogBatch | null = null;
  // Statements of spans() running: a close while one runs (the run is stopping) cancels them, or
  // the ROLLBACK would queue behind a whole table's scan; those sessions are then not pooled again.
  let busy = 0;
  const end = async (): Promise<void> => {
    const cancelled = busy > 0;
    if (cancelled) await ctx.pool.query('SELECT pg_cancel_backend(pid) FROM unnest($1::int[]) AS pid', [clients.map((c) => (c as unknown as { processID: number }).processID)]).catch(() => undefined);
    for (const c of clients) {
      await c.query('ROLLBACK').catch(() => undefined);
      c.release(cancelled);
    }
    clients.length = 0;
    // A's writes are gone: the keys it applied are pending again, their positions never acknowledged.
    if (taken) stream.queue.requeue(taken);
    taken = null;
    await ctx.applier.hold(false);
  };
  let a: pg.PoolClient;
  let b: pg.PoolClient;
  try {
    a = await ctx.pool.connect();
    clients.push(a);
    b = await ctx.pool.connect();
    clients.push(b);
    await a.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    const exported = (await a.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0]!.id;
    if (!/^[0-9A-Fa-f-]+$/.test(exported)) throw new GhostwrightError('E_VERIFY', `unexpected snapshot id ${exported}`);
    await b.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await b.query(`SET TRANSACTION SNAPSHOT '${exported}'`);
    const id = await ctx.emitMarker();
    await stream.waitFor(() => stream.markerReceived(id) || stream.error !== null, ctx.markerTimeoutMs);
    if (stream.error) throw stream.error;
    const received = stream.markerReceived(id);
    stream.forgetMarker(id);
    if (!received) throw new GhostwrightError('E_VERIFY_LOCK_TIMEOUT', `the stream did not deliver the verification's marker within ${ctx.markerTimeoutMs} ms`, { hint: 'a heavy write load; it is retried' });
    taken = stream.queue.take(Number.MAX_SAFE_INTEGER);
    if (taken.entries.length || taken.truncate) await catchUpAtSnapshot(ctx, a, taken);
  } catch (err) {
    await end();
    throw err;
  }
  const s = b;
  const ghostSide = a;
  const n = spec.sourceKey.length;
  const keyOf = async (q: Sql): Promise<KeyTuple | null> => {
    const r = (await s.query(q.sql, q.params)).rows[0] as Record<string, unknown> | undefined;
    return r ? Array.from({ length: n }, (_, i) => String(r[`k${i}`])) : null;
  };
  const lastKey = (after: KeyTuple | null, table = spec.original, key = spec.sourceKey): Sql => {
    const keyText = key.map((k, i) => `${quoteIdent(k)}::text AS k${i}`).join(', ');
    const order = key.map((k) => `${quoteIdent(k)} DESC`).join(', ');
    const where = after ? ` WHERE ${row(key)} > ${castTuple(spec.keyTypes, 1)}` : '';
    return { sql: `SELECT ${keyText} FROM ${qualified(table)}${where} ORDER BY ${order} LIMIT 1`, params: after ? [...after] : [] };
  };
  const check = async (after: KeyTuple | null, through: KeyTuple): Promise<VerifyChunk> => {
    const oq = checksumSql(spec.original, spec.sourceKey, spec.keyTypes, cols.source, after, through);
    const gq = checksumSql(spec.ghost, spec.targetKey, spec.keyTypes, cols.target, after, through);
    // The original on B, the ghost (with A's catch-up) on A, side by side: one snapshot.
    const [o, h] = await Promise.all([s.query(oq.sql, oq.params), ghostSide.query(gq.sql, gq.params)]);
    const x = o.rows[0] as { n: string; c: string };
    const y = h.rows[0] as { n: string; c: string };
    return { after, through, rows: Number(x.n), same: x.n === y.n && x.c === y.c };
  };
  const endAfter = async (after: KeyTuple | null, limit: number): Promise<KeyTuple | null> =>
    (await keyOf(chunkEndSql(spec, after, null, limit))) ?? (await keyOf(lastKey(after)));
  // The next chunk's end, looked up on B right behind B's checksum, while A still hashes the ghost:
  // the ~30 ms index walk per 50k keys leaves the critical path.
  let next: { after: string; limit: number; end: Promise<KeyTuple | null> } | null = null;
  const ghostKeyType = ctx.ghost.columns.find((c) => c.name === spec.targetKey[0])?.type ?? '';
  const integerKey = n === 1 && INTEGER_KEY.test(spec.keyTypes[0]!) && INTEGER_KEY.test(ghostKeyType);
  // A differing span wider than a chunk is walked by chunks (key-spans.ts).
  const refine = (c: VerifyChunk): Promise<VerifyChunk[]> => refineSpan(c, VERIFY_CHUNK_ROWS, (after, through) => keyOf(chunkEndSql(spec, after, through, VERIFY_CHUNK_ROWS)), check);
  return {
    lockMs: 0,
    chunkRows: VERIFY_CHUNK_ROWS,
    async spans() {
      if (!integerKey) return null;
      const k = quoteIdent(spec.sourceKey[0]!);
      const ends = (await s.query(`SELECT min(${k})::text AS lo, max(${k})::text AS hi, (SELECT reltuples FROM pg_class WHERE oid = $1::regclass)::float8 AS est FROM ${qualified(spec.original)}`, [qualified(spec.original)])).rows[0] as { lo: string | null; hi: string | null; est: number };
      if (ends.lo === null || ends.hi === null) return [];
      const plan = planKeySpans(BigInt(ends.lo), BigInt(ends.hi), Number(ends.est));
      if (!plan) return null;
      // Equal tables (the common case) need one ungrouped scan each: grouping by bucket costs ~70% more
      // (1M pgbench rows: 0.26-0.34 s against 0.45-0.54 s). Only a difference pays a second, grouped scan
      // to find its buckets. The sum of 64-bit hashes over all rows proves as much as per bucket.
      busy++;
      try {
        const whole = await check(null, [ends.hi]);
        if (whole.same) return [whole];
      } finally {
        busy--;
      }
      const oq = spanChecksumSql(spec.original, spec.sourceKey[0]!, cols.source, plan, 'original');
      const gq = spanChecksumSql(spec.ghost, spec.targetKey[0]!, cols.target, plan, 'ghost');
      // A few thousand groups at most, but the planner guesses one per key and would sort the whole table: hash them.
      const pass = async (c: pg.ClientBase, q: Sql) => {
        await c.query('SET LOCAL enable_sort = off');
        return new Map((await c.query(q.sql, q.params)).rows.map((r: { b: string; n: string; c: string }) => [r.b, r]));
      };
      busy++;
      const [o, g] = await Promise.all([pass(s, oq), pass(ghostSide, gq)]).finally(() => busy--);
      const out: VerifyChunk[] = [];
      for (const b of compareBuckets(o, g)) out.push(...(await refine({ ...spanBounds(plan, b.bucket), rows: b.rows, same: b.same })));
      return out;
    },
    uncompared: [],
    async chunk(after, limit) {
      const ahead = next && next.after === JSON.stringify(after) && next.limit === limit ? next.end : null;
      next = null;
      const through = await (ahead ?? endAfter(after, limit));
      if (!through) return null;
      const result = check(after, through); // queues B's checksum first
      next = { after: JSON.stringify(through), limit, end: endAfter(through, limit) };
      next.end.catch(() => undefined); // awaited (and its error thrown) by the next chunk, if any
      return result;
    },
    range: check,
    async differingKeys(after, through, max) {
      const hashes = async (table: TableRef, key: string[], exprs: string[]) => {
        const w = keyRange(key, spec.keyTypes, after, through);
        const rows = (await (table === spec.ghost ? ghostSide : s).query(`SELECT ${key.map((k, i) => `${quoteIdent(k)}::text AS k${i}`).join(', ')}, ${rowHash(exprs)} AS h FROM ${qualified(table)} WHERE ${w.sql}`, w.params)).rows as Record<string, string>[];
        return new Map(rows.map((r) => [JSON.stringify(key.map((_, i) => r[`k${i}`])), r.h]));
      };
      const o = await hashes(spec.original, spec.sourceKey, cols.source);
      const g = await hashes(spec.ghost, spec.targetKey, cols.target);
      const keys = [...new Set([...o.keys(), ...g.keys()])].filter((k) => o.get(k) !== g.get(k));
      return keys.slice(0, max).map((k) => JSON.parse(k) as string[]);
    },
    async ghostKeyAfter(after) {
      // On A: the ghost as it stands with A's catch-up applied.
      const q = lastKey(after, spec.ghost, spec.targetKey);
      const r = (await ghostSide.query(q.sql, q.params)).rows[0] as Record<string, unknown> | undefined;
      return r ? Array.from({ length: n }, (_, i) => String(r[`k${i}`])) : null;
    },
    close: end,
  };
}

/** Applies the taken keys to the ghost inside A's transaction, reading the original at A's snapshot. */
async function catchUpAtSnapshot(ctx: PgVerifyContext, a: pg.ClientBase, batch: BacklogBatch): Promise<void> {
  const work: ApplyWork = {
    write: batch.entries.map((e) => e.key),
    ahead: [],
    tokens: [],
    truncate: batch.truncate,
    settle: () => [],
    copied: ctx.window.exact ? null : ctx.window.spans(),
  };
  // final: at one snapshot, a unique violation is real.
  await ctx.applySql.applyLocked(a, work, true);
}

/** Copies the original's rows of (after, through] into the ghost again, replacing the ghost's rows of those keys, with no chunk or apply batch running. */
export async function recopyPgRange(ctx: Pick<PgVerifyContext, 'pool' | 'window' | 'spec'>, after: KeyTuple | null, through: KeyTuple): Promise<void> {
  const { spec } = ctx;
  const del = keyRange(spec.targetKey, spec.keyTypes, after, through);
  const ins = copyRangeSql(spec, after, through);
  await ctx.window.exclusive(() =>
    inTransaction(ctx.pool, async (client) => {
      await client.query(`DELETE FROM ${qualified(spec.ghost)} WHERE ${del.sql}`, del.params);
      await client.query(ins.sql, ins.params);
    }),
  );
}
