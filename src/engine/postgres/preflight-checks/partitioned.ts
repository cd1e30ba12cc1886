/** Neither a partitioned table nor a partition: the swap renames one plain table. */
import type { PgCheck } from './context.js';

export const partitioned: PgCheck = {
  id: 'partitioned',
  scope: 'table',
  run: ({ table: t }) => {
    const partitioned = t.partitioned || t.extra.isPartition === true;
    return [
      {
        id: 'partitioned',
        title: 'Not partitioned',
        ok: !partitioned,
        severity: 'error',
        detail: t.partitioned ? `partitioned table with ${t.partitions.length} partitions` : t.extra.isPartition ? 'table is a partition' : 'plain table',
        ...(partitioned ? { fix: 'run the ALTER on the partitioned parent directly (metadata-only cases) or on each partition as its own table' } : {}),
      },
    ];
  },
};
