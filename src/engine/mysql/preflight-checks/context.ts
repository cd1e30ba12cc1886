/** What every MySQL/MariaDB preflight check reads from (see ../preflight.ts). */
import type { Pool } from 'mysql2/promise';
import type { PreflightCheck, ServerInfo, TableInfo, TableRef } from '../../engine.js';

export interface PreflightInput {
  pool: Pool;
  info: ServerInfo;
  alter: string;
  original: TableInfo;
  /** Ghost, old-table and changelog names: none may exist yet. */
  helpers: TableRef[];
  /** --timestamp-old-table: a kept `_t_del` is not in the way. */
  oldTableStamped?: boolean;
}

export type MysqlCheck = PreflightCheck<PreflightInput>;
