/** Library API: everything the CLI does, callable from code. */
export { runOnlineAlter, type MigratorDeps } from './core/migrator.js';
export { alterOptions, type AlterOptions, type ThrottleOptions } from './core/options.js';
export type { AlterReport, AlterPlan, AlterStatus } from './core/report.js';
export { newLiveMigration, type LiveMigration, type LiveSettings, type LiveProgress } from './core/live.js';
export { connectEngine } from './engine/index.js';
export type { Engine, TableInfo, CheckResult, OnlineAlter } from './engine/engine.js';
export { parseConnectionUrl, redactedUrl, type ConnectionSpec } from './connection.js';
export { GhostwrightError, RefusedError } from './errors.js';
export { migrate, info, validate, baseline, repair, undo, clean, lint, requireSchemaVersion } from './ledger/index.js';
