/**
 * What the binlog's events mean for the stream of one table: key values as
 * the row image carries them, and query events that change the table's shape
 * under us (the statement text is all a statement-logged DDL leaves).
 */
/** BINARY(n) values lose their trailing 0x00 bytes in the row image; comparisons need them back. */
export function keyNormalizer(types: readonly string[]): Array<(v: unknown) => unknown> {
  return types.map((t) => {
    const m = /^binary\((\d+)\)/i.exec(t);
    if (!m) return (v: unknown) => v;
    const n = Number(m[1]);
    return (v: unknown) => (Buffer.isBuffer(v) && v.length < n ? Buffer.concat([v, Buffer.alloc(n - v.length)]) : v);
  });
}

/** DDL on the original while we stream would make the ghost wrong: detect it. */
export function isDdlOnTable(query: string, table: string): boolean {
  const q = query.trim();
  const names = (text: string) => [...text.matchAll(/`((?:[^`]|``)+)`|([\p{L}\p{N}_$]+)/gu)].map((m) => (m[1] ? m[1].replace(/``/g, '`') : m[2]!));
  const head = /^(ALTER|TRUNCATE)\s+(?:ONLINE\s+|IGNORE\s+)?(?:TABLE\s+)?(?:IF\s+EXISTS\s+)?((?:`(?:[^`]|``)+`|[^\s.`]+)(?:\.(?:`(?:[^`]|``)+`|[^\s.`]+))?)/i.exec(q);
  if (head) {
    const parts = names(head[2]!);
    return parts[parts.length - 1] === table;
  }
  if (/^(DROP|RENAME)\s+TABLES?\s/i.test(q)) return names(q).includes(table);
  return false;
}
