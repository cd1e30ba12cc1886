/** The binary log carries full row images the stream can read (one result per setting, shared with doctor). */
import { binlogChecks, readBinlogSettings } from '../checks.js';
import type { MysqlCheck } from './context.js';

export const binlog: MysqlCheck = {
  id: 'binlog',
  scope: 'server',
  run: async ({ pool, info }) => binlogChecks(info, await readBinlogSettings(pool)),
};
