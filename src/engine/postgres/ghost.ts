/**
 * The ghost table and the changelog. The ghost is `CREATE TABLE ... (LIKE t
 * INCLUDING ALL)`: columns, defaults (a serial's nextval default keeps
 * pointing at the original's sequence, which is what we want), identity
 * (with its OWN new sequence, set at cut-over), constraints, indexes,
 * comments, statistics. Foreign keys are not copied by LIKE: they are added
 * (NOT VALID) before the ALTER so it can drop or keep them, read back, then
 * removed from the ghost (an FK on the ghost would lock referenced rows during
 * the copy) and re-added at cut-over.
 */
import type pg from 'pg';
import { RefusedError } from '../../errors.js';
import type { TableRef } from '../engine.js';
import { catalog, oneStatement } from './connect.js';
import { qualified, quoteIdent } from './ident.js';
import { INDEX_SHAPE } from './dependents.js';
import { loadPgParser } from './alter-parse.js';
import { rewriteObjectNames } from './using.js';

export interface GhostFk {
  name: string;
  definition: string;
}

export interface GhostNames {
  original: TableRef;
  ghost: TableRef;
  changelog: TableRef;
}

export function createGhostSql(n: GhostNames): string[] {
  return [`CREATE TABLE ${qualified(n.ghost)} (LIKE ${qualified(n.original)} INCLUDING ALL)`];
}

export function createChangelogSql(n: GhostNames): string {
  return `CREATE TABLE ${qualified(n.changelog)} (id int PRIMARY KEY, heartbeat timestamptz, state jsonb, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`;
}

async function fkDefinitions(client: pg.ClientBase, ref: TableRef): Promise<GhostFk[]> {
  return catalog<GhostFk>(
    client,
    `SELECT con.conname AS name, pg_get_constraintdef(con.oid) AS definition FROM pg_constraint con
      WHERE con.conrelid = format('%I.%I', $1::text, $2::text)::regclass AND con.contype = 'f' ORDER BY con.conname`,
    [ref.schema, ref.name],
  );
}

/**
 * The ghost, built inside the caller's open transaction: created LIKE the
 * original, FKs added, the ALTER applied, FKs read back and removed.
 * Returns the FKs the ghost should have after the ALTER.
 */
async function buildGhost(client: pg.ClientBase, n: GhostNames, alter: string, lockTimeoutMs: number): Promise<GhostFk[]> {
  // Adding an FK briefly locks the referenced table: never wait long for it.
  await client.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
  for (const sql of createGhostSql(n)) {
    await client.query(sql).catch((err: unknown) => {
      // 42P07: another run created the ghost after our preflight looked.
      if ((err as { code?: string }).code !== '42P07') throw err;
      throw new RefusedError('E_LEFTOVER', `the ghost table ${n.ghost.schema}.${n.ghost.name} already exists: another run is working on this table`, { hint: `wait for it to finish, or if it crashed: DROP TABLE ${qualified(n.ghost)};`, cause: err });
    });
  }
  for (const fk of await fkDefinitions(client, n.original)) {
    await client.query(`ALTER TABLE ${qualified(n.ghost)} ADD CONSTRAINT ${quoteIdent(fk.name)} ${withNotValid(fk.definition)}`);
  }
  await loadPgParser();
  const names = await ghostNames(client, n);
  await copyConstraintComments(client, n, names.constraints);
  const renamed = rewriteObjectNames(alter, names, quoteIdent);
  try {
    // User text: the extended protocol runs exactly one statement, whatever it holds.
    await client.query(oneStatement(`ALTER TABLE ${qualified(n.ghost)} ${renamed}`));
  } catch (err) {
    const e = err as { message?: string; code?: string };
    throw new RefusedError('E_BAD_ALTER', `the ALTER failed on the ghost table: ${e.message ?? String(err)}`, {
      hint: 'fix the ALTER clauses (they run as ALTER TABLE <table> <clauses>)',
      cause: err,
    });
  }
  const fks = await fkDefinitions(client, n.ghost);
  for (const fk of fks) await client.query(`ALTER TABLE ${qualified(n.ghost)} DROP CONSTRAINT ${quoteIdent(fk.name)}`);
  return fks;
}

