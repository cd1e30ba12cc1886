/** The user holds the grants the run needs (replication client/slave, and on the schema). */
import { privilegeCheck } from '../checks.js';
import type { MysqlCheck } from './context.js';

export const privileges: MysqlCheck = {
  id: 'privileges',
  scope: 'server',
  run: async ({ pool, info, original }) => [await privilegeCheck(pool, original.ref.schema, info.flavor as 'mariadb' | 'mysql')],
};
