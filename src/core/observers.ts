/**
 * What watches or steers a run from outside core: the progress view, the
 * control socket and the hooks. Core only calls these small interfaces; the
 * CLI and the library entry (src/alter.ts) plug in the real ones
 * (cli/progress, control/socket, control/hooks). Nobody watching is the null
 * observers below, so the supervisor never asks "is there a socket?".
 */
import type { Logger } from '../log.js';
import type { LiveMigration } from './live.js';
import type { AlterOptions } from './options.js';

/** The moments a run announces, gh-ost's hook names. */
export type HookName =
  | 'on-startup'
  | 'on-validated'
  | 'on-rowcount-complete'
  | 'on-begin-copy'
  | 'on-row-copy-complete'
  | 'on-status'
  | 'on-throttled'
  | 'on-begin-postponed'
  | 'on-before-cut-over'
  | 'on-success'
  | 'on-failure';

/** Facts of the run that do not change while it runs. Never a password outside `secrets`. */
export interface RunFacts {
  database: string;
  /** schema.table as inspected. */
  table: { schema: string; name: string };
  /** PostgreSQL: schemas live inside a database, so a socket name needs the database too. */
  databaseScoped: boolean;
  ghostTable: string;
  oldTable: string;
  alter: string;
  engine: string;
  host: string;
  port: string;
  /** Values no hook may see (the run's password). */
  secrets: string[];
}

export interface ProgressView {
  update(live: LiveMigration): void;
  stop(): void;
}

export interface HookSink {
  /** ok false: a hook failed (on-before-cut-over: "not now"). */
  run(name: HookName, live: LiveMigration, extra?: Record<string, string>): Promise<{ ok: boolean }>;
}

export interface ControlEndpoint {
  close(): Promise<void>;
}

export interface ControlRequest {
  facts: RunFacts;
  live: LiveMigration;
  status: () => object;
  log: Logger;
}

export type ObserverOptions = Pick<AlterOptions, 'progress' | 'hooksPath' | 'socketPath' | 'postponeCutOverFlagFile'>;

/** Builds the observers of one run; each gets the slice of the options it needs. */
export interface MigrationObservers {
  progress(mode: ObserverOptions['progress']): ProgressView;
  hooks(hooksPath: string | null, facts: RunFacts, log: Logger): HookSink;
  /** The control socket; only an executing run opens one. */
  control(socketPath: string | null, postponeFlagFile: string | null, request: ControlRequest): Promise<ControlEndpoint>;
}

const noProgress: ProgressView = { update() {}, stop() {} };
const noHooks: HookSink = { run: () => Promise.resolve({ ok: true }) };
const noControl: ControlEndpoint = { close: () => Promise.resolve() };

/** Nobody watches: no progress, every hook passes, no socket. */
export const nullObservers: MigrationObservers = {
  progress: () => noProgress,
  hooks: () => noHooks,
  control: () => Promise.resolve(noControl),
};
