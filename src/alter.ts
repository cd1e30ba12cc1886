/**
 * The online ALTER with everything plugged in: the engines (engine/index,
 * which loads a driver only when its dialect is asked for), the progress
 * view (cli/progress), the hooks (control/hooks) and the control socket
 * (control/socket). Core's runbook knows these only as interfaces
 * (core/observers.ts, EngineCatalog); this file is where the CLI, the
 * library API, the ledger and the tests get them wired.
 */
import { createProgressReporter } from './cli/progress.js';
import { HookRunner } from './control/hooks.js';
import { runSocketPath, startControlServer } from './control/socket.js';
import { runOnlineAlter as runRunbook, type MigratorDeps } from './core/migrator.js';
import type { MigrationObservers } from './core/observers.js';
import type { AlterOptions } from './core/options.js';
import type { AlterReport } from './core/report.js';
import { runRevert as runRevertRunbook, type RevertDeps } from './core/revert.js';
import { engineCatalog } from './engine/index.js';

export const standardObservers: MigrationObservers = {
  progress: (mode) => createProgressReporter(mode),
  hooks: (hooksPath, facts, log) =>
    new HookRunner(
      hooksPath,
      {
        database: facts.database,
        table: facts.table.name,
        ghostTable: facts.ghostTable,
        oldTable: facts.oldTable,
        alter: facts.alter,
        engine: facts.engine,
        host: facts.host,
        port: facts.port,
      },
      log,
      facts.secrets.length > 0 ? { secrets: facts.secrets } : {},
    ),
  control: (socketPath, postponeFlagFile, { facts, live, status, log }) => {
    // Schemas live inside a database on PostgreSQL: its name keeps two databases' public.t apart.
    const path = socketPath ?? runSocketPath(facts.table, facts.database, facts.databaseScoped);
    return startControlServer({ path, live, status, log, postponeFlagFile });
  },
};

export type AlterDeps = Omit<MigratorDeps, 'engines'> & Partial<Pick<MigratorDeps, 'engines'>>;

/** Resolves with the report whatever the outcome (status done, dry-run, failed, refused). */
export function runOnlineAlter(options: AlterOptions, deps: AlterDeps = {}): Promise<AlterReport> {
  return runRunbook(options, { engines: engineCatalog, observers: standardObservers, ...deps });
}

/** `alter --revert`: the kept old table swapped back in (core/revert.ts); resolves with the report whatever the outcome. */
export function runRevert(options: AlterOptions, deps: Omit<RevertDeps, 'engines'> & Partial<Pick<RevertDeps, 'engines'>> = {}): Promise<AlterReport> {
  return runRevertRunbook(options, { engines: engineCatalog, ...deps });
}
