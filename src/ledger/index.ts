/**
 * The migration ledger's library API (the CLI's `migrate`, `info`, ... are a
 * thin layer over these).
 */
export { migrate, type MigrateResult, type AppliedFile, type DryRunFile } from './migrate.js';
export { info, validate, baseline, repair, undo, clean, requireSchemaVersion, type InfoResult, type ValidateResult, type RepairResult, type UndoResult } from './admin.js';
export { lint, lintText, catalogue, RULES, type LintFinding, type LintOptions, type LintRule, type LintRuleId, type LintSeverity } from './lint/index.js';
export type { LedgerOptions } from './context.js';
export type { InfoEntry, MigrationState } from './info.js';
export { flywayChecksum } from './checksum.js';
export { parseVersion, compareVersions, type Version } from './version.js';
export { MemoryHistoryStore, type HistoryStore, type AppliedMigration } from './history.js';
export { HISTORY_TABLE } from './dialect-sql.js';
