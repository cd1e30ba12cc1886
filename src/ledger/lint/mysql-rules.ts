/** Lint detections on MySQL/MariaDB statements, from node-sql-parser's AST (keyword rules where it can't read a clause). */
import { splitClauses } from '../../core/columns.js';
import { splitAlterHead } from '../alter-class.js';
import { parseMysql } from '../parsers.js';
import type { LintRuleId } from './catalogue.js';
import type { FileState } from './state.js';

type Hit = LintRuleId;
type Expr = Record<string, unknown>;

function exprHits(e: Expr, table: string, state: FileState): Hit[] {
  const action = e.action;
  const resource = e.resource;
  if (action === 'add' && resource === 'column') {
    state.expanded.add(table);
    const notNull = (e.nullable as { type?: string } | undefined)?.type === 'not null';
    const suffix = JSON.stringify(e.definition ?? {}).toLowerCase() + JSON.stringify(e.auto_increment ?? '');
    return notNull && !e.default_val && !suffix.includes('auto_increment') ? ['add-not-null-without-default'] : [];
  }
  if (action === 'drop' && resource === 'column') {
    state.contracted.add(table);
    return ['drop-column'];
  }
  if (action === 'rename' && resource === 'column') {
    state.contracted.add(table);
    return ['rename-column'];
  }
  if (action === 'rename' && resource === 'table') return ['rename-table'];
  if ((action === 'modify' || action === 'change') && resource === 'column') {
    const oldName = (e.old_column as { column?: string } | undefined)?.column;
    const newName = (e.column as { column?: string } | undefined)?.column;
    if (action === 'change' && oldName && newName && oldName.toLowerCase() !== newName.toLowerCase()) {
      state.contracted.add(table);
      return ['rename-column', 'change-column-type'];
    }
    return ['change-column-type'];
  }
  if (resource === 'engine' || e.keyword === 'convert') return ['table-rewrite'];
  const def = e.create_definitions as { constraint_type?: string } | undefined;
  if (action === 'add' && def?.constraint_type?.toUpperCase() === 'FOREIGN KEY') return ['table-rewrite'];
  return [];
}

/** Keyword fallback for one clause node-sql-parser can't read. */
function clauseHits(clause: string, table: string, state: FileState): Hit[] {
  const c = clause.trim().toUpperCase().replace(/\s+/g, ' ');
  if (/^DROP (COLUMN )?(?!PRIMARY|FOREIGN|CONSTRAINT|CHECK|INDEX|KEY|PARTITION)\S+/.test(c)) return exprHits({ action: 'drop', resource: 'column' }, table, state);
  if (/^RENAME COLUMN /.test(c)) return exprHits({ action: 'rename', resource: 'column' }, table, state);
  if (/^RENAME (TO|AS) /.test(c)) return ['rename-table'];
  if (/^(MODIFY|CHANGE) /.test(c)) return ['change-column-type'];
  if (/^ADD (COLUMN )?(?!UNIQUE|PRIMARY|INDEX|KEY|FULLTEXT|SPATIAL|CONSTRAINT|FOREIGN|CHECK|PARTITION)/.test(c)) {
    state.expanded.add(table);
    return / NOT NULL/.test(c) && !/ DEFAULT /.test(c) && !/AUTO_INCREMENT/.test(c) ? ['add-not-null-without-default'] : [];
  }
  return [];
}

export function mysqlHits(sql: string, state: FileState): Hit[] {
  const ast = parseMysql(sql) as (Expr & { type?: string; keyword?: string; expr?: Expr[]; table?: unknown; name?: unknown; where?: unknown }) | null;
  const head = splitAlterHead(sql, 'mysql');
  if (head) {
    const table = head.table.toLowerCase();
    if (state.created.has(table)) return [];
    const hits: Hit[] = ['missing-lock-timeout'];
    const clauses = splitClauses(head.clauses);
    const exprs = ast?.type === 'alter' && ast.expr?.length === clauses.length ? ast.expr : null;
    clauses.forEach((clause, i) => {
      const e = exprs?.[i] ?? (parseMysql(`ALTER TABLE t ${clause}`) as { expr?: Expr[] } | null)?.expr?.[0];
      hits.push(...(e ? exprHits(e, table, state) : clauseHits(clause, table, state)));
    });
    return hits;
  }
  if (!ast) {
    if (/^\s*SET\s+(SESSION\s+|LOCAL\s+|@@(SESSION\.)?)?lock_wait_timeout\b/i.test(sql)) state.lockTimeout = true;
    return [];
  }
  switch (ast.type) {
    case 'create':
      if (ast.keyword === 'table') {
        const t = (ast.table as { table?: string }[] | undefined)?.[0]?.table;
        if (t) state.created.add(t.toLowerCase());
      }
      return [];
    case 'set':
      if ((ast.expr ?? []).some((e) => String((e.left as { name?: string } | undefined)?.name).toLowerCase() === 'lock_wait_timeout')) state.lockTimeout = true;
      return [];
    case 'rename':
      return ['missing-lock-timeout', 'rename-table'];
    case 'drop':
      return ast.keyword === 'table' ? ['missing-lock-timeout', 'drop-table'] : [];
    case 'truncate':
      return ['missing-lock-timeout', 'truncate'];
    case 'update': {
      const t = (ast.table as { table?: string }[] | undefined)?.[0]?.table?.toLowerCase();
      return ast.where || (t && state.created.has(t)) ? [] : ['unbatched-backfill'];
    }
    default:
      return [];
  }
}
