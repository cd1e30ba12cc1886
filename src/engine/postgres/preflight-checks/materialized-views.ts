/**
 * No materialized views over the table: one stays bound to the table's OID,
 * so after the swap it would read `_t_del` (and fail once that is dropped)
 * without a word. Refused up front: the swap would have to re-run its query
 * under the cut-over lock.
 */
import { singleResultCheck } from '../../preflight-registry.js';
import { catalog } from '../connect.js';
import type { PgPreflightContext } from './context.js';

export const materializedViews = singleResultCheck<PgPreflightContext>({ id: 'materialized-views', scope: 'table', title: 'No materialized views over the table', severity: 'error' }, async ({ pool, table }) => {
  const rows = await catalog<{ n: string }>(
    pool,
    `SELECT DISTINCT format('%I.%I', vn.nspname, v.relname) AS n
       FROM pg_depend d JOIN pg_rewrite rw ON rw.oid = d.objid JOIN pg_class v ON v.oid = rw.ev_class JOIN pg_namespace vn ON vn.oid = v.relnamespace
      WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
        AND d.refobjid = format('%I.%I', $1::text, $2::text)::regclass AND v.relkind = 'm' ORDER BY 1`,
    [table.ref.schema, table.ref.name],
  );
  const names = rows.map((r) => r.n);
  if (names.length === 0) return { ok: true, detail: 'none' };
  return {
    ok: false,
    detail: `materialized views read the table: ${names.join(', ')}; after the swap they would still read the old table`,
    fix: `save each definition (SELECT pg_get_viewdef('${names[0]!.replace(/'/g, "''")}'::regclass);), DROP MATERIALIZED VIEW ${names.join(', ')}; run the migration, then CREATE MATERIALIZED VIEW ... AS <definition> (and its indexes and grants) again`,
  };
});
