/**
 * What the cut-over will need, checked before anything is written. The swap
 * renames the table and its indexes, moves its sequences (`ALTER SEQUENCE
 * ... OWNED BY`, which demands that the sequence and the NEW table have the
 * same owner: the new table is created by the migrating role), recreates
 * dependent views, re-points foreign keys of other tables and re-adds the
 * table to publications. Each of those is allowed only to the owner of the
 * object (or a superuser). Without this check a role that could read and
 * copy the table failed only at cut-over, after the whole copy ("sequence
 * must have same owner as table").
 *
 * So: the migrating role must BE the owner of the table (membership in the
 * owner role is not enough: the ghost would still be owned by the migrating
 * role; PostgreSQL keeps an owned sequence's owner equal to its table's), own
 * every other object the swap changes, and may create a publication (CREATE
 * on the database). A superuser passes.
 */
import type pg from 'pg';
import type { CheckResult, TableRef } from '../engine.js';
import { catalog } from './connect.js';
import { qualified, quoteIdent } from './ident.js';

/** The ways out, each exact: become the owner, or act as it (the owner then needs REPLICATION for the stream). */
function ownerFix(t: string, owner: string, me: string, member: boolean, db: string): string {
  const actAs = `${member ? '' : `GRANT ${quoteIdent(owner)} TO ${quoteIdent(me)}; `}ALTER ROLE ${quoteIdent(me)} IN DATABASE ${quoteIdent(db)} SET role = ${quoteIdent(owner)}; ALTER ROLE ${quoteIdent(owner)} REPLICATION; GRANT CREATE ON DATABASE ${quoteIdent(db)} TO ${quoteIdent(owner)};`;
  return `make ${me} the owner: ALTER TABLE ${t} OWNER TO ${quoteIdent(me)}; or let ${me} act as ${owner} (SET ROLE for every session): ${actAs} or connect as ${owner}`;
}

interface Owned {
  kind: 'view' | 'table' | 'publication';
  name: string;
  owner: string;
}

export async function ownershipChecks(db: pg.Pool | pg.ClientBase, table: TableRef): Promise<CheckResult[]> {
  const [f] = await catalog<{ me: string; superuser: boolean; owner: string; member: boolean; db: string; dbCreate: boolean }>(
    db,
    `SELECT current_user AS me, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
            pg_get_userbyid(c.relowner) AS owner, pg_has_role(current_user, c.relowner, 'MEMBER') AS member,
            current_database() AS db, has_database_privilege(current_database(), 'CREATE') AS "dbCreate"
       FROM pg_class c WHERE c.oid = $1::regclass`,
    [qualified(table)],
  );
  if (!f) return [];
  const t = qualified(table);
  const me = quoteIdent(f.me);
  const owner = quoteIdent(f.owner);
  const out: CheckResult[] = [];
  const ownsTable = f.superuser || f.me === f.owner;
  out.push({
    id: 'table-owner',
    title: 'Owner of the table',
    ok: ownsTable,
    severity: 'error',
    detail: ownsTable ? `${f.me}${f.superuser ? ' (superuser)' : ''}` : `${table.schema}.${table.name} is owned by ${f.owner}, ghostwright connects as ${f.me}: the cut-over renames the table and moves its sequences, which only the owner may do`,
    ...(ownsTable ? {} : { fix: ownerFix(t, f.owner, f.me, f.member, f.db) }),
  });
  if (f.superuser) return out;

  // Objects the swap changes besides the table: ours, or of a role whose rights we inherit.
  const others = await catalog<Owned>(
    db,
    `SELECT DISTINCT 'view' AS kind, format('%I.%I', vn.nspname, v.relname) AS name, pg_get_userbyid(v.relowner) AS owner
       FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class AND v.relkind = 'v' JOIN pg_namespace vn ON vn.oid = v.relnamespace
      WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = $1::regclass AND v.oid <> $1::regclass AND NOT pg_has_role(current_user, v.relowner, 'USAGE')
     UNION ALL
     SELECT DISTINCT 'table', format('%I.%I', tn.nspname, o.relname), pg_get_userbyid(o.relowner)
       FROM pg_constraint k JOIN pg_class o ON o.oid = k.conrelid JOIN pg_namespace tn ON tn.oid = o.relnamespace
      WHERE k.contype = 'f' AND k.confrelid = $1::regclass AND k.conrelid <> $1::regclass AND NOT pg_has_role(current_user, o.relowner, 'USAGE')
     UNION ALL
     SELECT 'publication', quote_ident(p.pubname), pg_get_userbyid(p.pubowner)
       FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
      WHERE pr.prrelid = $1::regclass AND NOT pg_has_role(current_user, p.pubowner, 'USAGE')
     ORDER BY 1, 2`,
    [t],
  );
  const deps = others;
  out.push({
    id: 'dependent-owner',
    title: 'Owner of the views, referencing tables and publications the cut-over changes',
    ok: deps.length === 0,
    severity: 'error',
    detail: deps.length ? `owned by other roles: ${deps.map((d) => `${d.kind} ${d.name} (${d.owner})`).join(', ')}` : 'all ours',
    ...(deps.length ? { fix: deps.map((d) => `ALTER ${d.kind.toUpperCase()} ${d.name} OWNER TO ${me};`).join(' ') } : {}),
  });
  out.push({
    id: 'database-create',
    title: `CREATE on database ${f.db} (for the publication)`,
    ok: f.dbCreate,
    severity: 'error',
    detail: `user ${f.me} ${f.dbCreate ? 'may' : 'may not'} create publications`,
    ...(f.dbCreate ? {} : { fix: `GRANT CREATE ON DATABASE ${quoteIdent(f.db)} TO ${me};` }),
  });
  return out;
}
