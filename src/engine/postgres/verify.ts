/**
 * Verification before cut-over on PostgreSQL (see core/verify.ts).
 *
 * One consistent point: session L takes `LOCK TABLE t IN SHARE MODE` under a
 * lock_timeout (it waits for the transactions writing `t` and holds new
 * writers; readers go on), and the stream applies everything before a WAL
 * marker emitted then. Session S begins a REPEATABLE READ transaction and
 * takes its snapshot while L still holds the lock, so S sees `t` and the
 * ghost at the same point; L then lets go. S checksums both tables chunk by
 * chunk by the copy key while the application writes on.
 *
 * A chunk's checksum is count(*) and the sum of 60 bits of each row's md5 of
 * `ROW(shared columns)::text`, the original's values cast to the ghost's
 * column types (format_type), or its ALTER ... USING expression: as the ghost
 * holds them.
 */
import type pg from 'pg';
import type { CopyWindow } from '../../core/copy-window.js';
import { GhostwrightError } from '../../errors.js';
import type { KeyTuple, TableInfo, TableRef, VerifyChunk, VerifyPoint } from '../engine.js';
import { inTransaction } from './connect.js';
import { qualified, quoteIdent } from './ident.js';
import { chunkEndSql, copyRangeSql, type CopySpec, type Sql } from './sql.js';

export interface PgVerifyContext {
  pool: pg.Pool;
  window: CopyWindow;
  spec: CopySpec;
  ghost: TableInfo;
  lockTimeoutMs: number;
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

/** The original's value of each shared column as the ghost holds it, and the ghost's. */
export function comparedExpressions(spec: CopySpec, ghost: TableInfo): { source: string[]; target: string[] } {
  const typeOf = (name: string) => ghost.columns.find((c) => c.name === name)?.type;
  const source: string[] = [];
  const target: string[] = [];
  for (const p of spec.pairs) {
    const type = typeOf(p.target);
    if (!type) continue;
    source.push(`(${p.expression ?? quoteIdent(p.source)})::${type}`);
    target.push(quoteIdent(p.target));
  }
  return { source, target };
}

const rowHash = (exprs: string[]): string => `md5(ROW(${exprs.join(', ')})::text)`;

export function checksumSql(table: TableRef, key: string[], types: string[], exprs: string[], after: KeyTuple | null, through: KeyTuple): Sql {
  const w = keyRange(key, types, after, through);
  return { sql: `SELECT count(*)::text AS n, coalesce(sum(('x' || substr(${rowHash(exprs)}, 1, 15))::bit(60)::bigint), 0)::text AS c FROM ${qualified(table)} WHERE ${w.sql}`, params: w.params };
}

export async function openPgVerifyPoint(ctx: PgVerifyContext): Promise<VerifyPoint> {
  const { spec } = ctx;
  const cols = comparedExpressions(spec, ctx.ghost);
  const lock = await ctx.pool.connect();
  let snap: pg.PoolClient | null = null;
  let lockMs = 0;
  try {
    snap = await ctx.pool.connect();
    await lock.query('BEGIN');
    await lock.query(`SELECT set_config('lock_timeout', $1, true)`, [`${ctx.lockTimeoutMs}ms`]);
    const t0 = Date.now();
    try {
      await lock.query(`LOCK TABLE ${qualified(spec.original)} IN SHARE MODE`);
      await ctx.waitCaughtUp(ctx.lockTimeoutMs);
      await snap.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await snap.query('SELECT 1'); // the snapshot is taken by the first statement
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === '55P03' || code === 'E_CATCHUP_TIMEOUT') throw lockTimeout(spec.original, ctx.lockTimeoutMs, err);
      throw err;
    } finally {
      await lock.query('ROLLBACK').catch(() => undefined);
      lockMs = Date.now() - t0;
    }
  } catch (err) {
    if (snap) {
      await snap.query('ROLLBACK').catch(() => undefined);
      snap.release();
    }
    throw err;
  } finally {
    lock.release();
  }
  const s = snap;
  const n = spec.sourceKey.length;
  const keyOf = async (q: Sql): Promise<KeyTuple | null> => {
    const r = (await s.query(q.sql, q.params)).rows[0] as Record<string, unknown> | undefined;
    return r ? Array.from({ length: n }, (_, i) => String(r[`k${i}`])) : null;
  };
  const lastKey = (after: KeyTuple | null): Sql => {
    const keyText = spec.sourceKey.map((k, i) => `${quoteIdent(k)}::text AS k${i}`).join(', ');
    const order = spec.sourceKey.map((k) => `${quoteIdent(k)} DESC`).join(', ');
    const where = after ? ` WHERE ${row(spec.sourceKey)} > ${castTuple(spec.keyTypes, 1)}` : '';
    return { sql: `SELECT ${keyText} FROM ${qualified(spec.original)}${where} ORDER BY ${order} LIMIT 1`, params: after ? [...after] : [] };
  };
  const check = async (after: KeyTuple | null, through: KeyTuple): Promise<VerifyChunk> => {
    const o = checksumSql(spec.original, spec.sourceKey, spec.keyTypes, cols.source, after, through);
    const g = checksumSql(spec.ghost, spec.targetKey, spec.keyTypes, cols.target, after, through);
    const a = (await s.query(o.sql, o.params)).rows[0] as { n: string; c: string };
    const b = (await s.query(g.sql, g.params)).rows[0] as { n: string; c: string };
    return { after, through, rows: Number(a.n), same: a.n === b.n && a.c === b.c };
  };
  return {
    lockMs,
    uncompared: [],
    async chunk(after, limit) {
      const through = (await keyOf(chunkEndSql(spec, after, null, limit))) ?? (await keyOf(lastKey(after)));
      return through ? check(after, through) : null;
    },
    range: check,
    async differingKeys(after, through, max) {
      const hashes = async (table: TableRef, key: string[], exprs: string[]) => {
        const w = keyRange(key, spec.keyTypes, after, through);
        const rows = (await s.query(`SELECT ${key.map((k, i) => `${quoteIdent(k)}::text AS k${i}`).join(', ')}, ${rowHash(exprs)} AS h FROM ${qualified(table)} WHERE ${w.sql}`, w.params)).rows as Record<string, string>[];
        return new Map(rows.map((r) => [JSON.stringify(key.map((_, i) => r[`k${i}`])), r.h]));
      };
      const o = await hashes(spec.original, spec.sourceKey, cols.source);
      const g = await hashes(spec.ghost, spec.targetKey, cols.target);
      const keys = [...new Set([...o.keys(), ...g.keys()])].filter((k) => o.get(k) !== g.get(k));
      return keys.slice(0, max).map((k) => JSON.parse(k) as string[]);
    },
    async close() {
      await s.query('ROLLBACK').catch(() => undefined);
      s.release();
    },
  };
}

function lockTimeout(t: TableRef, ms: number, err: unknown): GhostwrightError {
  return new GhostwrightError('E_VERIFY_LOCK_TIMEOUT', `verification could not hold writes to ${t.name} for ${ms} ms to fix its consistent point: ${(err as Error).message}`, {
    cause: err,
    hint: 'a long transaction or a heavy write load; it is retried, and --cut-over-lock-timeout bounds each attempt',
  });
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
