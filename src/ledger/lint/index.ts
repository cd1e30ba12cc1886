/**
 * `lint`: reads migration files with the real parsers and reports unsafe
 * operations from the catalogue. `-- ghostwright:ignore <id>[, <id>]` on the
 * line before a statement, or on any of its lines, silences those ids for it.
 */
import { readFileSync } from 'node:fs';
import type { Dialect } from '../../connection.js';
import { loadParsers, parsePg } from '../parsers.js';
import { splitStatements, type Statement } from '../splitter.js';
import { rule, type LintRuleId, type LintSeverity } from './catalogue.js';
import { mysqlHits } from './mysql-rules.js';
import { pgHits } from './pg-rules.js';
import { newFileState } from './state.js';

export { catalogue, RULES, type LintRule, type LintRuleId, type LintSeverity } from './catalogue.js';

export interface LintFinding {
  id: LintRuleId;
  severity: LintSeverity;
  file: string;
  line: number;
  /** The statement's first line, for context. */
  statement: string;
  why: string;
  fix: string;
}

export interface LintOptions {
  dialect: Dialect;
}

const IGNORE_RE = /ghostwright:ignore\s+([a-z0-9_,\s-]+)/gi;

function ignoredIds(lines: readonly string[], st: Statement): Set<string> {
  const ids = new Set<string>();
  for (let n = st.line - 1; n <= st.endLine; n++) {
    const text = lines[n - 1];
    if (!text) continue;
    for (const m of text.matchAll(IGNORE_RE)) for (const id of m[1]!.split(/[\s,]+/)) if (id) ids.add(id.toLowerCase());
  }
  return ids;
}

/** Lints one file's text. Call loadParsers() first (lint() does). */
export function lintText(text: string, file: string, options: LintOptions): LintFinding[] {
  const lines = text.split(/\r?\n/);
  const state = newFileState();
  const findings: LintFinding[] = [];
  let lockTimeoutReported = false;
  // `${name}` placeholders would make the parsers give up: lint them as plain identifiers.
  const parsable = text.replace(/\$\{([^}\n]*)\}/g, (_m, name: string) => `ph_${name.replace(/\W/g, '_')}`);
  for (const st of splitStatements(parsable, options.dialect)) {
    let hits: LintRuleId[];
    if (options.dialect === 'postgres') {
      const node = parsePg(st.sql);
      hits = node ? pgHits(node, state) : [];
    } else hits = mysqlHits(st.sql, state);
    // A lock timeout only matters once per file: the first statement that waits on a lock.
    hits = hits.filter((id) => {
      if (id !== 'missing-lock-timeout') return true;
      if (state.lockTimeout || lockTimeoutReported) return false;
      lockTimeoutReported = true;
      return true;
    });
    const ignored = ignoredIds(lines, st);
    for (const id of new Set(hits)) {
      const r = rule(id);
      if (!r.dialects.includes(options.dialect) || ignored.has(id)) continue;
      findings.push({ id, severity: r.severity, file, line: st.line, statement: st.sql.split('\n')[0]!.slice(0, 120), why: r.why, fix: r.fix });
    }
  }
  for (const table of state.contracted) {
    if (!state.expanded.has(table)) continue;
    const r = rule('expand-contract');
    if (lines.some((l) => /ghostwright:ignore\s+[^\n]*expand-contract/i.test(l))) continue;
    findings.push({ id: r.id as LintRuleId, severity: r.severity, file, line: 1, statement: `table ${table}`, why: r.why, fix: r.fix });
  }
  return findings;
}

export async function lint(files: readonly string[], options: LintOptions): Promise<LintFinding[]> {
  await loadParsers();
  return files.flatMap((f) => lintText(readFileSync(f, 'utf8'), f, options));
}
