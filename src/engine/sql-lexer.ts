/**
 * A small SQL tokenizer for the --alter text, one set of rules per dialect.
 * It never decides what the SQL means (the real parsers do); it finds where
 * comments, quoted names and string literals begin and end so the text can
 * be sent without comments (what is sent is then exactly what was parsed),
 * and so a `;` or a keyword inside a literal is never taken for syntax.
 */
import { RefusedError } from '../errors.js';

export interface LexRules {
  /** `"..."` is a quoted identifier (PostgreSQL; MySQL with ANSI_QUOTES) rather than a string. */
  doubleQuoteIdent: boolean;
  /** `` `...` `` quoted identifiers (MySQL). */
  backtickIdent: boolean;
  /** Backslash escapes inside '...' (MySQL by default; PostgreSQL only in E'...'). */
  backslashInStrings: boolean;
  /** $tag$ ... $tag$ (PostgreSQL). */
  dollarQuotes: boolean;
  /** `#` starts a comment (MySQL). */
  hashComments: boolean;
  /** `--` starts a comment only when followed by whitespace or the end (MySQL). */
  dashDashNeedsSpace: boolean;
  /** Block comments nest (PostgreSQL). */
  nestedBlockComments: boolean;
  /** `/*! ... *\/` and `/*M! ... *\/` are code, not comments (MySQL/MariaDB): refused. */
  executableComments: boolean;
}

/** MySQL/MariaDB as the server reads statements by default (no ANSI_QUOTES, backslash escapes on). */
export const MYSQL_LEX: LexRules = {
  doubleQuoteIdent: false,
  backtickIdent: true,
  backslashInStrings: true,
  dollarQuotes: false,
  hashComments: true,
  dashDashNeedsSpace: true,
  nestedBlockComments: false,
  executableComments: true,
};

/** PostgreSQL (standard_conforming_strings on). */
export const PG_LEX: LexRules = {
  doubleQuoteIdent: true,
  backtickIdent: false,
  backslashInStrings: false,
  dollarQuotes: true,
  hashComments: false,
  dashDashNeedsSpace: false,
  nestedBlockComments: true,
  executableComments: false,
};

export type TokenKind = 'word' | 'ident' | 'string' | 'punct' | 'space';

export interface Token {
  kind: TokenKind;
  /** The text as written. */
  text: string;
  /** word: as written; ident: the name with quotes removed. */
  value: string;
  start: number;
  end: number;
}

function bad(message: string, hint: string): RefusedError {
  return new RefusedError('E_BAD_ALTER', message, { hint });
}

