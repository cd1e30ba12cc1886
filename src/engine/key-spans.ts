/**
 * Verification in one pass (VerifyPoint.spans): a single integer key is cut
 * into buckets of key values, bucket b holding min + b*span .. min +
 * (b+1)*span - 1, so each table's rows are checksummed per bucket by ONE
 * statement, both tables at once (PostgreSQL: a scan grouped by bucket;
 * MySQL: one range checksum per bucket, UNION ALL). The bucket count is bounded whatever
 * the key's spread (a sparse key with an outlier at 2^40 makes a few wide
 * buckets, not 2^40 / span of them), and the engines walk a differing
 * bucket that holds many rows by chunks, so a re-copy stays small.
 */
import type { KeyTuple, VerifyChunk } from './migration-values.js';

/** Original rows per bucket of one pass: a differing bucket is copied again whole (walked by chunks when far larger). */
export const VERIFY_SPAN_ROWS = 10_000;
/** At most this many buckets, however sparse the key: the grouping of a few thousand groups stays in memory. */
export const MAX_VERIFY_SPANS = 4096;

export interface KeySpans {
  min: bigint;
  max: bigint;
  span: bigint;
}

/**
 * About one bucket per VERIFY_SPAN_ROWS rows (the estimate, else the key
 * range), at most MAX_VERIFY_SPANS, none narrower than one key. Null when
 * max - min could overflow 64-bit signed arithmetic.
 */
export function planKeySpans(min: bigint, max: bigint, estimatedRows: number, rowsPerSpan = VERIFY_SPAN_ROWS, maxSpans = MAX_VERIFY_SPANS): KeySpans | null {
  const width = max - min + 1n;
  if (width <= 0n || width > 2n ** 62n) return null;
  const rows = estimatedRows > 0 ? BigInt(Math.ceil(estimatedRows)) : width;
  let count = (rows + BigInt(rowsPerSpan) - 1n) / BigInt(rowsPerSpan);
  if (count > BigInt(maxSpans)) count = BigInt(maxSpans);
  if (count > width) count = width;
  if (count < 1n) count = 1n;
  return { min, max, span: (width + count - 1n) / count };
}

/**
 * The keys of bucket b as (after, through]: the first open below (the
 * ghost's rows under the original's first key are counted there), the last
 * ending at the original's last key (the ghost's rows above it are
 * VerifyPoint.ghostKeyAfter's).
 */
export function spanBounds(s: KeySpans, b: bigint, value: (v: bigint) => unknown = String): { after: KeyTuple | null; through: KeyTuple } {
  const lo = s.min + b * s.span;
  const hi = lo + s.span - 1n;
  return { after: b === 0n ? null : [value(lo - 1n)], through: [value(hi > s.max ? s.max : hi)] };
}

/** How many buckets the plan has (the last may be partial). */
export const spanCount = (s: KeySpans): bigint => (s.max - s.min + s.span) / s.span;

/** One side's bucket -> its row count and checksum, both as text. */
export type BucketSums = Map<string, { n: string; c: string }>;

/** Every bucket either table has, ascending, with whether both agree; rows: the original's. */
export function compareBuckets(original: BucketSums, ghost: BucketSums): { bucket: bigint; rows: number; same: boolean }[] {
  const buckets = [...new Set([...original.keys(), ...ghost.keys()])].map(BigInt).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  return buckets.map((bucket) => {
    const o = original.get(String(bucket));
    const g = ghost.get(String(bucket));
    return { bucket, rows: Number(o?.n ?? 0), same: !!o && !!g && o.n === g.n && o.c === g.c };
  });
}

/**
 * A differing span of more than `maxRows` original rows, walked by chunks
 * (each ending at `chunkEnd`, or at the span's end), so a re-copy stays
 * chunk-sized when the key is skewed; any other span as it is.
 */
export async function refineSpan(
  c: VerifyChunk,
  maxRows: number,
  chunkEnd: (after: KeyTuple | null, through: KeyTuple) => Promise<KeyTuple | null>,
  check: (after: KeyTuple | null, through: KeyTuple) => Promise<VerifyChunk>,
): Promise<VerifyChunk[]> {
  if (c.same || c.rows <= maxRows) return [c];
  const out: VerifyChunk[] = [];
  for (let after = c.after; ; ) {
    const through = (await chunkEnd(after, c.through)) ?? c.through;
    out.push(await check(after, through));
    if (BigInt(String(through[0])) >= BigInt(String(c.through[0]))) return out;
    after = through;
  }
}
