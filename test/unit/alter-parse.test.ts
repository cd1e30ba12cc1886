import { beforeAll, describe, expect, it } from 'vitest';
import { checkAlter, reAddedOf, renamesOf } from '../../src/core/alter-text.js';
import type { AlterParser } from '../../src/engine/alter.js';
import { loadAlterParser } from '../../src/engine/index.js';
import { parseUsing, rewriteObjectNames } from '../../src/engine/postgres/using.js';
import { quoteIdent as pgQuote } from '../../src/engine/postgres/ident.js';
import { ISSUE_INJECTIONS } from '../fixtures/injections.js';

/** Every way a second statement was smuggled into --alter (issue 14 item 1). */
const INJECTIONS = [
  ...ISSUE_INJECTIONS,
  'ADD COLUMN w int;DROP TABLE victim;',
  'DROP TABLE victim',
  'TRUNCATE victim',
];

let pg: AlterParser;
let my: AlterParser;
beforeAll(async () => {
  pg = await loadAlterParser('postgres');
  my = await loadAlterParser('mysql');
});

const same = (a: string, b: string): boolean => a === b;
const sameCi = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

describe.each([
  ['postgres', () => pg],
  ['mysql', () => my],
] as const)('--alter on %s', (_dialect, parser) => {
  it.each(INJECTIONS)('refuses a second statement: %j', (text) => {
    expect(() => parser().parseAlter(text)).toThrow(expect.objectContaining({ code: 'E_BAD_ALTER', exitCode: 2 }));
  });

  it('refuses an empty --alter and a table rename', () => {
    expect(() => parser().parseAlter('  ;  ')).toThrow(/empty/);
    expect(() => checkAlter(parser().parseAlter('RENAME TO t2'), { schema: null, name: 't' }, same)).toThrow(/rename the table/);
    expect(() => checkAlter(parser().parseAlter('ALTER TABLE t RENAME TO t2'), { schema: null, name: 't' }, same)).toThrow(/rename the table/);
  });

  it('refuses a whole ALTER TABLE of another table', () => {
    expect(() => checkAlter(parser().parseAlter('ALTER TABLE other ADD COLUMN c int'), { schema: null, name: 't' }, sameCi)).toThrow(/names table "other" but --table is "t"/);
    expect(() => checkAlter(parser().parseAlter('ALTER TABLE s2.t ADD COLUMN c int'), { schema: 's1', name: 't' }, sameCi)).toThrow(/names table "s2.t"/);
  });

  it('keeps a semicolon or a comment marker inside a string literal', () => {
    const p = parser().parseAlter("ADD COLUMN w varchar(20) DEFAULT 'a;b -- c /* d */'");
    expect(p.clauses).toBe("ADD COLUMN w varchar(20) DEFAULT 'a;b -- c /* d */'");
  });

  it('drops comments and a trailing semicolon from what is sent', () => {
    expect(parser().parseAlter('ADD COLUMN w int -- note\n;').clauses).toBe('ADD COLUMN w int');
    expect(parser().parseAlter('ADD COLUMN w int /* ; DROP TABLE victim */').clauses).toBe('ADD COLUMN w int');
  });
});

