/**
 * Where parallel copy workers split the key space (OnlineAlter.splitPoints).
 *
 * Under a write load, counting or walking the table here costs more than the
 * whole copy: `SELECT COUNT(*)` reads the smallest secondary index, and every
 * entry on a page the load changed after the statement began needs a lookup
 * in the clustered index to decide whether it is visible (secondary records
 * carry no transaction id). Measured on MariaDB 10.11, 1M rows under sysbench
 * oltp_read_write: 47 s before the first chunk, for a copy that then took
 * 15 s. So:
 *  - a single integer key is split by value between its bounds (no read at
 *    all; a gap-ridden key only makes the ranges uneven, never wrong);
 *  - any other key by offsets into the index, on the server's row estimate
 *    (TABLE_ROWS); only a small table (estimate under SMALL) is counted.
 */
import type { Pool } from 'mysql2/promise';
import type { KeyTuple, TableRef } from '../engine.js';
import { queryRows } from './connect.js';
import { qualified } from './ident.js';

/** Below this estimate an exact COUNT(*) is cheap (and the estimate of a fresh table may be 0). */
const SMALL = 100_000;

/** n-1 points splitting [min, max] of one integer key into n ranges by value; [] when too narrow. */
export function integerSplitPoints(min: KeyTuple, max: KeyTuple, n: number): KeyTuple[] {
  const lo = BigInt(String(min[0]));
  const hi = BigInt(String(max[0]));
  const span = hi - lo;
  if (n <= 1 || span < BigInt(n)) return [];
  const out: KeyTuple[] = [];
  // Bound back as text: a BIGINT beyond 2^53 stays exact.
  for (let i = 1; i < n; i++) out.push([integerKeyValue(lo + (span * BigInt(i)) / BigInt(n))]);
  return out;
}

/**
 * The end of the next span of `width` key values after `after` (null: from
 * min), capped at max; null once past max. The verification walks an integer
 * key so, instead of reading `width` rows to find each chunk's end.
 */
export function nextIntegerBoundary(after: KeyTuple | null, min: KeyTuple, max: KeyTuple, width: number): KeyTuple | null {
  const hi = BigInt(String(max[0]));
  const from = after === null ? BigInt(String(min[0])) - 1n : BigInt(String(after[0]));
  if (from >= hi) return null;
  const end = from + BigInt(Math.max(1, Math.round(width)));
  return [integerKeyValue(end < hi ? end : hi)];
}

/** A number where it is exact, text beyond 2^53 (MySQL compares an integer column with a string as a double). */
export function integerKeyValue(v: bigint): number | string {
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v.toString();
}

/** Rows to split by offset: the server's estimate, counted exactly only for a small table. */
export async function rowsToSplit(pool: Pool, t: TableRef): Promise<number> {
  const est = await queryRows(pool, 'SELECT TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [t.schema, t.name]);
  const total = Number(est[0]?.n ?? 0);
  if (total >= SMALL) return total;
  return Number((await queryRows(pool, `SELECT COUNT(*) AS n FROM ${qualified(t)}`))[0]?.n ?? 0);
}
