/** Leftovers of an earlier run on this table refuse, with the cleanup command (read-only: nothing is dropped here). */
import { leftoverCheck } from '../../../core/leftovers.js';
import { pgLeftovers } from '../leftovers.js';
import type { PgCheck } from './context.js';

export const leftovers: PgCheck = {
  id: 'leftovers',
  scope: 'leftovers',
  run: async ({ pool, table, names }) => [leftoverCheck(table.ref, await pgLeftovers(pool, table.ref), { oldTableStamped: names.oldTableStamped === true })],
};