describe('--alter on PostgreSQL (libpg_query)', () => {
  it('accepts clauses or a whole ALTER TABLE of the same table', () => {
    expect(checkAlter(pg.parseAlter('ADD COLUMN c int, DROP COLUMN d'), { schema: 'public', name: 't' }, same)).toBe('ADD COLUMN c int, DROP COLUMN d');
    const whole = pg.parseAlter('ALTER TABLE IF EXISTS ONLY "shop"."Orders" ADD c int;');
    expect(whole.target).toEqual({ schema: 'shop', name: 'Orders' });
    expect(checkAlter(whole, { schema: 'shop', name: 'Orders' }, same)).toBe('ADD c int');
    // Unquoted names fold to lower case, as the server folds them.
    expect(pg.parseAlter('alter table SHOP.T add c int').target).toEqual({ schema: 'shop', name: 't' });
  });

  it('classifies the clauses from the parse tree', () => {
    const p = pg.parseAlter(`ALTER COLUMN label TYPE text, ALTER COLUMN doc TYPE jsonb USING doc::jsonb, ADD CONSTRAINT n_pos CHECK (n > 0), ALTER COLUMN n SET NOT NULL, DROP CONSTRAINT t_pkey, ADD PRIMARY KEY (id, k), ADD COLUMN "New" int DEFAULT 1, DROP COLUMN old, SET (fillfactor = 70)`);
    expect(p.parts.map((c) => [c.kind, c.column ?? null, c.using ?? null])).toEqual([
      ['modify-column', 'label', null],
      ['modify-column', 'doc', 'doc::jsonb'],
      ['add-constraint', 'n_pos', null],
      ['modify-column', 'n', null],
      ['drop-constraint', 't_pkey', null],
      ['add-key', null, null],
      ['add-column', 'New', null],
      ['drop-column', 'old', null],
      ['table-option', null, null],
    ]);
    expect(p.fullyParsed).toBe(true);
    expect([...renamesOf(pg.parseAlter('ALTER TABLE t RENAME COLUMN "Name" TO title'))]).toEqual([['Name', 'title']]);
  });

  it('refuses other statement kinds and moving the table', () => {
    expect(() => pg.parseAlter('ALTER INDEX t_pkey RENAME TO x')).toThrow(/not valid PostgreSQL/);
    expect(() => checkAlter(pg.parseAlter('ALTER TABLE t SET SCHEMA other'), { schema: 'public', name: 't' }, same)).toThrow(/rename the table or move it/);
    expect(() => pg.parseAlter('ALTER TABLE t ADD COLUMN w int $$; DROP TABLE victim')).toThrow(/unterminated/);
    expect(() => pg.parseAlter(`ADD COLUMN w text DEFAULT $x$;$x$; DROP TABLE victim`)).toThrow(/more than one statement/);
  });

  it('reads USING expressions and rewrites constraint names from the parse', () => {
    expect([...parseUsing(`ALTER COLUMN doc TYPE jsonb USING doc::jsonb, ADD COLUMN x int, ALTER "Amount" SET DATA TYPE numeric(10,2) USING ("Amount" / 100.0)`)]).toEqual([
      ['doc', 'doc::jsonb'],
      ['Amount', '("Amount" / 100.0)'],
    ]);
    const names = { constraints: new Map([['t_pkey', '_t_gho_pkey']]), indexes: new Map([['t_v_idx', '_t_gho_v_idx']]) };
    expect(rewriteObjectNames('DROP CONSTRAINT IF EXISTS t_pkey -- the old key\n, ADD PRIMARY KEY (a), CLUSTER ON t_v_idx', names, pgQuote)).toBe('DROP CONSTRAINT IF EXISTS "_t_gho_pkey", ADD PRIMARY KEY (a), CLUSTER ON "_t_gho_v_idx"');
  });
});

