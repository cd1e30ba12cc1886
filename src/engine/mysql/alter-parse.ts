/**
 * --alter on MySQL/MariaDB, read by node-sql-parser. Two layers keep it to
 * one statement: the tokenizer refuses any `;` outside literals and any
 * executable comment (`/*! ... *\/`), and our connections never enable
 * multi-statements, so the server itself refuses a second statement
 * (ER_PARSE_ERROR) if one ever got through.
 *
 * node-sql-parser does not read every valid form (CONVERT TO CHARACTER SET,
 * ALTER COLUMN ... SET DEFAULT, RENAME INDEX, FORCE, DROP COLUMN IF EXISTS,
 * MariaDB's ADD UNIQUE KEY, ...). Such clauses are classified by their
 * leading keywords (tokens, so quotes and comments can't mislead them),
 * `fullyParsed` says so, and the server's parser is the judge when the ALTER
 * runs on the empty ghost table.
 */
import { createRequire } from 'node:module';
import type NodeSqlParser from 'node-sql-parser';
import { RefusedError } from '../../errors.js';
import type { AlterClause, AlterClauseKind, AlterParser, AlterTarget, ParsedAlter } from '../alter.js';
import { parseTableRef } from './ident.js';
import { alterHead, joinTokens, MYSQL_LEX, oneStatement, splitTopLevel, tokenize, type Token } from '../sql-lexer.js';

export { MYSQL_LEX };

/**
 * One dialect's build of node-sql-parser, required on first use. The
 * package's main file holds the grammars of every dialect (2.5 MB) and, as an
 * import, is lexed for named exports too: it took 0.5-1.2 s of every MySQL
 * run's start-up on our 2-core machine, one build (~270 kB, same grammar,
 * same trees) 35-90 ms. MariaDB's is required only when MySQL's can't read
 * the text.
 */
type SqlParser = InstanceType<typeof NodeSqlParser.Parser>;
type SqlDialect = 'MySQL' | 'MariaDB';
const requireCjs = createRequire(import.meta.url);
const BUILDS: Record<SqlDialect, string> = { MySQL: 'node-sql-parser/build/mysql.js', MariaDB: 'node-sql-parser/build/mariadb.js' };
const parsers: Partial<Record<SqlDialect, SqlParser>> = {};
function parserFor(database: SqlDialect): SqlParser {
  return (parsers[database] ??= new (requireCjs(BUILDS[database]) as typeof NodeSqlParser).Parser());
}
const PLACEHOLDER = 'ALTER TABLE `ghostwright alter target` ';

export const mysqlAlterParser: AlterParser = { parseAlter: parseMysqlAlter, parseTable: parseMysqlTable };

/** '' can't be a given database (refused by parseTableRef), so it marks "none given". */
export function parseMysqlTable(text: string): AlterTarget {
  const ref = parseTableRef(text, '');
  return { schema: ref.schema === '' ? null : ref.schema, name: ref.name };
}

type Expr = Record<string, unknown>;

/** The ALTER's clause expressions, or null when node-sql-parser can't read the text (as MySQL nor as MariaDB). */
function astExprs(clauses: string): Expr[] | null {
  for (const database of ['MySQL', 'MariaDB'] as const) {
    let ast: unknown;
    try {
      ast = parserFor(database).astify(PLACEHOLDER + clauses, { database });
    } catch {
      continue;
    }
    const stmts = (Array.isArray(ast) ? ast : [ast]) as Expr[];
    if (stmts.length !== 1 || stmts[0]!.type !== 'alter') {
      throw new RefusedError('E_BAD_ALTER', `--alter must be exactly one ALTER TABLE; it reads as ${stmts.length} statements (${stmts.map((s) => String(s.type)).join(', ')})`, {
        hint: 'give only the clauses of one ALTER TABLE; run other statements separately',
      });
    }
    return (stmts[0]!.expr as Expr[] | undefined) ?? [];
  }
  return null;
}

export function parseMysqlAlter(text: string): ParsedAlter {
  const tokens = oneStatement(tokenize(text, MYSQL_LEX));
  const head = alterHead(tokens, (w) => w);
  if (head && head.parts.length > 2) throw new RefusedError('E_BAD_ALTER', `--alter names "${head.parts.join('.')}": use table or database.table`, { hint: 'name the table as database.table at most' });
  const target = head ? { schema: head.parts.length === 2 ? head.parts[0]! : null, name: head.parts.at(-1)! } : null;
  const clauseTokens = head ? tokens.slice(head.rest) : tokens;
  const clauses = joinTokens(clauseTokens);
  const texts = splitTopLevel(clauseTokens);
  const exprs = astExprs(clauses);
  let fullyParsed = true;
  const parts = texts.map((clause, i): AlterClause => {
    const expr = exprs && exprs.length === texts.length ? exprs[i]! : (astExprs(clause)?.[0] ?? null);
    const fromAst = expr ? classifyExpr(expr, clause) : null;
    if (fromAst) return fromAst;
    fullyParsed = false;
    return classifyByKeywords(clause);
  });
  return { target, clauses, parts, fullyParsed };
}

