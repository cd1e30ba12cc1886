/**
 * PostgreSQL identifiers: the one quoting function of this dialect, and the
 * parser for user-given table names. PostgreSQL folds unquoted names to lower
 * case and silently truncates names longer than 63 bytes (NAMEDATALEN-1), so
 * a too-long name is refused here instead of being cut into another name.
 */
import { RefusedError } from '../../errors.js';
import type { TableRef } from '../engine.js';

export const PG_MAX_IDENTIFIER_BYTES = 63;

export function quoteIdent(name: string): string {
  if (name.length === 0) throw new RefusedError('E_BAD_IDENTIFIER', 'empty identifier', { hint: 'name the object' });
  if (name.includes('\u0000')) throw new RefusedError('E_BAD_IDENTIFIER', 'identifier contains a NUL byte', { hint: 'PostgreSQL names cannot contain NUL' });
  if (Buffer.byteLength(name, 'utf8') > PG_MAX_IDENTIFIER_BYTES) {
    throw new RefusedError('E_BAD_IDENTIFIER', `identifier longer than ${PG_MAX_IDENTIFIER_BYTES} bytes: ${name.slice(0, 20)}...`, {
      hint: 'PostgreSQL would truncate it; use a shorter name',
    });
  }
  return `"${name.replace(/"/g, '""')}"`;
}

/** `"schema"."name"` */
export function qualified(ref: TableRef): string {
  return `${quoteIdent(ref.schema)}.${quoteIdent(ref.name)}`;
}

/**
 * Splits `schema.table`, `table`, `"Mixed.Case"."t"`: quoted parts keep their
 * case and may contain dots; unquoted parts fold to lower case as the server
 * would fold them in SQL.
 */
export function parseTableRef(text: string, defaultSchema: string): TableRef {
  const parts: string[] = [];
  let i = 0;
  // Taken exactly: ' lead' is not lead (a quoted name may hold spaces).
  const s = text;
  while (i <= s.length) {
    if (s[i] === '"') {
      let out = '';
      i++;
      for (;;) {
        if (i >= s.length) throw new RefusedError('E_BAD_TABLE', `unterminated quoted name in "${text}"`, { hint: 'close the double quote' });
        if (s[i] === '"') {
          if (s[i + 1] === '"') {
            out += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        out += s[i];
        i++;
      }
      parts.push(out);
    } else {
      const end = s.indexOf('.', i);
      const raw = end === -1 ? s.slice(i) : s.slice(i, end);
      parts.push(raw.toLowerCase());
      i = end === -1 ? s.length : end;
    }
    if (i >= s.length) break;
    if (s[i] !== '.') throw new RefusedError('E_BAD_TABLE', `cannot parse table name "${text}"`, { hint: 'use table or schema.table' });
    i++;
  }
  if (parts.length < 1 || parts.length > 2 || parts.some((p) => p === '')) {
    throw new RefusedError('E_BAD_TABLE', `cannot parse table name "${text}"`, { hint: 'use table or schema.table' });
  }
  for (const p of parts) quoteIdent(p);
  return parts.length === 2 ? { schema: parts[0]!, name: parts[1]! } : { schema: defaultSchema, name: parts[0]! };
}
