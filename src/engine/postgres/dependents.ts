/**
 * What must move from the original to the new table at cut-over. PostgreSQL
 * binds views, foreign keys, policies, publication membership and owned
 * sequences to the table's OID, not its name: after the rename they would
 * still point at `_t_del`. Everything is read BEFORE the renames (so
 * definitions print the original name, which the renamed ghost then takes)
 * and inside the cut-over transaction, after the ACCESS EXCLUSIVE lock, so
 * nothing can change underneath.
 */
import type pg from 'pg';
import { catalog } from './connect.js';

export interface Dependents {
  /** FKs on other tables pointing at the original (self-references excluded: they come with the ghost's own FKs). */
  referencing: { schema: string; table: string; name: string; definition: string }[];
  views: { schema: string; name: string; definition: string; options: string[] | null; owner: string; acl: AclEntry[]; comment: string | null }[];
  materializedViews: string[];
  triggers: { name: string; definition: string; enabled: string }[];
  sequences: { schema: string; name: string; column: string; kind: 'a' | 'i'; lastValue: string | null; isCalled: boolean | null }[];
  acl: AclEntry[];
  /** Column-level privileges (GRANT ... (col) ON t). */
  columnAcl: { column: string; acl: AclEntry[] }[];
  owner: string;
  comment: string | null;
  reloptions: string[] | null;
  replicaIdentity: string;
  replicaIndex: string | null;
  publications: { name: string; columns: string[] | null; where: string | null }[];
  rls: boolean;
  forceRls: boolean;
  policies: { name: string; permissive: boolean; cmd: string; roles: string[]; qual: string | null; check: string | null }[];
  statistics: { column: string; target: number }[];
  indexes: { name: string; shape: string }[];
}

export interface AclEntry {
  grantee: string | null;
  privilege: string;
  grantable: boolean;
}

const ACL = (expr: string) =>
  `coalesce((SELECT json_agg(json_build_object('grantee', CASE WHEN e.grantee = 0 THEN NULL ELSE pg_get_userbyid(e.grantee) END, 'privilege', e.privilege_type, 'grantable', e.is_grantable))
      FROM aclexplode(${expr}) e), '[]'::json)`;

/** Index shape without its name and table: matches an original index with the ghost's copy of it. */
export const INDEX_SHAPE = `CASE WHEN x.indisunique THEN 'U ' ELSE '' END || regexp_replace(pg_get_indexdef(x.indexrelid), '^.*? USING ', '')`;

/** One connection runs one query at a time: await each in turn (typed like Promise.all). */
async function inSequence<T extends readonly unknown[]>(items: { [K in keyof T]: () => Promise<T[K]> }): Promise<T> {
  const out: unknown[] = [];
  for (const f of items as readonly (() => Promise<unknown>)[]) out.push(await f());
  return out as unknown as T;
}

