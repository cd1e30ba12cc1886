/** Neither a partitioned table nor a partition: the swap renames one plain table. */
import { singleResultCheck } from '../../preflight-registry.js';
import type { PgPreflightContext } from './context.js';

export const partitioned = singleResultCheck<PgPreflightContext>({ id: 'partitioned', scope: 'table', title: 'Not partitioned', severity: 'error' }, ({ table: t }) => {
  const partitioned = t.partitioned || t.extra.isPartition === true;
  return {
    ok: !partitioned,
    detail: t.partitioned ? `partitioned table with ${t.partitions.length} partitions` : t.extra.isPartition ? 'table is a partition' : 'plain table',
    ...(partitioned ? { fix: 'run the ALTER on the partitioned parent directly (metadata-only cases) or on each partition as its own table' } : {}),
  };
});
