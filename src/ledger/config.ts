/**
 * Ledger settings from, in order of precedence: command-line flags,
 * GHOSTWRIGHT_* environment variables, `ghostwright.config.json` in the
 * working directory (top level, or under "ledger"), defaults. Parsed once
 * into a frozen LedgerOptions.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RefusedError } from '../errors.js';
import { parseLoadSpec } from '../core/load-spec.js';
import { replicaChoice, type AlterOptions, type ThrottleOptions } from '../core/options.js';
import type { LedgerOptions } from './context.js';
import { parsePlaceholderFlags, placeholdersFromEnv } from './placeholders.js';

export const CONFIG_FILE = 'ghostwright.config.json';

/** Flags as commander hands them over (undefined = not given). */
export interface LedgerFlags {
  url?: string;
  dir?: string;
  target?: string;
  outOfOrder?: boolean;
  baselineOnMigrate?: boolean;
  baselineVersion?: string;
  dryRun?: boolean;
  onlineThreshold?: number;
  placeholder?: string[];
  connectRetries?: number;
  lockTimeout?: number;
  cleanEnabled?: boolean;
  installedBy?: string;
  table?: string;
  chunkSize?: number;
  /** Online engine progress: bar | json | none. */
  progress?: 'bar' | 'json' | 'none';
  maxLoad?: string;
  criticalLoad?: string;
  maxLagMillis?: number;
  replica?: string[];
  postponeCutOverFlagFile?: string;
}

export interface FileConfig {
  url?: string;
  dir?: string;
  target?: string;
  outOfOrder?: boolean;
  baselineOnMigrate?: boolean;
  baselineVersion?: string;
  onlineThreshold?: number;
  placeholders?: Record<string, string>;
  connectRetries?: number;
  lockTimeout?: number;
  cleanEnabled?: boolean;
  installedBy?: string;
  table?: string;
}

/**
 * The whole `ghostwright.config.json` (every command's settings: top-level
 * keys for all, a section per command such as "ledger" or "alter"); {} when
 * there is none. The one reader of the file, for the ledger and the CLI.
 */
export function readConfigJson(cwd: string = process.cwd()): Record<string, unknown> {
  const path = join(cwd, CONFIG_FILE);
  if (!existsSync(path)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new RefusedError('E_BAD_CONFIG', `${path} is not valid JSON`, { cause: err });
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new RefusedError('E_BAD_CONFIG', `${path} must hold a JSON object`);
  return parsed as Record<string, unknown>;
}

export function readConfigFile(cwd: string = process.cwd()): FileConfig {
  const top = readConfigJson(cwd);
  const section = top.ledger && typeof top.ledger === 'object' ? (top.ledger as Record<string, unknown>) : {};
  return { ...top, ...section } as FileConfig;
}

function envBool(v: string | undefined): boolean | undefined {
  if (v === undefined || v === '') return undefined;
  return /^(1|true|yes|on)$/i.test(v);
}

function envInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new RefusedError('E_BAD_CONFIG', `${name} must be a non-negative integer, got "${v}"`);
  return n;
}

export function resolveLedgerOptions(flags: LedgerFlags, env: NodeJS.ProcessEnv, file: FileConfig): Omit<LedgerOptions, 'url'> & { url: string | undefined } {
  const pick = <T>(...values: (T | undefined)[]): T | undefined => values.find((v) => v !== undefined);
  const placeholders = { ...(file.placeholders ?? {}), ...placeholdersFromEnv(env), ...parsePlaceholderFlags(flags.placeholder ?? []) };
  const throttle: Partial<ThrottleOptions> = {};
  if (flags.maxLoad) throttle.maxLoad = parseLoadSpec(flags.maxLoad);
  if (flags.criticalLoad) throttle.criticalLoad = parseLoadSpec(flags.criticalLoad);
  if (flags.maxLagMillis !== undefined) throttle.maxLagMs = flags.maxLagMillis;
  const onlineOptions: Partial<AlterOptions> = {};
  if (Object.keys(throttle).length) onlineOptions.throttle = throttle as ThrottleOptions;
  if (flags.chunkSize !== undefined) onlineOptions.chunkSize = flags.chunkSize;
  if (flags.replica?.length) {
    const r = replicaChoice(flags.replica); // `--replica none`: no discovery, no lag watched
    onlineOptions.replicas = r.replicas;
    if (!r.replicaDiscovery) onlineOptions.replicaDiscovery = false;
  }
  if (flags.progress) onlineOptions.progress = flags.progress;
  if (flags.postponeCutOverFlagFile) onlineOptions.postponeCutOverFlagFile = flags.postponeCutOverFlagFile;
  const options = {
    url: pick(flags.url, env.GHOSTWRIGHT_URL || undefined, file.url),
    dir: pick(flags.dir, env.GHOSTWRIGHT_DIR || undefined, file.dir) ?? 'migrations',
    target: pick(flags.target, env.GHOSTWRIGHT_TARGET || undefined, file.target),
    outOfOrder: pick(flags.outOfOrder, envBool(env.GHOSTWRIGHT_OUT_OF_ORDER), file.outOfOrder) ?? false,
    baselineOnMigrate: pick(flags.baselineOnMigrate, envBool(env.GHOSTWRIGHT_BASELINE_ON_MIGRATE), file.baselineOnMigrate) ?? false,
    baselineVersion: pick(flags.baselineVersion, env.GHOSTWRIGHT_BASELINE_VERSION || undefined, file.baselineVersion) ?? '1',
    onlineThreshold: pick(flags.onlineThreshold, envInt('GHOSTWRIGHT_ONLINE_THRESHOLD', env.GHOSTWRIGHT_ONLINE_THRESHOLD), file.onlineThreshold),
    connectRetries: pick(flags.connectRetries, envInt('GHOSTWRIGHT_CONNECT_RETRIES', env.GHOSTWRIGHT_CONNECT_RETRIES), file.connectRetries) ?? 0,
    lockTimeoutSeconds: pick(flags.lockTimeout, envInt('GHOSTWRIGHT_LOCK_TIMEOUT', env.GHOSTWRIGHT_LOCK_TIMEOUT), file.lockTimeout),
    cleanEnabled: pick(flags.cleanEnabled, envBool(env.GHOSTWRIGHT_CLEAN_ENABLED), file.cleanEnabled) ?? false,
    installedBy: pick(flags.installedBy, env.GHOSTWRIGHT_INSTALLED_BY || undefined, file.installedBy),
    table: pick(flags.table, env.GHOSTWRIGHT_TABLE || undefined, file.table),
    dryRun: flags.dryRun ?? false,
    placeholders,
    onlineOptions,
  };
  // Drop undefined so library defaults apply.
  return Object.freeze(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined))) as Omit<LedgerOptions, 'url'> & { url: string | undefined };
}
