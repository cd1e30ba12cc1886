/**
 * --alter on PostgreSQL, read by libpg_query (PostgreSQL's own grammar, via
 * pgsql-parser). A simple-protocol query runs every statement it holds, so
 * `ADD COLUMN w int; DROP TABLE victim` once dropped `victim` even in a dry
 * run. Now the text must parse as exactly one ALTER TABLE (or its RENAME
 * COLUMN / RENAME CONSTRAINT form) and the ghost's ALTER goes through the
 * extended protocol, which runs one statement only.
 */
import { loadModule, parseSync } from 'pgsql-parser';
import { RefusedError } from '../../errors.js';
import type { AlterClause, AlterClauseKind, AlterParser, AlterTarget, ParsedAlter } from '../alter.js';
import { parseTableRef } from './ident.js';
import { alterHead, joinTokens, oneStatement, PG_LEX, splitTopLevel, tokenize, topLevelWord } from '../sql-lexer.js';

export { PG_LEX };

let loaded: Promise<void> | null = null;
let ready = false;

/** libpg_query is WASM: load it once before parsing. */
export async function loadPgParser(): Promise<AlterParser> {
  loaded ??= loadModule().then(() => {
    ready = true;
  });
  await loaded;
  return { parseAlter: parsePgAlter, parseTable: parsePgTable };
}

type Node = Record<string, unknown>;
interface RawStmt {
  stmt: Node;
}

function syntax(text: string): RawStmt[] {
  if (!ready) throw new Error('loadPgParser() must be awaited before parsing');
  try {
    return ((parseSync(text) as { stmts?: RawStmt[] }).stmts ?? []).filter((s) => s.stmt);
  } catch (err) {
    throw new RefusedError('E_BAD_ALTER', `--alter is not valid PostgreSQL: ${(err as Error).message}`, {
      hint: 'give the clauses of one ALTER TABLE, e.g. --alter "ADD COLUMN c int NOT NULL DEFAULT 0", or a whole ALTER TABLE <table> ... for the same table',
      cause: err,
    });
  }
}

/** '' can't be a given schema (refused by parseTableRef), so it marks "none given". */
export function parsePgTable(text: string): AlterTarget {
  const ref = parseTableRef(text, '');
  return { schema: ref.schema === '' ? null : ref.schema, name: ref.name };
}

const PLACEHOLDER = 'ALTER TABLE "ghostwright alter target" ';

export function parsePgAlter(text: string): ParsedAlter {
  const tokens = oneStatement(tokenize(text, PG_LEX));
  const head = alterHead(tokens, (w) => w.toLowerCase());
  let target: AlterTarget | null = null;
  const clauseTokens = head ? tokens.slice(head.rest) : tokens;
  if (head) {
    // The whole statement, as the server would read it: exactly one, on one table.
    const whole = syntax(joinTokens(tokens));
    const rel = whole.length === 1 ? relationOf(whole[0]!.stmt) : null;
    if (!rel) throw notOneAlter(whole);
    target = rel;
  }
  const clauses = joinTokens(clauseTokens);
  const stmts = syntax(PLACEHOLDER + clauses);
  if (stmts.length !== 1) throw notOneAlter(stmts);
  const texts = splitTopLevel(clauseTokens);
  const parts = classify(stmts[0]!.stmt, texts, clauses);
  return { target, clauses, parts, fullyParsed: true };
}

/** A clause with PostgreSQL's own name for it (AT_DropConstraint, ...): the engine rewrites object names by it. */
export interface PgClause extends AlterClause {
  subtype: string;
}

/** The clauses of an already accepted --alter (the engine's view, with subtypes). */
export function pgClauses(clauses: string): PgClause[] {
  return parsePgAlter(clauses).parts as PgClause[];
}

function notOneAlter(stmts: RawStmt[]): RefusedError {
  const kinds = stmts.map((s) => Object.keys(s.stmt)[0]).join(', ');
  return new RefusedError('E_BAD_ALTER', `--alter must be exactly one ALTER TABLE; PostgreSQL reads it as: ${kinds || 'nothing'}`, {
    hint: 'give only the clauses of one ALTER TABLE (no ";", no other statement); run other statements separately',
  });
}

function relationOf(stmt: Node): AlterTarget | null {
  const s = (stmt.AlterTableStmt ?? stmt.RenameStmt ?? stmt.AlterObjectSchemaStmt) as { relation?: { schemaname?: string; relname?: string }; objtype?: string; relationType?: string; objectType?: string } | undefined;
  if (!s?.relation?.relname) return null;
  if (stmt.AlterTableStmt && s.objtype !== 'OBJECT_TABLE') return null;
  if (stmt.RenameStmt && s.relationType !== 'OBJECT_TABLE' && (stmt.RenameStmt as { renameType?: string }).renameType !== 'OBJECT_TABLE') return null;
  if (stmt.AlterObjectSchemaStmt && s.objectType !== 'OBJECT_TABLE') return null;
  return { schema: s.relation.schemaname ?? null, name: s.relation.relname };
}

