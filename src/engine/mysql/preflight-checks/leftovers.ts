/** Leftovers of an earlier run on this table refuse, with the cleanup command (read-only: nothing is dropped here). */
import { leftoverCheck } from '../../../core/leftovers.js';
import { mysqlLeftovers } from '../leftovers.js';
import type { MysqlCheck } from './context.js';

export const leftovers: MysqlCheck = {
  id: 'leftovers',
  scope: 'leftovers',
  run: async ({ pool, original, oldTableStamped }) => [leftoverCheck(original.ref, await mysqlLeftovers(pool, original.ref), { oldTableStamped: oldTableStamped === true })],
};
