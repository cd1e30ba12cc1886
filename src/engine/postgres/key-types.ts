/** What the copy key's column types allow: an exact JavaScript order for the copy window (core/copy-window.ts). */
import type { KeyKind } from '../../core/copy-window.js';

/**
 * Key types JavaScript orders exactly as the btree does, from their text
 * (pgoutput's and ::text): integers, and uuid (canonical lowercase hex,
 * compared as bytes). Others (collated text, numeric, temporal types whose
 * text depends on DateStyle) leave the window inexact: batches run between
 * chunks and the SQL keeps keys the copy has not passed (CopiedSpans).
 */
export function pgKeyKind(formatType: string): KeyKind | null {
  if (/^(smallint|integer|bigint)$/.test(formatType)) return 'integer';
  if (formatType === 'uuid') return 'uuid';
  return null;
}
