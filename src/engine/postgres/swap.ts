/**
 * The swap inside the cut-over transaction: rename the original to `_t_del`
 * and the ghost to `t`, then rebuild on the new table what PostgreSQL had
 * bound to the original's OID. Runs on the connection holding ACCESS
 * EXCLUSIVE on the original; any error rolls the whole transaction back and
 * leaves the original in place.
 */
import type pg from 'pg';
import { helperTableName } from '../../core/names.js';
import type { TableRef } from '../engine.js';
import { catalog } from './connect.js';
import type { AclEntry, Dependents } from './dependents.js';
import { INDEX_SHAPE } from './dependents.js';
import type { GhostFk } from './ghost.js';
import { withNotValid } from './ghost.js';
import { PG_MAX_IDENTIFIER_BYTES, qualified, quoteIdent } from './ident.js';

export interface SwapInput {
  original: TableRef;
  ghost: TableRef;
  old: TableRef;
  /** --timestamp-old-table: the old indexes and sequences are stamped like the old table. */
  oldTableStamp?: string | undefined;
  deps: Dependents;
  ghostFks: GhostFk[];
  /** source column -> new column (renames followed); dropped columns absent. */
  columnMap: Map<string, string>;
}

export interface SwapResult {
  /** Constraints added NOT VALID, to VALIDATE after commit: [table, constraint]. */
  toValidate: [TableRef, string][];
  warnings: string[];
}

const CMD: Record<string, string> = { r: 'SELECT', a: 'INSERT', w: 'UPDATE', d: 'DELETE', '*': 'ALL' };
const roleSql = (r: string | null): string => (r === null || r === 'public' ? 'PUBLIC' : quoteIdent(r));

export function grantSql(target: string, acl: AclEntry[], owner: string): string[] {
  return acl.filter((a) => a.grantee !== owner).map((a) => `GRANT ${a.privilege} ON TABLE ${target} TO ${roleSql(a.grantee)}${a.grantable ? ' WITH GRANT OPTION' : ''}`);
}

/** COMMENT takes no parameters: let the server quote the literal (format %L) from a bound value. */
export async function comment(db: pg.Pool | pg.ClientBase, what: string, target: string, text: string | null): Promise<void> {
  if (text === null) return;
  const res = await db.query<{ s: string }>(`SELECT format('COMMENT ON ${what} %s IS %L', $1::text, $2::text) AS s`, [target, text]);
  await db.query(res.rows[0]!.s);
}

async function reloptions(db: pg.ClientBase, kind: 'TABLE' | 'VIEW', target: string, options: string[] | null): Promise<void> {
  if (!options?.length) return;
  const parts = options.map((o) => {
    const eq = o.indexOf('=');
    const name = o.slice(0, eq);
    if (!/^[a-z_][a-z0-9_.]*$/.test(name)) throw new Error(`unexpected storage option name ${name}`);
    return { name, value: o.slice(eq + 1) };
  });
  const res = await db.query<{ s: string }>(`SELECT string_agg(n || ' = ' || quote_literal(v), ', ') AS s FROM unnest($1::text[], $2::text[]) AS o(n, v)`, [parts.map((p) => p.name), parts.map((p) => p.value)]);
  await db.query(`ALTER ${kind} ${target} SET (${res.rows[0]!.s})`);
}