/** Tokens of `sql` with comments left out (each comment becomes one space token). */
export function tokenize(sql: string, rules: LexRules): Token[] {
  const out: Token[] = [];
  let i = 0;
  const push = (kind: TokenKind, start: number, end: number, value?: string): void => {
    out.push({ kind, text: kind === 'space' && value === ' ' ? ' ' : sql.slice(start, end), value: value ?? sql.slice(start, end), start, end });
  };
  while (i < sql.length) {
    const ch = sql[i]!;
    const next = sql[i + 1];
    if (/\s/.test(ch)) {
      let j = i;
      while (j < sql.length && /\s/.test(sql[j]!)) j++;
      push('space', i, j);
      i = j;
    } else if ((ch === '-' && next === '-' && (!rules.dashDashNeedsSpace || i + 2 >= sql.length || /\s/.test(sql[i + 2]!))) || (ch === '#' && rules.hashComments)) {
      let j = i;
      while (j < sql.length && sql[j] !== '\n') j++;
      push('space', i, j, ' ');
      i = j;
    } else if (ch === '/' && next === '*') {
      if (rules.executableComments && (sql[i + 2] === '!' || (sql[i + 2] === 'M' && sql[i + 3] === '!'))) {
        throw bad('--alter contains an executable comment (/*! ... */): the server would run what it holds', 'write the clauses without /*! */ comments');
      }
      let depth = 1;
      let j = i + 2;
      while (j < sql.length && depth > 0) {
        if (sql[j] === '*' && sql[j + 1] === '/') {
          depth--;
          j += 2;
        } else if (rules.nestedBlockComments && sql[j] === '/' && sql[j + 1] === '*') {
          depth++;
          j += 2;
        } else j++;
      }
      if (depth > 0) throw bad('--alter has an unterminated /* comment', 'close the comment with */ or remove it');
      push('space', i, j, ' ');
      i = j;
    } else if (ch === "'" || (ch === '"' && !rules.doubleQuoteIdent)) {
      const prev = out.at(-1);
      // PostgreSQL E'...' strings take backslash escapes.
      const escapes = rules.backslashInStrings || (prev?.kind === 'word' && prev.end === i && /^[eE]$/.test(prev.text));
      i = quoted(sql, i, ch, escapes, 'string literal', (s, e) => push('string', s, e));
    } else if ((ch === '"' && rules.doubleQuoteIdent) || (ch === '`' && rules.backtickIdent)) {
      i = quoted(sql, i, ch, false, 'quoted name', (s, e) => push('ident', s, e, sql.slice(s + 1, e - 1).split(ch + ch).join(ch)));
    } else if (ch === '$' && rules.dollarQuotes && /^\$(?:[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/.test(sql.slice(i))) {
      const tag = /^\$(?:[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/.exec(sql.slice(i))![0];
      const close = sql.indexOf(tag, i + tag.length);
      if (close < 0) throw bad(`--alter has an unterminated ${tag} string`, `close it with ${tag}`);
      push('string', i, close + tag.length);
      i = close + tag.length;
    } else if (/[\w$\u0080-\uffff]/.test(ch)) {
      let j = i;
      while (j < sql.length && /[\w$\u0080-\uffff]/.test(sql[j]!)) j++;
      push('word', i, j);
      i = j;
    } else {
      push('punct', i, i + 1);
      i++;
    }
  }
  return out;
}

function quoted(sql: string, start: number, q: string, escapes: boolean, what: string, emit: (s: number, e: number) => void): number {
  let j = start + 1;
  for (;;) {
    if (j >= sql.length) throw bad(`--alter has an unterminated ${what} (${q})`, `close the ${what} with ${q}`);
    if (escapes && sql[j] === '\\') j += 2;
    else if (sql[j] === q && sql[j + 1] === q) j += 2;
    else if (sql[j] === q) break;
    else j++;
  }
  emit(start, j + 1);
  return j + 1;
}

/** The text of the tokens, comments replaced by one space, surrounding space trimmed. */
export function joinTokens(tokens: readonly Token[]): string {
  return tokens.map((t) => t.text).join('').trim();
}

/** Position of the first word token equal (case-insensitively) to one of `words`, at parenthesis depth 0; -1 when none. */
export function topLevelWord(tokens: readonly Token[], words: readonly string[], from = 0): number {
  let depth = 0;
  for (let k = from; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (t.kind === 'punct' && t.text === '(') depth++;
    else if (t.kind === 'punct' && t.text === ')') depth--;
    else if (depth === 0 && t.kind === 'word' && words.includes(t.text.toUpperCase())) return k;
  }
  return -1;
}

/** Splits tokens on top-level commas into clauses (text, comments removed). */
export function splitTopLevel(tokens: readonly Token[]): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur: Token[] = [];
  for (const t of tokens) {
    if (t.kind === 'punct' && t.text === '(') depth++;
    if (t.kind === 'punct' && t.text === ')') depth--;
    if (depth === 0 && t.kind === 'punct' && t.text === ',') {
      out.push(joinTokens(cur));
      cur = [];
    } else cur.push(t);
  }
  const last = joinTokens(cur);
  if (last) out.push(last);
  return out;
}

/**
 * The statement's tokens without leading/trailing space and trailing `;`.
 * Any other `;` outside literals means a second statement: refused.
 */
export function oneStatement(tokens: Token[]): Token[] {
  let end = tokens.length;
  while (end > 0 && (tokens[end - 1]!.kind === 'space' || (tokens[end - 1]!.kind === 'punct' && tokens[end - 1]!.text === ';'))) end--;
  let start = 0;
  while (start < end && tokens[start]!.kind === 'space') start++;
  const body = tokens.slice(start, end);
  if (body.some((t) => t.kind === 'punct' && t.text === ';')) {
    throw bad('--alter holds more than one statement (a ";" outside quotes): only one ALTER TABLE is run', 'give only the clauses of one ALTER TABLE, e.g. --alter "ADD COLUMN c INT NOT NULL DEFAULT 0"; run other statements separately');
  }
  if (body.length === 0) throw bad('--alter is empty', 'e.g. --alter "ADD COLUMN c INT NOT NULL DEFAULT 0"');
  return body;
}

/**
 * For a whole `ALTER TABLE [IF EXISTS] [ONLY] name[.name] [*] clauses`: the
 * name parts (dialect folding applied by `fold` to unquoted words) and the
 * index of the first clause token. Null when the text starts with a clause.
 */
export function alterHead(tokens: readonly Token[], fold: (word: string) => string): { parts: string[]; rest: number } | null {
  const sig = tokens.map((t, k) => ({ t, k })).filter(({ t }) => t.kind !== 'space');
  const word = (n: number, w: string): boolean => sig[n]?.t.kind === 'word' && sig[n]!.t.text.toUpperCase() === w;
  if (!word(0, 'ALTER')) return null;
  if (!word(1, 'TABLE')) {
    if (sig[1]?.t.kind === 'word' && ['ONLINE', 'IGNORE'].includes(sig[1].t.text.toUpperCase())) {
      throw bad(`--alter starts with ALTER ${sig[1].t.text.toUpperCase()} TABLE: the online engine decides how the table is rebuilt`, 'give only the clauses after ALTER TABLE <table>');
    }
    return null; // a clause such as ALTER COLUMN c ...
  }
  let n = 2;
  if (word(n, 'IF') && word(n + 1, 'EXISTS')) n += 2;
  if (word(n, 'ONLY')) n++;
  const parts: string[] = [];
  for (;;) {
    const t = sig[n]?.t;
    if (!t || (t.kind !== 'word' && t.kind !== 'ident')) throw bad('--alter: no table name after ALTER TABLE', 'write ALTER TABLE <table> <clauses>, or only the clauses');
    parts.push(t.kind === 'ident' ? t.value : fold(t.text));
    n++;
    if (sig[n]?.t.kind === 'punct' && sig[n]!.t.text === '.') n++;
    else break;
  }
  if (sig[n]?.t.kind === 'punct' && sig[n]!.t.text === '*') n++;
  if (!sig[n]) throw bad('--alter names the table but no change', 'add the clauses, e.g. ALTER TABLE t ADD COLUMN c INT');
  return { parts, rest: sig[n]!.k };
}
