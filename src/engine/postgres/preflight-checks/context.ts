/** What every PostgreSQL preflight check reads from (see ../preflight.ts). */
import type pg from 'pg';
import type { Logger } from '../../../log.js';
import type { PreflightCheck, TableInfo, TableRef } from '../../engine.js';

export interface PreflightNames {
  /** --timestamp-old-table: a kept `_t_del` is not in the way. */
  oldTableStamped?: boolean;
  ghost: TableRef;
  old: TableRef;
  changelog: TableRef;
  slot: string;
  publication: string;
  maxRetainedWalBytes: number;
  log: Logger;
}

export interface PgPreflightContext {
  pool: pg.Pool;
  table: TableInfo;
  names: PreflightNames;
}

export type PgCheck = PreflightCheck<PgPreflightContext>;
