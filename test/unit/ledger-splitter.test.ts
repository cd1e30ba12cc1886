import { describe, expect, it } from 'vitest';
import { splitStatements } from '../../src/ledger/splitter.js';

const sqls = (text: string, d: 'mysql' | 'postgres') => splitStatements(text, d).map((s) => s.sql);

describe('statement splitter', () => {
  it('splits on ; outside quotes and comments, with lines', () => {
    const text = "-- header; comment\nCREATE TABLE a (x text default 'a;b');\n/* block; */ INSERT INTO a VALUES ('it''s;');\n\nSELECT \"we;ird\" FROM a";
    const st = splitStatements(text, 'postgres');
    expect(st.map((s) => s.sql)).toEqual(["CREATE TABLE a (x text default 'a;b')", "INSERT INTO a VALUES ('it''s;')", 'SELECT "we;ird" FROM a']);
    expect(st.map((s) => s.line)).toEqual([2, 3, 5]);
  });

  it('keeps PostgreSQL dollar-quoted bodies whole, nested comments, E-strings', () => {
    const text = `CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql;
DO $$ BEGIN PERFORM 1; END $$;
SELECT $1::int; /* outer /* inner; */ still; */ SELECT E'a\\';b';`;
    expect(sqls(text, 'postgres')).toEqual([
      'CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql',
      'DO $$ BEGIN PERFORM 1; END $$',
      'SELECT $1::int',
      "SELECT E'a\\';b'",
    ]);
  });

  it('honours the MySQL client DELIMITER command, backticks, # comments and backslash escapes', () => {
    const text = `CREATE TABLE \`a;b\` (x int); # comment; here
INSERT INTO t VALUES ('a\\';b');
DELIMITER //
CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END//
DELIMITER ;
SELECT 1--1;
SELECT 2`;
    expect(sqls(text, 'mysql')).toEqual([
      'CREATE TABLE `a;b` (x int)',
      "INSERT INTO t VALUES ('a\\';b')",
      'CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END',
      'SELECT 1--1',
      'SELECT 2',
    ]);
  });

  it('drops empty statements and comment-only text', () => {
    expect(sqls(';;\n-- only a comment\n', 'postgres')).toEqual([]);
    expect(sqls('SELECT 1;;SELECT 2', 'mysql')).toEqual(['SELECT 1', 'SELECT 2']);
  });
});
