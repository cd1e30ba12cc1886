/**
 * Preflight of one online ALTER on MySQL/MariaDB: the registry of read-only
 * checks (one per file in preflight-checks/), in the order they are
 * reported. Failures of severity 'error' make core refuse (exit 2).
 */
import type { CheckResult } from '../engine.js';
import { runPreflight } from '../preflight-registry.js';
import { binlog } from './preflight-checks/binlog.js';
import { cascadingForeignKeys } from './preflight-checks/cascading-foreign-keys.js';
import type { MysqlCheck, PreflightInput } from './preflight-checks/context.js';
import { copyKey } from './preflight-checks/copy-key.js';
import { copyKeyTypes } from './preflight-checks/copy-key-types.js';
import { dependentViews } from './preflight-checks/dependent-views.js';
import { foreignKeys } from './preflight-checks/foreign-keys.js';
import { leftovers } from './preflight-checks/leftovers.js';
import { privileges } from './preflight-checks/privileges.js';
import { referencedByForeignKeys } from './preflight-checks/referenced-by-foreign-keys.js';
import { renameTable } from './preflight-checks/rename-table.js';
import { triggers } from './preflight-checks/triggers.js';

export type { PreflightInput };
export { unsupportedKeyColumns } from './preflight-checks/copy-key-types.js';

export const MYSQL_PREFLIGHT: readonly MysqlCheck[] = [
  binlog,
  privileges,
  leftovers,
  renameTable,
  triggers,
  referencedByForeignKeys,
  cascadingForeignKeys,
  foreignKeys,
  dependentViews,
  copyKeyTypes,
  copyKey,
];

export function alterPreflight(input: PreflightInput): Promise<CheckResult[]> {
  return runPreflight(MYSQL_PREFLIGHT, input);
}
