/** Lint detections on PostgreSQL statements, from libpg_query's AST. */
import type { PgNode } from '../parsers.js';
import type { LintRuleId } from './catalogue.js';
import type { FileState } from './state.js';

type Hit = LintRuleId;
type Rel = { relname?: string; schemaname?: string };

const relName = (r: Rel | undefined): string => (r?.relname ?? '').toLowerCase();

function addColumnHits(def: PgNode): Hit[] {
  const col = (def.ColumnDef ?? {}) as { constraints?: { Constraint: { contype: string } }[] };
  const kinds = new Set((col.constraints ?? []).map((c) => c.Constraint.contype));
  const filled = kinds.has('CONSTR_DEFAULT') || kinds.has('CONSTR_IDENTITY') || kinds.has('CONSTR_GENERATED');
  return kinds.has('CONSTR_NOTNULL') && !filled ? ['add-not-null-without-default'] : [];
}

const REWRITE_SUBTYPES = new Set(['AT_SetTableSpace', 'AT_SetLogged', 'AT_SetUnLogged', 'AT_SetAccessMethod']);

/** Rule hits of one statement; updates the file state (created tables, lock timeout, expand/contract). */
export function pgHits(stmt: PgNode, state: FileState): Hit[] {
  const [kind, body] = Object.entries(stmt)[0] ?? [];
  const node = (body ?? {}) as Record<string, unknown>;
  switch (kind) {
    case 'CreateStmt':
      state.created.add(relName(node.relation as Rel));
      return [];
    case 'VariableSetStmt':
      if (String(node.name).toLowerCase() === 'lock_timeout') state.lockTimeout = true;
      return [];
    case 'AlterTableStmt': {
      const table = relName(node.relation as Rel);
      if (state.created.has(table)) return [];
      const hits: Hit[] = ['missing-lock-timeout'];
      for (const c of (node.cmds ?? []) as { AlterTableCmd: { subtype?: string; def?: PgNode } }[]) {
        const cmd = c.AlterTableCmd;
        switch (cmd.subtype) {
          case 'AT_AddColumn':
            state.expanded.add(table);
            hits.push(...addColumnHits(cmd.def ?? {}));
            break;
          case 'AT_DropColumn':
            state.contracted.add(table);
            hits.push('drop-column');
            break;
          case 'AT_AlterColumnType':
            hits.push('change-column-type');
            break;
          case 'AT_SetNotNull':
            hits.push('set-not-null');
            break;
          case 'AT_AddConstraint': {
            const con = ((cmd.def ?? {}) as { Constraint?: { contype?: string; skip_validation?: boolean } }).Constraint ?? {};
            if (con.contype === 'CONSTR_FOREIGN' && !con.skip_validation) hits.push('foreign-key-not-valid');
            if (con.contype === 'CONSTR_CHECK' && !con.skip_validation) hits.push('check-not-valid');
            break;
          }
          default:
            if (cmd.subtype && REWRITE_SUBTYPES.has(cmd.subtype)) hits.push('table-rewrite');
        }
      }
      return hits;
    }
    case 'RenameStmt': {
      const table = relName(node.relation as Rel);
      if (state.created.has(table)) return [];
      if (node.renameType === 'OBJECT_COLUMN') {
        state.contracted.add(table);
        return ['missing-lock-timeout', 'rename-column'];
      }
      if (node.renameType === 'OBJECT_TABLE') return ['missing-lock-timeout', 'rename-table'];
      return [];
    }
    case 'DropStmt':
      return node.removeType === 'OBJECT_TABLE' ? ['missing-lock-timeout', 'drop-table'] : [];
    case 'IndexStmt':
      if (node.concurrent || state.created.has(relName(node.relation as Rel))) return [];
      return ['missing-lock-timeout', 'create-index-not-concurrently'];
    case 'VacuumStmt': {
      const full = ((node.options ?? []) as { DefElem?: { defname?: string } }[]).some((o) => o.DefElem?.defname === 'full');
      return full ? ['vacuum-full-cluster'] : [];
    }
    case 'ClusterStmt':
      return ['vacuum-full-cluster'];
    case 'TruncateStmt':
      return ['missing-lock-timeout', 'truncate'];
    case 'UpdateStmt':
      return node.whereClause || state.created.has(relName(node.relation as Rel)) ? [] : ['unbatched-backfill'];
    default:
      return [];
  }
}
