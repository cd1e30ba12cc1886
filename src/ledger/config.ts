/**
 * Ledger settings from, in order of precedence: command-line flags, then the
 * environment (GHOSTWRIGHT_*, then Flyway's FLYWAY_*), then the files
 * (`ghostwright.config.json` in the working directory, top level or under
 * "ledger"; then `flyway.toml` / `flyway.conf`, or the one --config-file
 * names), then defaults. JDBC URLs are converted (flyway.ts). Parsed once,
 * by loadLedgerConfig, into a frozen object.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConnectionUrl } from '../connection.js';
import { RefusedError } from '../errors.js';
import { parseLoadSpec } from '../core/load-spec.js';
import { replicaChoice, type AlterOptions, type ThrottleOptions } from '../core/options.js';
import type { LedgerOptions } from './context.js';
import { ledgerDialect } from './dialect-sql.js';
import { flywayFromEnv, fromJdbcUrl, locationsToDir, readFlywayFile, withUser } from './flyway.js';
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
  /** A Flyway config file (flyway.toml / flyway.conf) instead of the one in the working directory. */
  configFile?: string;
  /** Flyway's `filesystem:<dir>`. */
  locations?: string;
  user?: string;
  /** Flyway's -password= (argv: warned about). */
  password?: string;
}

export interface FileConfig {
  url?: string;
  user?: string;
  password?: string;
  validateOnMigrate?: boolean;
  schemas?: string[];
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

/** ghostwright.config.json over the Flyway file (flyway.toml / flyway.conf, or `flywayFile`). */
export function readConfigFile(cwd: string = process.cwd(), flywayFile?: string): FileConfig {
  const top = readConfigJson(cwd);
  const section = top.ledger && typeof top.ledger === 'object' ? (top.ledger as Record<string, unknown>) : {};
  const flyway = readFlywayFile(cwd, flywayFile);
  const file = { ...flyway, ...top, ...section } as FileConfig;
  // A Flyway project keeps its history where Flyway keeps it.
  if (Object.keys(flyway).length > 0 && file.table === undefined) file.table = 'flyway_schema_history';
  return file;
}

export type ResolvedLedgerConfig = Readonly<Omit<LedgerOptions, 'url'> & { url: string | undefined }>;

/** The one loader: flags, then environment, then files, validated and frozen (every command uses it). */
export function loadLedgerConfig(flags: LedgerFlags, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): ResolvedLedgerConfig {
  return resolveLedgerOptions(flags, env, readConfigFile(cwd, flags.configFile));
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
  const fw = flywayFromEnv(env);
  const placeholders = { ...(file.placeholders ?? {}), ...(fw.placeholders ?? {}), ...placeholdersFromEnv(env), ...parsePlaceholderFlags(flags.placeholder ?? []) };
  const rawUrl = pick(flags.url, env.GHOSTWRIGHT_URL || undefined, fw.url, file.url);
  const jdbc = rawUrl === undefined ? undefined : fromJdbcUrl(rawUrl);
  const user = pick(flags.user, fw.user, file.user, jdbc?.user);
  const url = jdbc ? withUser(jdbc.url, user) : undefined;
  const password = pick(flags.password, fw.password, file.password, jdbc?.password);
  const table = pick(flags.table, env.GHOSTWRIGHT_TABLE || undefined, fw.table ?? (fw.url !== undefined && file.table === undefined ? 'flyway_schema_history' : undefined), file.table);
  if (url) checkSchemas(pick(fw.schemas, file.schemas), url);
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
    url,
    ...(password !== undefined ? { password } : {}),
    dir: pick(flags.dir, flags.locations !== undefined ? locationsToDir(flags.locations, '--locations') : undefined, env.GHOSTWRIGHT_DIR || undefined, fw.dir, file.dir) ?? 'migrations',
    target: pick(flags.target, env.GHOSTWRIGHT_TARGET || undefined, fw.target, file.target),
    outOfOrder: pick(flags.outOfOrder, envBool(env.GHOSTWRIGHT_OUT_OF_ORDER), fw.outOfOrder, file.outOfOrder) ?? false,
    baselineOnMigrate: pick(flags.baselineOnMigrate, envBool(env.GHOSTWRIGHT_BASELINE_ON_MIGRATE), fw.baselineOnMigrate, file.baselineOnMigrate) ?? false,
    baselineVersion: pick(flags.baselineVersion, env.GHOSTWRIGHT_BASELINE_VERSION || undefined, fw.baselineVersion, file.baselineVersion) ?? '1',
    validateOnMigrate: pick(fw.validateOnMigrate, file.validateOnMigrate),
    onlineThreshold: pick(flags.onlineThreshold, envInt('GHOSTWRIGHT_ONLINE_THRESHOLD', env.GHOSTWRIGHT_ONLINE_THRESHOLD), file.onlineThreshold),
    connectRetries: pick(flags.connectRetries, envInt('GHOSTWRIGHT_CONNECT_RETRIES', env.GHOSTWRIGHT_CONNECT_RETRIES), file.connectRetries) ?? 0,
    lockTimeoutSeconds: pick(flags.lockTimeout, envInt('GHOSTWRIGHT_LOCK_TIMEOUT', env.GHOSTWRIGHT_LOCK_TIMEOUT), file.lockTimeout),
    cleanEnabled: pick(flags.cleanEnabled, envBool(env.GHOSTWRIGHT_CLEAN_ENABLED), file.cleanEnabled) ?? false,
    installedBy: pick(flags.installedBy, env.GHOSTWRIGHT_INSTALLED_BY || undefined, file.installedBy),
    table,
    dryRun: flags.dryRun ?? false,
    placeholders,
    onlineOptions,
  };
  // Drop undefined so library defaults apply.
  return Object.freeze(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined))) as Omit<LedgerOptions, 'url'> & { url: string | undefined };
}

/**
 * Flyway's `schemas`: the first one holds the history and is the default for
 * the migrations. Here that is the URL's database (MySQL) or `public`
 * (PostgreSQL); any other is refused rather than ignored.
 */
function checkSchemas(schemas: string[] | undefined, url: string): void {
  const first = schemas?.[0];
  if (first === undefined) return;
  let spec: ReturnType<typeof parseConnectionUrl>;
  try {
    spec = parseConnectionUrl(url, {});
  } catch {
    return; // the real parse reports the URL
  }
  const d = ledgerDialect(spec.dialect);
  const expected = d.historySchema(spec.database);
  if (first !== expected || (schemas!.length > 1 && d.schemaIsDatabase)) {
    throw new RefusedError('E_BAD_CONFIG', `Flyway schemas = ${JSON.stringify(schemas)}: ghostwright migrates the URL's ${d.schemaIsDatabase ? `database "${spec.database}"` : `schema "${expected}"`} only`, {
      hint: d.schemaIsDatabase ? `name the schema in the URL (…/${first}) and drop schemas, or set schemas to ["${spec.database}"]` : 'drop schemas (or set it to ["public"]); other PostgreSQL schemas are not supported yet',
    });
  }
}