describe('--alter on MySQL/MariaDB (node-sql-parser)', () => {
  it('accepts clauses or a whole ALTER TABLE of the same table', () => {
    const whole = my.parseAlter('ALTER TABLE `shop`.`orders` ADD COLUMN c INT;');
    expect(whole.target).toEqual({ schema: 'shop', name: 'orders' });
    expect(checkAlter(whole, { schema: 'shop', name: 'ORDERS' }, sameCi)).toBe('ADD COLUMN c INT');
    expect(checkAlter(my.parseAlter('ADD COLUMN c INT NULL, ADD INDEX (s)'), { schema: 'shop', name: 'orders' }, sameCi)).toBe('ADD COLUMN c INT NULL, ADD INDEX (s)');
  });

  it('classifies the clauses from the parse tree', () => {
    const p = my.parseAlter('CHANGE COLUMN `old` `new` INT NOT NULL, RENAME COLUMN s TO s2, CHANGE same same BIGINT, MODIFY q BIGINT, DROP PRIMARY KEY, ADD PRIMARY KEY (id, i), DROP INDEX j, ADD INDEX i (a), DROP COLUMN d');
    expect(p.parts.map((c) => [c.kind, c.column ?? null, c.to ?? null])).toEqual([
      ['rename-column', 'old', 'new'],
      ['rename-column', 's', 's2'],
      ['modify-column', 'same', null],
      ['modify-column', 'q', null],
      ['drop-key', null, null],
      ['add-key', null, null],
      ['drop-index', 'j', null],
      ['add-index', 'i', null],
      ['drop-column', 'd', null],
    ]);
    expect(p.fullyParsed).toBe(true);
    expect([...renamesOf(p, (n) => n.toLowerCase())]).toEqual([
      ['old', 'new'],
      ['s', 's2'],
    ]);
  });

  it('falls back to keyword rules, from tokens, for forms node-sql-parser lacks', () => {
    const p = my.parseAlter('CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci, ALTER COLUMN c SET DEFAULT 3, RENAME INDEX a TO b, CHANGE `x y` `z` INT, DROP COLUMN IF EXISTS q');
    expect(p.fullyParsed).toBe(false);
    expect(p.parts.map((c) => [c.kind, c.column ?? null, c.to ?? null])).toEqual([
      ['table-option', null, null],
      ['modify-column', 'c', null],
      ['other', 'a', null],
      ['rename-column', 'x y', 'z'],
      ['drop-column', 'q', null],
    ]);
    expect(() => checkAlter(my.parseAlter('ADD c INT, RENAME AS t2'), { schema: null, name: 't' }, sameCi)).toThrow(/rename the table/);
  });

  it('refuses executable comments and ALTER ONLINE/IGNORE TABLE', () => {
    expect(() => my.parseAlter('ADD w INT /*!50000 , DROP COLUMN id */')).toThrow(/executable comment/);
    expect(() => my.parseAlter('ADD w INT /*M! , DROP COLUMN id */')).toThrow(/executable comment/);
    expect(() => my.parseAlter('ALTER IGNORE TABLE t ADD UNIQUE (a)')).toThrow(/ALTER IGNORE TABLE/);
  });

  it('reads # comments and backslash escapes as MySQL does', () => {
    expect(my.parseAlter("ADD c VARCHAR(9) DEFAULT 'it\\'s;' # ; DROP TABLE victim\n").clauses).toBe("ADD c VARCHAR(9) DEFAULT 'it\\'s;'");
    expect(() => my.parseAlter("ADD c VARCHAR(9) DEFAULT 'it\\'s'; DROP TABLE victim")).toThrow(/more than one statement/);
  });
});

describe('a column dropped and added again (from the parse)', () => {
  it('is found in either order, never for indexes, keys or constraints', () => {
    const lower = (n: string): string => n.toLowerCase();
    expect([...reAddedOf(my.parseAlter('DROP COLUMN c1, ADD COLUMN c1 INT NOT NULL DEFAULT 47'), lower)]).toEqual(['c1']);
    expect([...reAddedOf(my.parseAlter('ADD `C1` INT, DROP c1'), lower)]).toEqual(['c1']);
    expect([...reAddedOf(my.parseAlter('DROP COLUMN IF EXISTS x, ADD COLUMN IF NOT EXISTS x int'), lower)]).toEqual(['x']);
    expect([...reAddedOf(pg.parseAlter('DROP COLUMN IF EXISTS "x", ADD COLUMN IF NOT EXISTS "x" int'))]).toEqual(['x']);
    expect([...reAddedOf(my.parseAlter('DROP INDEX c1, ADD INDEX c1 (c1), DROP PRIMARY KEY, ADD PRIMARY KEY (id)'), lower)]).toEqual([]);
    expect([...reAddedOf(pg.parseAlter('DROP CONSTRAINT c1, ADD CONSTRAINT c1 CHECK (c1 > 0), DROP c2'))]).toEqual([]);
  });
});

describe('--table is taken exactly', () => {
  it('keeps leading and trailing spaces (they are part of a name)', () => {
    expect(pg.parseTable(' lead')).toEqual({ schema: null, name: ' lead' });
    expect(pg.parseTable('"Shop"." lead"')).toEqual({ schema: 'Shop', name: ' lead' });
    expect(my.parseTable(' lead')).toEqual({ schema: null, name: ' lead' });
    expect(my.parseTable('shop.`lead `')).toEqual({ schema: 'shop', name: 'lead ' });
  });
});