export async function readDependents(db: pg.ClientBase, oid: number, ourPublication: string, replicaIdentityOverride: string | null): Promise<Dependents> {
  const [t] = await catalog<{ owner: string; comment: string | null; reloptions: string[] | null; ident: string; rls: boolean; force: boolean; acl: AclEntry[]; ridx: string | null }>(
    db,
    `SELECT pg_get_userbyid(c.relowner) AS owner, obj_description(c.oid, 'pg_class') AS comment, c.reloptions, c.relreplident AS ident,
            c.relrowsecurity AS rls, c.relforcerowsecurity AS force, ${ACL('c.relacl')} AS acl,
            (SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid AND x.indisreplident) AS ridx
       FROM pg_class c WHERE c.oid = $1`,
    [oid],
  );
  const [referencing, views, mviews, triggers, sequences, publications, policies, statistics, indexes, columnAcl] = await inSequence([
    () => catalog<Dependents['referencing'][number]>(
      db,
      `SELECT n.nspname AS schema, c.relname AS table, con.conname AS name, pg_get_constraintdef(con.oid) AS definition
         FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE con.contype = 'f' AND con.confrelid = $1 AND con.conrelid <> $1 AND con.conparentid = 0 ORDER BY 1, 2, 3`,
      [oid],
    ),
    () => catalog<Dependents['views'][number]>(
      db,
      `SELECT DISTINCT vn.nspname AS schema, v.relname AS name, pg_get_viewdef(v.oid) AS definition, v.reloptions AS options,
              pg_get_userbyid(v.relowner) AS owner, ${ACL('v.relacl')}::text AS acl, obj_description(v.oid, 'pg_class') AS comment
         FROM pg_depend d JOIN pg_rewrite rw ON rw.oid = d.objid JOIN pg_class v ON v.oid = rw.ev_class JOIN pg_namespace vn ON vn.oid = v.relnamespace
        WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = $1 AND v.oid <> $1 AND v.relkind = 'v'`,
      [oid],
    ).then((rows) => rows.map((r) => ({ ...r, acl: JSON.parse(r.acl as unknown as string) as AclEntry[] }))),
    () => catalog<{ n: string }>(
      db,
      `SELECT DISTINCT format('%I.%I', vn.nspname, v.relname) AS n FROM pg_depend d JOIN pg_rewrite rw ON rw.oid = d.objid JOIN pg_class v ON v.oid = rw.ev_class
         JOIN pg_namespace vn ON vn.oid = v.relnamespace
        WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = $1 AND v.oid <> $1 AND v.relkind = 'm'`,
      [oid],
    ),
    () => catalog<Dependents['triggers'][number]>(db, `SELECT tgname AS name, pg_get_triggerdef(oid) AS definition, tgenabled AS enabled FROM pg_trigger WHERE tgrelid = $1 AND NOT tgisinternal ORDER BY 1`, [oid]),
    () => catalog<Dependents['sequences'][number]>(
      db,
      `SELECT sn.nspname AS schema, s.relname AS name, a.attname AS column, d.deptype AS kind, ps.last_value::text AS "lastValue", NULL::boolean AS "isCalled"
         FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
         JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
         LEFT JOIN pg_sequences ps ON ps.schemaname = sn.nspname AND ps.sequencename = s.relname
        WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = $1 AND d.deptype IN ('a', 'i') ORDER BY 2`,
      [oid],
    ),
    () => catalog<Dependents['publications'][number]>(
      db,
      `SELECT p.pubname AS name, CASE WHEN pr.prattrs IS NOT NULL THEN ARRAY(SELECT a.attname FROM unnest(pr.prattrs::int2[]) k(n) JOIN pg_attribute a ON a.attrelid = pr.prrelid AND a.attnum = k.n) END AS columns,
              pg_get_expr(pr.prqual, pr.prrelid) AS "where"
         FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid WHERE pr.prrelid = $1 AND p.pubname <> $2 ORDER BY 1`,
      [oid, ourPublication],
    ),
    () => catalog<Dependents['policies'][number]>(
      db,
      `SELECT polname AS name, polpermissive AS permissive, polcmd AS cmd,
              ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r) END FROM unnest(polroles) r) AS roles,
              pg_get_expr(polqual, polrelid) AS qual, pg_get_expr(polwithcheck, polrelid) AS check
         FROM pg_policy WHERE polrelid = $1 ORDER BY 1`,
      [oid],
    ),
    () => catalog<Dependents['statistics'][number]>(db, `SELECT attname AS column, attstattarget AS target FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped AND attstattarget >= 0`, [oid]),
    () => catalog<Dependents['indexes'][number]>(db, `SELECT i.relname AS name, ${INDEX_SHAPE} AS shape FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = $1 ORDER BY 1`, [oid]),
    () => catalog<Dependents['columnAcl'][number]>(db, `SELECT attname AS column, ${ACL('attacl')} AS acl FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped AND attacl IS NOT NULL ORDER BY attnum`, [oid]),
  ]);
  return {
    referencing,
    views,
    materializedViews: mviews.map((m) => m.n),
    triggers,
    sequences,
    acl: t!.acl,
    columnAcl,
    owner: t!.owner,
    comment: t!.comment,
    reloptions: t!.reloptions,
    replicaIdentity: replicaIdentityOverride ?? t!.ident,
    replicaIndex: t!.ridx,
    publications,
    rls: t!.rls,
    forceRls: t!.force,
    policies,
    statistics,
    indexes,
  };
}