export async function swap(db: pg.ClientBase, input: SwapInput): Promise<SwapResult> {
  const { deps, original, ghost, old } = input;
  const oldSuffix = input.oldTableStamp ? (`${input.oldTableStamp}_del` as const) : ('del' as const);
  const t = qualified(original);
  const warnings: string[] = [];
  const toValidate: [TableRef, string][] = [];

  // 1. Renames. Index names are unique per schema: move the old ones aside
  //    first, then give each ghost index the name of the original index of
  //    the same shape (renaming a constraint's index renames the constraint).
  await db.query(`ALTER TABLE ${t} RENAME TO ${quoteIdent(old.name)}`);
  for (const idx of deps.indexes) {
    await db.query(`ALTER INDEX ${quoteIdent(original.schema)}.${quoteIdent(idx.name)} RENAME TO ${quoteIdent(helperTableName(idx.name, oldSuffix, PG_MAX_IDENTIFIER_BYTES))}`);
  }
  await db.query(`ALTER TABLE ${qualified(ghost)} RENAME TO ${quoteIdent(original.name)}`);
  const ghostIdx = await catalog<{ name: string; shape: string }>(
    db,
    `SELECT i.relname AS name, ${INDEX_SHAPE} AS shape FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = $1::regclass ORDER BY 1`,
    [t],
  );
  // Matched by definition first (they take back their original names), then
  // the ALTER's new ones named after the ghost get the table's name instead.
  const unmatched = [...deps.indexes];
  const targets = new Map<string, string>();
  const rest: string[] = [];
  for (const gi of ghostIdx) {
    const at = unmatched.findIndex((o) => o.shape === gi.shape);
    if (at >= 0) targets.set(gi.name, unmatched.splice(at, 1)[0]!.name);
    else rest.push(gi.name);
  }
  const taken = new Set([...targets.values(), ...ghostIdx.map((g) => g.name)]);
  for (const name of rest) {
    if (!name.startsWith(ghost.name)) continue;
    const target = original.name + name.slice(ghost.name.length);
    if (Buffer.byteLength(target) > PG_MAX_IDENTIFIER_BYTES || taken.has(target)) continue;
    taken.add(target);
    targets.set(name, target);
  }
  for (const [from, to] of targets) {
    if (from !== to) await db.query(`ALTER INDEX ${quoteIdent(original.schema)}.${quoteIdent(from)} RENAME TO ${quoteIdent(to)}`);
  }

  // 2. Sequences: a serial's sequence moves to the new column (else dropping
  //    _t_del would drop it); an identity column's new sequence continues
  //    where the original's stopped.
  const newSeqs = await catalog<{ schema: string; name: string; column: string }>(
    db,
    `SELECT sn.nspname AS schema, s.relname AS name, a.attname AS column FROM pg_depend d
       JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
       JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
      WHERE d.classid = 'pg_class'::regclass AND d.refobjid = $1::regclass AND d.deptype = 'i'`,
    [t],
  );
  for (const seq of deps.sequences) {
    const col = input.columnMap.get(seq.column);
    const seqRef = `${quoteIdent(seq.schema)}.${quoteIdent(seq.name)}`;
    if (!col) continue;
    if (seq.kind === 'a') {
      await db.query(`ALTER SEQUENCE ${seqRef} OWNED BY ${t}.${quoteIdent(col)}`);
    } else {
      const mine = newSeqs.find((s) => s.column === col);
      if (!mine) continue;
      const mineRef = `${quoteIdent(mine.schema)}.${quoteIdent(mine.name)}`;
      if (seq.lastValue !== null) await db.query(`SELECT setval($1::regclass, $2::bigint, true)`, [mineRef, seq.lastValue]);
      await db.query(`ALTER SEQUENCE ${seqRef} RENAME TO ${quoteIdent(helperTableName(seq.name, oldSuffix, PG_MAX_IDENTIFIER_BYTES))}`);
      await db.query(`ALTER SEQUENCE ${mineRef} RENAME TO ${quoteIdent(seq.name)}`);
    }
  }

  // 3. Foreign keys, NOT VALID now (no scan under the lock), VALIDATE after commit.
  for (const fk of input.ghostFks) {
    await db.query(`ALTER TABLE ${t} ADD CONSTRAINT ${quoteIdent(fk.name)} ${withNotValid(fk.definition)}`);
    toValidate.push([original, fk.name]);
  }
  for (const fk of deps.referencing) {
    const other = `${quoteIdent(fk.schema)}.${quoteIdent(fk.table)}`;
    await db.query(`ALTER TABLE ${other} DROP CONSTRAINT ${quoteIdent(fk.name)}`);
    await db.query(`ALTER TABLE ${other} ADD CONSTRAINT ${quoteIdent(fk.name)} ${withNotValid(fk.definition)}`);
    toValidate.push([{ schema: fk.schema, name: fk.table }, fk.name]);
  }

  // 4. Triggers (the ghost had none: the copy must not fire them).
  for (const trg of deps.triggers) {
    await db.query(trg.definition);
    const mode = { D: 'DISABLE', R: 'ENABLE REPLICA', A: 'ENABLE ALWAYS' }[trg.enabled];
    if (mode) await db.query(`ALTER TABLE ${t} ${mode} TRIGGER ${quoteIdent(trg.name)}`);
  }

  // 5. Owner, privileges, comment, storage options, statistics targets.
  const [me] = await catalog<{ u: string }>(db, `SELECT current_user AS u`);
  if (deps.owner !== me!.u) await db.query(`ALTER TABLE ${t} OWNER TO ${quoteIdent(deps.owner)}`);
  for (const g of grantSql(t, deps.acl, deps.owner)) await db.query(g);
  for (const c of deps.columnAcl) {
    const col = input.columnMap.get(c.column);
    if (!col) continue;
    for (const a of c.acl) await db.query(`GRANT ${a.privilege} (${quoteIdent(col)}) ON TABLE ${t} TO ${roleSql(a.grantee)}${a.grantable ? ' WITH GRANT OPTION' : ''}`);
  }
  await comment(db, 'TABLE', t, deps.comment);
  await reloptions(db, 'TABLE', t, deps.reloptions);
  for (const st of deps.statistics) {
    const col = input.columnMap.get(st.column);
    if (col) await db.query(`ALTER TABLE ${t} ALTER COLUMN ${quoteIdent(col)} SET STATISTICS ${Math.trunc(st.target)}`);
  }

  // 6. Replica identity, publications, row-level security.
  if (deps.replicaIdentity === 'f') await db.query(`ALTER TABLE ${t} REPLICA IDENTITY FULL`);
  else if (deps.replicaIdentity === 'n') await db.query(`ALTER TABLE ${t} REPLICA IDENTITY NOTHING`);
  else if (deps.replicaIdentity === 'i' && deps.replicaIndex) {
    const has = await catalog<{ n: string }>(db, `SELECT i.relname AS n FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = $1::regclass AND i.relname = $2`, [t, deps.replicaIndex]);
    if (has.length) await db.query(`ALTER TABLE ${t} REPLICA IDENTITY USING INDEX ${quoteIdent(deps.replicaIndex)}`);
    else warnings.push(`replica identity index ${deps.replicaIndex} has no counterpart on the new table; identity left DEFAULT`);
  }
  for (const pub of deps.publications) {
    const cols = pub.columns ? ` (${pub.columns.map((c) => quoteIdent(input.columnMap.get(c) ?? c)).join(', ')})` : '';
    await db.query(`ALTER PUBLICATION ${quoteIdent(pub.name)} ADD TABLE ${t}${cols}${pub.where ? ` WHERE (${pub.where})` : ''}`);
  }
  if (deps.rls) await db.query(`ALTER TABLE ${t} ENABLE ROW LEVEL SECURITY`);
  if (deps.forceRls) await db.query(`ALTER TABLE ${t} FORCE ROW LEVEL SECURITY`);
  for (const p of deps.policies) {
    await db.query(
      `CREATE POLICY ${quoteIdent(p.name)} ON ${t} AS ${p.permissive ? 'PERMISSIVE' : 'RESTRICTIVE'} FOR ${CMD[p.cmd] ?? 'ALL'} TO ${p.roles.map(roleSql).join(', ')}` +
        (p.qual ? ` USING (${p.qual})` : '') +
        (p.check ? ` WITH CHECK (${p.check})` : ''),
    );
  }

  // 7. Views: re-pointed by re-running their definition (it names `t`, now
  //    the new table). CREATE OR REPLACE keeps the view's OID, grants and
  //    dependents; when the column types changed it can't, so drop and
  //    recreate with owner, grants and comment.
  for (const v of deps.views) {
    const ref = `${quoteIdent(v.schema)}.${quoteIdent(v.name)}`;
    const body = v.definition.trim().replace(/;$/, '');
    await db.query('SAVEPOINT gw_view');
    try {
      await db.query(`CREATE OR REPLACE VIEW ${ref} AS ${body}`);
      await db.query('RELEASE SAVEPOINT gw_view');
    } catch {
      await db.query('ROLLBACK TO SAVEPOINT gw_view');
      await db.query(`DROP VIEW ${ref}`);
      await db.query(`CREATE VIEW ${ref} AS ${body}`);
      await reloptions(db, 'VIEW', ref, v.options);
      if (v.owner !== me!.u) await db.query(`ALTER VIEW ${ref} OWNER TO ${quoteIdent(v.owner)}`);
      for (const g of grantSql(ref, v.acl, v.owner)) await db.query(g);
      await comment(db, 'VIEW', ref, v.comment);
      warnings.push(`view ${v.schema}.${v.name} was dropped and recreated (its column types changed)`);
    }
  }
  for (const m of deps.materializedViews) warnings.push(`materialized view ${m} still reads the old table; refresh or recreate it before dropping ${old.name}`);
  return { toValidate, warnings };
}