/**
 * Creates ghost + changelog in one transaction (DDL is transactional in
 * PostgreSQL): an invalid ALTER leaves nothing behind. Returns the FKs the
 * ghost should have after the ALTER.
 */
export async function createGhost(client: pg.ClientBase, n: GhostNames, alter: string, lockTimeoutMs: number): Promise<GhostFk[]> {
  await client.query('BEGIN');
  try {
    const fks = await buildGhost(client, n, alter, lockTimeoutMs);
    await client.query(createChangelogSql(n));
    await client.query('COMMIT');
    return fks;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * Dry run: the ghost is built and read inside a transaction that is always
 * rolled back. No other session ever sees it (an uncommitted catalog row is
 * invisible), and nothing is left behind, whatever fails.
 */
export async function probeGhost<T>(client: pg.ClientBase, n: GhostNames, alter: string, lockTimeoutMs: number, read: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    await buildGhost(client, n, alter, lockTimeoutMs);
    return await read(client);
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
  }
}

/**
 * LIKE ... INCLUDING COMMENTS copies the comments of an index, not those of
 * the primary key, unique or exclusion constraint it backs: those are copied
 * here, onto the ghost's constraint of the same shape.
 */
async function copyConstraintComments(client: pg.ClientBase, n: GhostNames, constraints: Map<string, string>): Promise<void> {
  const commented = await catalog<{ name: string; comment: string }>(
    client,
    `SELECT conname AS name, obj_description(oid, 'pg_constraint') AS comment FROM pg_constraint
      WHERE conrelid = format('%I.%I', $1::text, $2::text)::regclass AND contype IN ('p', 'u', 'x') AND obj_description(oid, 'pg_constraint') IS NOT NULL`,
    [n.original.schema, n.original.name],
  );
  for (const c of commented) {
    const ghostName = constraints.get(c.name);
    if (!ghostName) continue;
    const [stmt] = await catalog<{ s: string }>(client, `SELECT format('COMMENT ON CONSTRAINT %I ON %I.%I IS %L', $1::text, $2::text, $3::text, $4::text) AS s`, [ghostName, n.ghost.schema, n.ghost.name, c.comment]);
    await client.query(stmt!.s);
  }
}

export function withNotValid(definition: string): string {
  return /\bNOT VALID\s*$/i.test(definition) ? definition : `${definition} NOT VALID`;
}

export interface NamedIndex {
  name: string;
  constraint: string | null;
  shape: string;
}

/** The table's indexes: name, the constraint they back, and shape (INDEX_SHAPE: 'U ' first when unique). */
export async function namedIndexes(client: pg.Pool | pg.ClientBase, ref: TableRef): Promise<NamedIndex[]> {
  return catalog<NamedIndex>(
    client,
    `SELECT i.relname AS name, con.conname AS constraint, ${INDEX_SHAPE} AS shape
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
       LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid
      WHERE x.indrelid = format('%I.%I', $1::text, $2::text)::regclass ORDER BY i.relname`,
    [ref.schema, ref.name],
  );
}

/** Original index/constraint name -> the ghost's copy of it (matched by definition, one to one). */
async function ghostNames(client: pg.ClientBase, n: GhostNames): Promise<{ constraints: Map<string, string>; indexes: Map<string, string> }> {
  const ghost = await namedIndexes(client, n.ghost);
  const constraints = new Map<string, string>();
  const indexes = new Map<string, string>();
  for (const o of await namedIndexes(client, n.original)) {
    const at = ghost.findIndex((g) => g.shape === o.shape);
    if (at < 0) continue;
    const g = ghost.splice(at, 1)[0]!;
    indexes.set(o.name, g.name);
    if (o.constraint && g.constraint) constraints.set(o.constraint, g.constraint);
  }
  return { constraints, indexes };
}
