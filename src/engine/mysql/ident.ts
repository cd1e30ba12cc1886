/**
 * MySQL/MariaDB identifiers: the one identifier-quoting function of this
 * dialect, and the parser for user-given table names.
 */
import { RefusedError } from '../../errors.js';
import type { TableRef } from '../engine.js';

/** MySQL limits database, table, column and index names to 64 characters. */
export const MAX_IDENTIFIER_CHARS = 64;

/** Backtick-quotes an identifier, doubling embedded backticks. */
export function quoteIdent(name: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new RefusedError('E_BAD_IDENTIFIER', 'an identifier may not be empty', { hint: 'name the table or column' });
  }
  if (name.includes('\u0000')) {
    throw new RefusedError('E_BAD_IDENTIFIER', 'an identifier may not contain a NUL character', { hint: 'check the table or column name' });
  }
  if ([...name].length > MAX_IDENTIFIER_CHARS) {
    throw new RefusedError('E_BAD_IDENTIFIER', `identifier longer than ${MAX_IDENTIFIER_CHARS} characters: ${name.slice(0, 70)}...`, {
      hint: 'MySQL/MariaDB identifiers are at most 64 characters',
    });
  }
  return '`' + name.replace(/`/g, '``') + '`';
}

/** `schema`.`table` */
export function qualified(ref: TableRef): string {
  return `${quoteIdent(ref.schema)}.${quoteIdent(ref.name)}`;
}

/**
 * Parses `t`, `db.t`, and backtick-quoted parts (`` `my.db`.`t` ``) into a
 * TableRef; the database defaults to the connection's.
 */
export function parseTableRef(text: string, defaultSchema: string): TableRef {
  const parts: string[] = [];
  let i = 0;
  // Taken exactly: ' lead' is not `lead` (names may begin with spaces).
  const s = text;
  while (i < s.length) {
    if (s[i] === '`') {
      let j = i + 1;
      let part = '';
      for (;;) {
        if (j >= s.length) throw badRef(text);
        if (s[j] === '`') {
          if (s[j + 1] === '`') {
            part += '`';
            j += 2;
            continue;
          }
          break;
        }
        part += s[j];
        j++;
      }
      parts.push(part);
      i = j + 1;
    } else {
      const dot = s.indexOf('.', i);
      const end = dot === -1 ? s.length : dot;
      parts.push(s.slice(i, end));
      i = end;
    }
    if (i < s.length) {
      if (s[i] !== '.') throw badRef(text);
      i++;
      if (i >= s.length) throw badRef(text);
    }
  }
  if (parts.length === 1) return { schema: defaultSchema, name: check(parts[0]!, text) };
  if (parts.length === 2) return { schema: check(parts[0]!, text), name: check(parts[1]!, text) };
  throw badRef(text);
}

function check(part: string, text: string): string {
  if (!part) throw badRef(text);
  quoteIdent(part);
  return part;
}

function badRef(text: string): RefusedError {
  return new RefusedError('E_BAD_TABLE', `not a table name: ${text}`, { hint: 'use table or database.table (backticks for names containing dots)' });
}
