/**
 * `ALTER COLUMN c TYPE t USING expr`: the ghost is altered while empty, so
 * the USING expression never runs there. It must run where the values are
 * read: the copy's and the apply's SELECT from the original (where the
 * expression's column names mean the original's columns, as in the ALTER).
 * Without this, the copy would assign the raw old value (or fail on a type
 * with no assignment cast, e.g. text -> jsonb).
 */
import { splitClauses } from '../../core/columns.js';

const IDENT = String.raw`(?:"(?:[^"]|"")+"|[^\s"]+)`;
const USING = new RegExp(String.raw`^ALTER\s+(?:COLUMN\s+)?(${IDENT})\s+(?:SET\s+DATA\s+)?TYPE\s+[\s\S]+?\s+USING\s+([\s\S]+)$`, 'i');

function unquote(id: string): string {
  return id.startsWith('"') ? id.slice(1, -1).replace(/""/g, '"') : id.toLowerCase();
}

/** Source column -> USING expression text, for every `ALTER COLUMN ... TYPE ... USING ...` clause. */
export function parseUsing(alter: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const clause of splitClauses(alter)) {
    const m = USING.exec(clause.trim());
    if (m) out.set(unquote(m[1]!), m[2]!.trim());
  }
  return out;
}

const NAMED = [
  { re: new RegExp(String.raw`^(DROP\s+CONSTRAINT\s+(?:IF\s+EXISTS\s+)?)(${IDENT})([\s\S]*)$`, 'i'), kind: 'constraint' },
  { re: new RegExp(String.raw`^(ALTER\s+CONSTRAINT\s+)(${IDENT})([\s\S]*)$`, 'i'), kind: 'constraint' },
  { re: new RegExp(String.raw`^(VALIDATE\s+CONSTRAINT\s+)(${IDENT})([\s\S]*)$`, 'i'), kind: 'constraint' },
  { re: new RegExp(String.raw`^(RENAME\s+CONSTRAINT\s+)(${IDENT})(\s+TO\s[\s\S]*)$`, 'i'), kind: 'constraint' },
  { re: new RegExp(String.raw`^(REPLICA\s+IDENTITY\s+USING\s+INDEX\s+)(${IDENT})([\s\S]*)$`, 'i'), kind: 'index' },
  { re: new RegExp(String.raw`^(CLUSTER\s+ON\s+)(${IDENT})([\s\S]*)$`, 'i'), kind: 'index' },
] as const;

/**
 * LIKE ... INCLUDING ALL gives the ghost's indexes and index-backed
 * constraints (primary key, unique, exclusion) NEW names, since index names
 * are unique per schema. An ALTER that names the original's (`DROP
 * CONSTRAINT orders_email_key`) is rewritten to name the ghost's copy; the
 * cut-over gives the surviving ones their original names back.
 */
export function rewriteObjectNames(alter: string, names: { constraints: Map<string, string>; indexes: Map<string, string> }, quote: (name: string) => string): string {
  return splitClauses(alter)
    .map((clause) => {
      for (const { re, kind } of NAMED) {
        const m = re.exec(clause);
        if (!m) continue;
        const ghost = (kind === 'constraint' ? names.constraints : names.indexes).get(unquote(m[2]!));
        return ghost === undefined ? clause : `${m[1]}${quote(ghost)}${m[3]}`;
      }
      return clause;
    })
    .join(', ');
}