const MODIFY = new Set(['AT_ColumnDefault', 'AT_DropNotNull', 'AT_SetNotNull', 'AT_SetStatistics', 'AT_SetStorage', 'AT_SetCompression', 'AT_AddIdentity', 'AT_SetIdentity', 'AT_DropIdentity', 'AT_DropExpression', 'AT_SetOptions', 'AT_ResetOptions', 'AT_SetExpression', 'AT_CookedColumnDefault']);
const TABLE_OPTION = new Set(['AT_SetRelOptions', 'AT_ResetRelOptions', 'AT_ReplaceRelOptions', 'AT_SetTableSpace', 'AT_SetLogged', 'AT_SetUnLogged', 'AT_SetAccessMethod', 'AT_ClusterOn', 'AT_DropCluster', 'AT_ReplicaIdentity', 'AT_DropOids']);

interface Cmd {
  subtype?: string;
  name?: string;
  def?: Node;
}

function classify(stmt: Node, texts: string[], clauses: string): PgClause[] {
  if (stmt.RenameStmt) {
    const r = stmt.RenameStmt as { renameType?: string; subname?: string; newname?: string };
    if (r.renameType === 'OBJECT_COLUMN') return [{ kind: 'rename-column', text: clauses, column: r.subname!, to: r.newname!, subtype: 'RenameColumn' }];
    if (r.renameType === 'OBJECT_TABLE') return [{ kind: 'rename-table', text: clauses, subtype: 'RenameTable' }];
    if (r.renameType === 'OBJECT_TABCONSTRAINT') return [{ kind: 'other', text: clauses, column: r.subname!, to: r.newname!, subtype: 'RenameConstraint' }];
    throw notOneAlter([{ stmt }]);
  }
  if (stmt.AlterObjectSchemaStmt) return [{ kind: 'rename-table', text: clauses, subtype: 'SetSchema' }];
  const alter = stmt.AlterTableStmt as { cmds?: { AlterTableCmd: Cmd }[]; objtype?: string } | undefined;
  if (!alter || alter.objtype !== 'OBJECT_TABLE') throw notOneAlter([{ stmt }]);
  const cmds = (alter.cmds ?? []).map((c) => c.AlterTableCmd);
  // Each clause's text is needed on its own (USING, names rewritten for the ghost).
  if (cmds.length !== texts.length) {
    throw new RefusedError('E_BAD_ALTER', `--alter: PostgreSQL reads ${cmds.length} clauses where the commas separate ${texts.length}`, { hint: 'separate the clauses with commas, one change each' });
  }
  return cmds.map((cmd, i) => ({ ...classifyCmd(cmd, texts[i]!), subtype: cmd.subtype ?? '' }));
}

/** The object a clause names: a column, or a constraint/index for the constraint and index clauses. */
function objectName(cmd: Cmd): string | undefined {
  const def = (cmd.def ?? {}) as { Constraint?: { conname?: string }; ReplicaIdentityStmt?: { name?: string } };
  return cmd.name ?? def.Constraint?.conname ?? def.ReplicaIdentityStmt?.name ?? undefined;
}

function classifyCmd(cmd: Cmd, text: string): AlterClause {
  const st = cmd.subtype ?? '';
  const on = (kind: AlterClauseKind, column: string | undefined = objectName(cmd)): AlterClause => (column === undefined ? { kind, text } : { kind, text, column });
  switch (st) {
    case 'AT_AddColumn':
      return on('add-column', ((cmd.def?.ColumnDef ?? {}) as { colname?: string }).colname);
    case 'AT_DropColumn':
      return on('drop-column', cmd.name);
    case 'AT_AlterColumnType': {
      const def = (cmd.def?.ColumnDef ?? {}) as { raw_default?: unknown };
      const c = on('modify-column', cmd.name);
      return def.raw_default ? { ...c, using: usingText(text) } : c;
    }
    case 'AT_AddConstraint': {
      const con = ((cmd.def ?? {}) as { Constraint?: { contype?: string; conname?: string } }).Constraint ?? {};
      const key = con.contype === 'CONSTR_PRIMARY' || con.contype === 'CONSTR_UNIQUE' || con.contype === 'CONSTR_EXCLUSION';
      return on(key ? 'add-key' : 'add-constraint', con.conname);
    }
    case 'AT_DropConstraint':
      return on('drop-constraint', cmd.name);
    default:
      if (MODIFY.has(st)) return on('modify-column', cmd.name);
      if (TABLE_OPTION.has(st)) return on('table-option');
      return on('other');
  }
}

/** `ALTER [COLUMN] c [SET DATA] TYPE t [COLLATE x] USING expr`: USING ends the clause, so the expression is the rest. */
function usingText(clause: string): string {
  const tokens = tokenize(clause, PG_LEX);
  const at = topLevelWord(tokens, ['USING']);
  if (at < 0) throw new RefusedError('E_BAD_ALTER', `cannot find USING in "${clause}"`, { hint: 'write ALTER COLUMN c TYPE t USING expression' });
  return joinTokens(tokens.slice(at + 1));
}
