/**
 * `ALTER COLUMN c TYPE t USING expr`: the ghost is altered while empty, so
 * the USING expression never runs there. It must run where the values are
 * read: the copy's and the apply's SELECT from the original (where the
 * expression's column names mean the original's columns, as in the ALTER).
 * Without this, the copy would assign the raw old value (or fail on a type
 * with no assignment cast, e.g. text -> jsonb).
 *
 * Both functions work on clauses libpg_query already accepted (see
 * alter-parse.ts): the parser says which clause converts or names what.
 */
import { tokenize, topLevelWord } from '../sql-lexer.js';
import { PG_LEX, pgClauses } from './alter-parse.js';

/** Source column -> USING expression text, for every `ALTER COLUMN ... TYPE ... USING ...` clause. */
export function parseUsing(alter: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of pgClauses(alter)) if (c.using !== undefined && c.column !== undefined) out.set(c.column, c.using);
  return out;
}

/** Clauses that name an index-backed constraint or an index of the table, and the keyword just before the name. */
const NAMED: Record<string, { kind: 'constraint' | 'index'; after: string }> = {
  AT_DropConstraint: { kind: 'constraint', after: 'CONSTRAINT' },
  AT_AlterConstraint: { kind: 'constraint', after: 'CONSTRAINT' },
  AT_ValidateConstraint: { kind: 'constraint', after: 'CONSTRAINT' },
  RenameConstraint: { kind: 'constraint', after: 'CONSTRAINT' },
  AT_ReplicaIdentity: { kind: 'index', after: 'INDEX' },
  AT_ClusterOn: { kind: 'index', after: 'ON' },
};

/**
 * LIKE ... INCLUDING ALL gives the ghost's indexes and index-backed
 * constraints (primary key, unique, exclusion) NEW names, since index names
 * are unique per schema. An ALTER that names the original's (`DROP
 * CONSTRAINT orders_email_key`) is rewritten to name the ghost's copy; the
 * cut-over gives the surviving ones their original names back.
 */
export function rewriteObjectNames(alter: string, names: { constraints: Map<string, string>; indexes: Map<string, string> }, quote: (name: string) => string): string {
  return pgClauses(alter)
    .map((clause) => {
      const named = NAMED[clause.subtype];
      const ghost = named && clause.column !== undefined ? (named.kind === 'constraint' ? names.constraints : names.indexes).get(clause.column) : undefined;
      if (!named || ghost === undefined) return clause.text;
      // The name is the first name token after the keyword (IF EXISTS skipped).
      const tokens = tokenize(clause.text, PG_LEX);
      const keyword = topLevelWord(tokens, [named.after]);
      if (keyword < 0) return clause.text;
      let at = keyword + 1;
      while (at < tokens.length && (tokens[at]!.kind === 'space' || (tokens[at]!.kind === 'word' && ['IF', 'EXISTS'].includes(tokens[at]!.text.toUpperCase())))) at++;
      const name = tokens[at];
      if (!name || (name.kind !== 'word' && name.kind !== 'ident')) return clause.text;
      return clause.text.slice(0, name.start) + quote(ghost) + clause.text.slice(name.end);
    })
    .join(', ');
}
