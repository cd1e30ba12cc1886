/**
 * The --alter text: either the clauses after `ALTER TABLE t`, or a whole
 * `ALTER TABLE t ...` statement for the same table. Normalised to clauses,
 * with what the online path can't do refused before anything is written.
 */
import { RefusedError } from '../errors.js';
import type { TableRef } from '../engine/engine.js';
import { splitClauses } from './columns.js';

const IDENT_PART = String.raw`(?:\x60(?:[^\x60]|\x60\x60)+\x60|"(?:[^"]|"")+"|[^\s.\x60"]+)`;
const PREFIX = new RegExp(String.raw`^\s*ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?(${IDENT_PART}(?:\s*\.\s*${IDENT_PART})?)\s+`, 'i');

function unquotePart(part: string): string {
  const p = part.trim();
  if (p.startsWith('`')) return p.slice(1, -1).replace(/``/g, '`');
  if (p.startsWith('"')) return p.slice(1, -1).replace(/""/g, '"');
  return p;
}

function splitQualified(name: string): string[] {
  const re = new RegExp(IDENT_PART, 'g');
  return (name.match(re) ?? []).map(unquotePart);
}

export function normalizeAlter(text: string, table: TableRef, sameName: (a: string, b: string) => boolean): string {
  let clauses = text.trim().replace(/;\s*$/, '');
  const m = PREFIX.exec(clauses);
  if (m) {
    const parts = splitQualified(m[1]!);
    const name = parts[parts.length - 1]!;
    const schema = parts.length > 1 ? parts[0]! : null;
    if (!sameName(name, table.name) || (schema !== null && !sameName(schema, table.schema))) {
      throw new RefusedError('E_BAD_ALTER', `--alter names table "${parts.join('.')}" but --table is "${table.schema}.${table.name}"`, {
        hint: 'give only the clauses after ALTER TABLE, or name the same table in both',
      });
    }
    clauses = clauses.slice(m[0].length).trim();
  }
  if (!clauses) {
    throw new RefusedError('E_BAD_ALTER', '--alter is empty', { hint: 'e.g. --alter "ADD COLUMN c INT NOT NULL DEFAULT 0"' });
  }
  for (const clause of splitClauses(clauses)) {
    if (/^RENAME\s+(TO|AS)\b/i.test(clause) || /^RENAME\s+(?!COLUMN\b|INDEX\b|KEY\b|CONSTRAINT\b)\S+\s*$/i.test(clause)) {
      throw new RefusedError('E_BAD_ALTER', 'an online ALTER cannot rename the table', {
        hint: 'rename separately with RENAME TABLE / ALTER TABLE ... RENAME TO (it is instant)',
      });
    }
  }
  return clauses;
}
