/**
 * `${name}` placeholders, replaced in the whole text before it is split into
 * statements (as Flyway does). Values come from the config file, from
 * GHOSTWRIGHT_PLACEHOLDERS_<NAME> env vars (name lower-cased, as Flyway does
 * for FLYWAY_PLACEHOLDERS_*), and from `--placeholder name=value` flags, later
 * ones winning. Built-ins are `${ghostwright:<x>}` (`${flyway:<x>}` works
 * too). An unknown placeholder is an error: running SQL with a literal
 * `${tablespace}` in it would be worse. The checksum is over the raw text, so
 * changing a value does not make an applied migration "changed".
 */
import { RefusedError } from '../errors.js';

export type Placeholders = Readonly<Record<string, string>>;

export interface BuiltinPlaceholders {
  defaultSchema: string;
  user: string;
  database: string;
  table: string;
  filename: string;
  timestamp: string;
}

const PLACEHOLDER_RE = /\$\{([A-Za-z0-9_.:-]+)\}/g;

/** Placeholders from `GHOSTWRIGHT_PLACEHOLDERS_<NAME>=value` variables. */
export function placeholdersFromEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  const prefix = 'GHOSTWRIGHT_PLACEHOLDERS_';
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith(prefix) && key.length > prefix.length && value !== undefined) out[key.slice(prefix.length).toLowerCase()] = value;
  }
  return out;
}

/** Parses `name=value` flags; the value may contain `=`. */
export function parsePlaceholderFlags(flags: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const flag of flags) {
    const at = flag.indexOf('=');
    if (at < 1) {
      throw new RefusedError('E_BAD_PLACEHOLDER', `--placeholder expects name=value, got "${flag}"`);
    }
    out[flag.slice(0, at)] = flag.slice(at + 1);
  }
  return out;
}

function lookup(name: string, values: Placeholders, builtins: BuiltinPlaceholders | undefined): string | undefined {
  const builtin = /^(?:ghostwright|flyway):(.+)$/.exec(name);
  if (builtin) return builtins ? (builtins as unknown as Record<string, string>)[builtin[1]!] : undefined;
  if (Object.hasOwn(values, name)) return values[name];
  // Env-provided names are lower-cased; accept any case in the SQL.
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(values)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** Replaces every placeholder; throws E_UNKNOWN_PLACEHOLDER naming file:line for the first unknown one. */
export function replacePlaceholders(text: string, values: Placeholders, script: string, builtins?: BuiltinPlaceholders): string {
  return text.replace(PLACEHOLDER_RE, (match: string, name: string, offset: number) => {
    const value = lookup(name, values, builtins);
    if (value === undefined) {
      const line = text.slice(0, offset).split('\n').length;
      throw new RefusedError('E_UNKNOWN_PLACEHOLDER', `${script}:${line}: no value for placeholder ${match}`, {
        hint: `pass --placeholder ${name}=<value>, set GHOSTWRIGHT_PLACEHOLDERS_${name.toUpperCase()}, or add it under "placeholders" in ghostwright.config.json`,
      });
    }
    return value;
  });
}
