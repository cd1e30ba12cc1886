/**
 * Splits a migration file into statements the way the server's own client
 * would: a `;` ends a statement only outside quotes and comments.
 *   both:       '...' (doubled '' escapes), "...", -- line and /* block *\/ comments
 *   PostgreSQL: $tag$ ... $tag$ dollar quoting (function bodies), E'...' with
 *               backslash escapes, nested block comments
 *   MySQL:      `...` identifiers, backslash escapes inside strings, # comments,
 *               and the client's `DELIMITER //` command (procedure bodies
 *               contain `;`); the DELIMITER line itself is never sent.
 */
import type { Dialect } from '../connection.js';
import { ledgerDialect } from './dialect-sql.js';

export interface Statement {
  /** Statement text without the delimiter, leading comments and surrounding whitespace. */
  sql: string;
  /** 1-based line of the statement's first token. */
  line: number;
  endLine: number;
}

const DELIMITER_RE = /^[ \t]*DELIMITER[ \t]+(\S+)[ \t]*(?:\r?\n|$)/i;

export function splitStatements(text: string, dialect: Dialect): Statement[] {
  const out: Statement[] = [];
  const syntax = ledgerDialect(dialect).script;
  let delimiter = ';';
  let line = 1;
  let start = -1; // index of the first significant character of the pending statement
  let startLine = 1;
  let lastSignificantEnd = -1;
  let i = 0;

  const flush = (endIndex: number): void => {
    if (start >= 0) {
      const sql = text.slice(start, endIndex).trim();
      if (sql) out.push({ sql, line: startLine, endLine: line });
    }
    start = -1;
  };
  const mark = (): void => {
    if (start < 0) {
      start = i;
      startLine = line;
    }
  };
  /** Advances over text[i..j) counting newlines. */
  const skipTo = (j: number): void => {
    for (let k = i; k < j && k < text.length; k++) if (text[k] === '\n') line++;
    i = Math.min(j, text.length);
  };

  while (i < text.length) {
    const ch = text[i]!;
    const atLineStart = i === 0 || text[i - 1] === '\n';
    if (syntax.delimiterCommand && atLineStart) {
      const m = DELIMITER_RE.exec(text.slice(i, i + 200));
      if (m) {
        flush(lastSignificantEnd + 1);
        delimiter = m[1]!;
        skipTo(i + m[0].length);
        continue;
      }
    }
    if (text.startsWith(delimiter, i)) {
      flush(i);
      skipTo(i + delimiter.length);
      continue;
    }
    // MySQL needs whitespace after `--` (`1--1` is arithmetic there).
    if (ch === '-' && text[i + 1] === '-' && (!syntax.dashCommentNeedsSpace || i + 2 >= text.length || /\s/.test(text[i + 2]!))) {
      const nl = text.indexOf('\n', i);
      skipTo(nl < 0 ? text.length : nl);
      continue;
    }
    if (syntax.hashComments && ch === '#') {
      const nl = text.indexOf('\n', i);
      skipTo(nl < 0 ? text.length : nl);
      continue;
    }
    if (ch === '/' && text[i + 1] === '*') {
      // MySQL's /*! ... */ executable comments are SQL: keep them in the statement.
      if (syntax.executableComments && text[i + 2] === '!') mark();
      skipTo(blockCommentEnd(text, i, syntax.nestedBlockComments));
      continue;
    }
    if (/\s/.test(ch)) {
      skipTo(i + 1);
      continue;
    }
    mark();
    let end: number;
    if (ch === "'") end = quotedEnd(text, i, "'", syntax.backslashEscapes || isEscapeString(text, i));
    else if (ch === '"') end = quotedEnd(text, i, '"', syntax.backslashEscapes);
    else if (syntax.backtickIdentifiers && ch === '`') end = quotedEnd(text, i, '`', false);
    else if (syntax.dollarQuotes && ch === '$') end = dollarQuotedEnd(text, i);
    else end = i + 1;
    skipTo(end);
    lastSignificantEnd = end - 1;
  }
  flush(text.length);
  return out;
}

/** PostgreSQL E'...' strings take backslash escapes; plain '...' do not (standard_conforming_strings). */
function isEscapeString(text: string, quoteAt: number): boolean {
  const prev = text[quoteAt - 1];
  if (prev !== 'E' && prev !== 'e') return false;
  const before = text[quoteAt - 2];
  return before === undefined || !/[A-Za-z0-9_]/.test(before);
}

/** Index just past the closing quote; a doubled quote is an escaped one. */
function quotedEnd(text: string, at: number, quote: string, backslash: boolean): number {
  let j = at + 1;
  while (j < text.length) {
    const c = text[j]!;
    if (backslash && c === '\\') {
      j += 2;
      continue;
    }
    if (c === quote) {
      if (text[j + 1] === quote) {
        j += 2;
        continue;
      }
      return j + 1;
    }
    j++;
  }
  return text.length;
}

function blockCommentEnd(text: string, at: number, nested: boolean): number {
  let depth = 0;
  let j = at;
  while (j < text.length) {
    if (text[j] === '/' && text[j + 1] === '*' && (nested || depth === 0)) {
      depth++;
      j += 2;
    } else if (text[j] === '*' && text[j + 1] === '/') {
      depth--;
      j += 2;
      if (depth === 0) return j;
    } else j++;
  }
  return text.length;
}

/** `$tag$ ... $tag$`; a `$` that doesn't open a tag (e.g. `$1`) is a plain character. */
function dollarQuotedEnd(text: string, at: number): number {
  const m = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(text.slice(at, at + 100));
  if (!m) return at + 1;
  // `a$b$` is an identifier containing dollars, not a quote.
  const prev = text[at - 1];
  if (prev !== undefined && /[A-Za-z0-9_]/.test(prev)) return at + 1;
  const tag = m[0];
  const close = text.indexOf(tag, at + tag.length);
  return close < 0 ? text.length : close + tag.length;
}