function colName(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  const c = v as { column?: unknown; expr?: { value?: unknown } } | undefined;
  if (c?.column !== undefined) return colName(c.column);
  if (c?.expr?.value !== undefined) return String(c.expr.value);
  return undefined;
}

function classifyExpr(e: Expr, text: string): AlterClause | null {
  const action = e.action as string | undefined;
  const resource = e.resource as string | undefined;
  const on = (kind: AlterClauseKind, column?: string): AlterClause => (column === undefined ? { kind, text } : { kind, text, column });
  if (resource === 'column') {
    const column = colName(e.column);
    if (action === 'add') return on('add-column', column);
    if (action === 'drop') return on('drop-column', column);
    if (action === 'modify') return on('modify-column', column);
    if (action === 'change' || action === 'rename') {
      const from = colName(e.old_column);
      if (from === undefined || column === undefined) return null;
      return from === column ? on('modify-column', from) : { kind: 'rename-column', text, column: from, to: column };
    }
    return null;
  }
  if (resource === 'table' && action === 'rename') return on('rename-table');
  if (resource === 'index' || resource === 'fulltext index' || resource === 'spatial index') return on(action === 'drop' ? 'drop-index' : 'add-index', e.index as string | undefined);
  if (resource === 'key') {
    const keyword = String(e.keyword ?? '').toLowerCase();
    if (keyword === 'foreign key') return on('drop-constraint', e.key as string | undefined);
    return on(keyword === 'primary key' ? 'drop-key' : 'drop-index', (e.key as string | undefined) || undefined);
  }
  if (resource === 'constraint') {
    if (action === 'drop') return on('drop-constraint', e.constraint as string | undefined);
    const def = (e.create_definitions ?? {}) as { constraint_type?: string; index?: string; constraint?: string };
    const type = String(def.constraint_type ?? '').toLowerCase();
    const name = def.index ?? def.constraint ?? undefined;
    if (type === 'primary key' || type.startsWith('unique')) return on('add-key', name ?? undefined);
    return on('add-constraint', name ?? undefined);
  }
  if (['engine', 'algorithm', 'lock', 'charset', 'collate', 'comment', 'auto_increment', 'row_format'].includes(resource ?? '')) return on('table-option');
  return null;
}

const word = (t: Token | undefined, ...w: string[]): boolean => t?.kind === 'word' && w.includes(t.text.toUpperCase());
const nameOf = (t: Token | undefined): string | undefined => (t && (t.kind === 'word' || t.kind === 'ident') ? t.value : undefined);

/** Words that begin an ALTER TABLE clause on MySQL 8 / MariaDB 10.11 (table options included). */
const CLAUSE_START = new Set(
  ('ADD ALTER ALGORITHM ANALYZE AUTO_INCREMENT AVG_ROW_LENGTH CHANGE CHARACTER CHARSET CHECK CHECKSUM COALESCE COLLATE COMMENT COMPRESSION CONNECTION CONVERT ' +
    'DATA DEFAULT DELAY_KEY_WRITE DISABLE DISCARD DROP ENABLE ENCRYPTED ENCRYPTION ENCRYPTION_KEY_ID ENGINE EXCHANGE FORCE IMPORT INDEX INSERT_METHOD KEY_BLOCK_SIZE ' +
    'LOCK MAX_ROWS MIN_ROWS MODIFY OPTIMIZE ORDER PACK_KEYS PAGE_CHECKSUM PAGE_COMPRESSED PAGE_COMPRESSION_LEVEL PARTITION PASSWORD REBUILD REMOVE RENAME ' +
    'REORGANIZE REPAIR ROW_FORMAT SECONDARY_ENGINE SEQUENCE STATS_AUTO_RECALC STATS_PERSISTENT STATS_SAMPLE_PAGES TABLESPACE TRANSACTIONAL TRUNCATE UNION UPGRADE WITH WITHOUT').split(' '),
);
/** Clause words that act on partitions or tablespaces only (TRUNCATE PARTITION p, never TRUNCATE t). */
const PARTITION_ONLY = new Set(['ANALYZE', 'CHECK', 'COALESCE', 'DISCARD', 'EXCHANGE', 'IMPORT', 'OPTIMIZE', 'REBUILD', 'REORGANIZE', 'REPAIR', 'TRUNCATE']);
/** Reserved words that can't be an unquoted column name: `DROP TABLE x` is not DROP COLUMN. */
const NOT_A_NAME = new Set(['TABLE', 'DATABASE', 'SCHEMA', 'VIEW', 'TRIGGER', 'PROCEDURE', 'FUNCTION', 'EVENT', 'USER', 'SERVER', 'TABLESPACE', 'SEQUENCE', 'INDEX', 'KEY']);

