/** The user owns the table (only an owner may swap it and carry its grants). */
import { ownershipChecks } from '../privileges.js';
import type { PgCheck } from './context.js';

export const ownership: PgCheck = {
  id: 'ownership',
  scope: 'server',
  run: ({ pool, table }) => ownershipChecks(pool, table.ref),
};
