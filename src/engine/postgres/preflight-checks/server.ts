/** Server settings for logical decoding (wal_level, slots, senders, version) and the schema's grants. */
import { serverChecks } from '../checks.js';
import type { PgCheck } from './context.js';

export const server: PgCheck = {
  id: 'server',
  scope: 'server',
  run: ({ pool, table }) => serverChecks(pool, table.ref.schema),
};