function notAClause(text: string): RefusedError {
  return new RefusedError('E_BAD_ALTER', `--alter: "${text.slice(0, 60)}" is not an ALTER TABLE clause`, {
    hint: 'give only the clauses of one ALTER TABLE, e.g. --alter "ADD COLUMN c INT NOT NULL DEFAULT 0"',
  });
}

/**
 * Leading-keyword rules for the clauses node-sql-parser can't read, read
 * from tokens (never from raw text). Text that can't begin an ALTER TABLE
 * clause is refused; the server's parser judges the rest.
 */
export function classifyByKeywords(text: string): AlterClause {
  const t = tokenize(text, MYSQL_LEX).filter((x) => x.kind !== 'space');
  const lead = t[0]?.kind === 'word' ? t[0].text.toUpperCase() : '';
  if (!CLAUSE_START.has(lead)) throw notAClause(text);
  if (PARTITION_ONLY.has(lead) && !word(t[1], 'PARTITION', 'TABLESPACE')) throw notAClause(text);
  if (t.slice(1, 3).some((x) => word(x, ...NOT_A_NAME)) && word(t[0], 'DROP', 'ADD', 'MODIFY', 'CHANGE', 'ALTER') && !word(t[1], 'INDEX', 'KEY') && !word(t[2], 'INDEX', 'KEY')) throw notAClause(text);
  const on = (kind: AlterClauseKind, column?: string): AlterClause => (column === undefined ? { kind, text } : { kind, text, column });
  let n = 1;
  const skip = (...w: string[]): void => {
    while (word(t[n], ...w)) n++;
  };
  if (word(t[0], 'RENAME')) {
    if (word(t[1], 'COLUMN')) return { kind: 'rename-column', text, column: nameOf(t[2])!, to: nameOf(t[4])! };
    if (word(t[1], 'INDEX', 'KEY')) return on('other', nameOf(t[2]));
    return on('rename-table');
  }
  if (word(t[0], 'CHANGE')) {
    skip('COLUMN');
    if (word(t[n], 'IF') && word(t[n + 1], 'EXISTS')) n += 2;
    const from = nameOf(t[n]);
    const to = nameOf(t[n + 1]);
    if (from === undefined || to === undefined) return on('other');
    return from.toLowerCase() === to.toLowerCase() ? on('modify-column', from) : { kind: 'rename-column', text, column: from, to };
  }
  if (word(t[0], 'MODIFY') || (word(t[0], 'ALTER') && !word(t[1], 'INDEX', 'KEY', 'CONSTRAINT', 'CHECK'))) {
    skip('COLUMN');
    if (word(t[n], 'IF') && word(t[n + 1], 'EXISTS')) n += 2;
    return on('modify-column', nameOf(t[n]));
  }
  if (word(t[0], 'DROP')) {
    if (word(t[1], 'PRIMARY')) return on('drop-key');
    if (word(t[1], 'INDEX', 'KEY')) return on('drop-index', nameOf(t[word(t[2], 'IF') ? 4 : 2]));
    if (word(t[1], 'FOREIGN', 'CONSTRAINT', 'CHECK')) return on('drop-constraint');
    if (word(t[1], 'PARTITION')) return on('other');
    skip('COLUMN');
    if (word(t[n], 'IF') && word(t[n + 1], 'EXISTS')) n += 2;
    return on('drop-column', nameOf(t[n]));
  }
  if (word(t[0], 'ADD')) {
    if (word(t[1], 'PRIMARY', 'UNIQUE')) return on('add-key');
    if (word(t[1], 'INDEX', 'KEY', 'FULLTEXT', 'SPATIAL')) return on('add-index');
    if (word(t[1], 'CONSTRAINT', 'FOREIGN', 'CHECK', 'PERIOD', 'SYSTEM', 'PARTITION')) return on(word(t[1], 'CONSTRAINT') && t.some((x) => word(x, 'PRIMARY', 'UNIQUE')) ? 'add-key' : 'add-constraint');
    skip('COLUMN');
    if (word(t[n], 'IF') && word(t[n + 1], 'NOT') && word(t[n + 2], 'EXISTS')) n += 3;
    return on('add-column', nameOf(t[n]));
  }
  if (word(t[0], 'CONVERT', 'ENGINE', 'ALGORITHM', 'LOCK', 'FORCE', 'DEFAULT', 'CHARACTER', 'CHARSET', 'COLLATE', 'COMMENT', 'ROW_FORMAT', 'AUTO_INCREMENT', 'KEY_BLOCK_SIZE')) return on('table-option');
  return on('other');
}
