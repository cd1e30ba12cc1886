/**
 * Flyway compatibility: a Flyway project runs unchanged with `ghostwright
 * migrate`. Read here, into the ledger's one FileConfig shape:
 *   - `flyway.toml` (Flyway 10+: `[environments.<name>]` url/user/password/
 *     schemas, `[flyway]` environment, locations, placeholders, table,
 *     baselineOnMigrate, baselineVersion, outOfOrder, validateOnMigrate, target),
 *     parsed with smol-toml;
 *   - `flyway.conf` (the older Java properties: `flyway.url=...`);
 *   - FLYWAY_URL / FLYWAY_USER / FLYWAY_PASSWORD / FLYWAY_LOCATIONS /
 *     FLYWAY_PLACEHOLDERS_<NAME> / FLYWAY_TABLE / FLYWAY_TARGET / ... ;
 *   - `jdbc:mysql:`, `jdbc:mariadb:`, `jdbc:postgresql:` URLs, converted to
 *     ours (user and password may come separately, or as JDBC parameters).
 * A setting Flyway has and we would silently not honour is refused (exit 2).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { RefusedError } from '../errors.js';

/** What a Flyway config or environment can say, in the ledger's terms. */
export interface FlywaySettings {
  url?: string;
  user?: string;
  password?: string;
  dir?: string;
  placeholders?: Record<string, string>;
  table?: string;
  target?: string;
  baselineOnMigrate?: boolean;
  baselineVersion?: string;
  outOfOrder?: boolean;
  validateOnMigrate?: boolean;
  schemas?: string[];
}

export const FLYWAY_FILES = ['flyway.toml', 'flyway.conf'];

function bad(where: string, message: string, hint?: string): RefusedError {
  return new RefusedError('E_BAD_CONFIG', `${where}: ${message}`, hint ? { hint } : {});
}

/** `filesystem:sql` (one location) -> `sql`; classpath: and several locations are refused. */
export function locationsToDir(value: string | string[], where: string): string {
  const list = (Array.isArray(value) ? value : value.split(',')).map((l) => l.trim()).filter(Boolean);
  if (list.length !== 1) throw bad(where, `locations lists ${list.length} locations; ghostwright reads one folder`, 'keep one filesystem: location (merge the folders)');
  const loc = list[0]!;
  if (/^classpath:/i.test(loc)) throw bad(where, `location "${loc}" is a Java classpath location`, 'use filesystem:<folder>');
  const m = /^(?:filesystem:)?(.+)$/i.exec(loc);
  if (!m || /^[a-z][a-z0-9]+:/i.test(m[1]!)) throw bad(where, `location "${loc}" is not a filesystem: location`, 'use filesystem:<folder>');
  return m[1]!;
}

function bool(v: unknown, key: string, where: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === 'true';
  throw bad(where, `${key} must be true or false, got ${JSON.stringify(v)}`);
}

function str(v: unknown): string | undefined {
  return v === undefined || v === null ? undefined : String(v);
}

function list(v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v.map(String) : String(v).split(',')).map((s) => s.trim()).filter(Boolean);
}

/** The settings of a flat key space (flyway.conf keys without "flyway.", env names, TOML [flyway] + environment). */
function settings(get: (key: string) => unknown, placeholders: Record<string, string>, where: string): FlywaySettings {
  const out: FlywaySettings = {};
  const set = <K extends keyof FlywaySettings>(k: K, v: FlywaySettings[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set('url', str(get('url')));
  set('user', str(get('user')));
  set('password', str(get('password')));
  const locations = get('locations');
  if (locations !== undefined) set('dir', locationsToDir(locations as string | string[], where));
  set('table', str(get('table')));
  set('target', str(get('target')));
  set('baselineOnMigrate', bool(get('baselineOnMigrate'), 'baselineOnMigrate', where));
  set('baselineVersion', str(get('baselineVersion')));
  set('outOfOrder', bool(get('outOfOrder'), 'outOfOrder', where));
  set('validateOnMigrate', bool(get('validateOnMigrate'), 'validateOnMigrate', where));
  set('schemas', list(get('schemas')) ?? (get('defaultSchema') !== undefined ? [String(get('defaultSchema'))] : undefined));
  if (Object.keys(placeholders).length) out.placeholders = placeholders;
  return out;
}

export function parseFlywayToml(text: string, where = 'flyway.toml'): FlywaySettings {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    throw bad(where, `not valid TOML: ${(err as Error).message.split('\n')[0]}`);
  }
  const flyway = (doc.flyway ?? {}) as Record<string, unknown>;
  const environments = (doc.environments ?? {}) as Record<string, Record<string, unknown>>;
  const name = str(flyway.environment) ?? 'default';
  const envSection = environments[name] ?? (Object.keys(environments).length === 1 ? Object.values(environments)[0]! : {});
  if (flyway.environment !== undefined && !environments[name]) throw bad(where, `[flyway] environment = "${name}" but there is no [environments.${name}]`);
  const placeholders = Object.fromEntries(Object.entries((flyway.placeholders ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
  return settings((k) => envSection[k] ?? flyway[k], placeholders, where);
}

/** flyway.conf: Java properties, `flyway.key=value`, `#` / `!` comments. */
export function parseFlywayConf(text: string, where = 'flyway.conf'): FlywaySettings {
  const props = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('!')) continue;
    const m = /^([^=:\s]+)\s*[=:]\s*(.*)$/.exec(line);
    if (m) props.set(m[1]!, m[2]!);
  }
  const placeholders: Record<string, string> = {};
  for (const [k, v] of props) if (k.startsWith('flyway.placeholders.')) placeholders[k.slice('flyway.placeholders.'.length)] = v;
  return settings((k) => props.get(`flyway.${k}`), placeholders, where);
}

/** The Flyway config file: the one given, else flyway.toml or flyway.conf in `cwd`; {} when none. */
export function readFlywayFile(cwd: string, path?: string): FlywaySettings {
  const file = path ?? FLYWAY_FILES.map((f) => join(cwd, f)).find((f) => existsSync(f));
  if (!file) return {};
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw bad(file, `cannot read it: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return file.endsWith('.toml') ? parseFlywayToml(text, file) : parseFlywayConf(text, file);
}

const ENV_KEYS: Record<string, string> = {
  url: 'FLYWAY_URL',
  user: 'FLYWAY_USER',
  password: 'FLYWAY_PASSWORD',
  locations: 'FLYWAY_LOCATIONS',
  table: 'FLYWAY_TABLE',
  target: 'FLYWAY_TARGET',
  baselineOnMigrate: 'FLYWAY_BASELINE_ON_MIGRATE',
  baselineVersion: 'FLYWAY_BASELINE_VERSION',
  outOfOrder: 'FLYWAY_OUT_OF_ORDER',
  validateOnMigrate: 'FLYWAY_VALIDATE_ON_MIGRATE',
  schemas: 'FLYWAY_SCHEMAS',
  defaultSchema: 'FLYWAY_DEFAULT_SCHEMA',
};

export function flywayFromEnv(env: NodeJS.ProcessEnv): FlywaySettings {
  const placeholders: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && k.startsWith('FLYWAY_PLACEHOLDERS_')) placeholders[k.slice('FLYWAY_PLACEHOLDERS_'.length).toLowerCase()] = v;
  }
  return settings((k) => (ENV_KEYS[k] ? env[ENV_KEYS[k]!] || undefined : undefined), placeholders, 'FLYWAY_* environment');
}

const JDBC: Record<string, string> = { mysql: 'mysql', mariadb: 'mariadb', postgresql: 'postgres' };

/**
 * `jdbc:postgresql://h:5432/db?user=u&password=p` -> `postgres://h:5432/db`
 * with user and password apart; other JDBC parameters stay on the URL, where
 * the URL parser refuses any it does not act on. Non-JDBC URLs pass through.
 */
export function fromJdbcUrl(url: string): { url: string; user?: string; password?: string } {
  if (!/^jdbc:/i.test(url)) return { url };
  const m = /^jdbc:([a-z0-9]+):\/\/(.*)$/i.exec(url);
  const scheme = m ? JDBC[m[1]!.toLowerCase()] : undefined;
  if (!m || !scheme) throw new RefusedError('E_BAD_URL', `unsupported JDBC URL "${url.split('//')[0]}"`, { hint: 'use jdbc:mysql:, jdbc:mariadb: or jdbc:postgresql:' });
  const [rest, query = ''] = m[2]!.split(/\?(.*)/s, 2) as [string, string?];
  const params = new URLSearchParams(query);
  const user = params.get('user') ?? undefined;
  const password = params.get('password') ?? undefined;
  params.delete('user');
  params.delete('password');
  const q = params.toString();
  return { url: `${scheme}://${rest}${q ? `?${q}` : ''}`, ...(user !== undefined ? { user } : {}), ...(password !== undefined ? { password } : {}) };
}

/** Puts a user into a URL that names none. */
export function withUser(url: string, user: string | undefined): string {
  if (!user) return url;
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is.exec(url);
  if (!m || m[2]!.includes('@')) return url;
  return `${m[1]}${encodeURIComponent(user)}@${m[2]}${m[3]}`;
}
