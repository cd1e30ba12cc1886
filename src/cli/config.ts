/**
 * One configuration for every command, with one precedence:
 *
 *   command-line flag  >  GHOSTWRIGHT_<FLAG> environment variable  >
 *   ghostwright.config.json  >  built-in default
 *
 * The file (read by the one loader, src/ledger/config.ts) holds top-level keys
 * that every command shares (`url`) and a section per command named like the
 * command ("alter", "doctor", "inspect"; the ledger commands read "ledger"),
 * whose keys are the flags in camelCase: { "alter": { "chunkSize": 2000,
 * "maxLoad": "Threads_running=25", "replica": ["mysql://..."] } }. The
 * environment variable of a flag is its name in upper snake case:
 * --max-lag-millis -> GHOSTWRIGHT_MAX_LAG_MILLIS. Values from env and file go
 * through the flag's own parser, so they are checked exactly like flags
 * (exit 2 before anything connects).
 *
 * Not configurable (they name what to do, not how): --table, --alter,
 * --execute, --json. The ledger commands keep their own resolver
 * (resolveLedgerOptions), with the same precedence.
 */
import type { Command, Option } from 'commander';
import { RefusedError } from '../errors.js';
import { readConfigJson } from '../ledger/config.js';

const NOT_CONFIGURABLE = new Set(['table', 'alter', 'execute', 'json', 'help', 'url']);

export function envName(option: Option): string {
  return `GHOSTWRIGHT_${(option.long ?? '').replace(/^--/, '').replace(/-/g, '_').toUpperCase()}`;
}

/** Fills every option the command line did not give from env, then from the file. */
export function applyConfig(cmd: Command, env: NodeJS.ProcessEnv = process.env, file: Record<string, unknown> = readConfigJson()): void {
  const section = file[cmd.name()];
  const fromFile: Record<string, unknown> = section && typeof section === 'object' && !Array.isArray(section) ? (section as Record<string, unknown>) : {};
  for (const option of cmd.options as Option[]) {
    const key = option.attributeName();
    if (NOT_CONFIGURABLE.has(key) || !option.long) continue;
    const source = cmd.getOptionValueSource(key);
    if (source !== undefined && source !== 'default') continue;
    const name = envName(option);
    const raw = env[name];
    if (raw !== undefined && raw !== '') {
      cmd.setOptionValueWithSource(key, parse(option, raw, `${name}`, cmd.getOptionValue(key)), 'env');
      continue;
    }
    if (!(key in fromFile)) continue;
    const value = fromFile[key];
    const where = `ghostwright.config.json "${cmd.name()}.${key}"`;
    const values = Array.isArray(value) ? value : [value];
    let parsed: unknown = option.defaultValue;
    if (option.isBoolean()) {
      if (typeof value !== 'boolean') throw new RefusedError('E_BAD_CONFIG', `${where} must be true or false`);
      parsed = value;
    } else {
      for (const v of values) parsed = parse(option, String(v), where, Array.isArray(value) ? (parsed === option.defaultValue ? [] : parsed) : undefined);
    }
    cmd.setOptionValueWithSource(key, parsed, 'config');
  }
  const url = cmd.options.some((o) => o.attributeName() === 'url') ? cmd.getOptionValue('url') : undefined;
  if (url === undefined && typeof file.url === 'string' && !env.GHOSTWRIGHT_URL && cmd.options.some((o) => o.attributeName() === 'url')) cmd.setOptionValueWithSource('url', file.url, 'config');
}

function parse(option: Option, raw: string, where: string, previous: unknown): unknown {
  if (option.isBoolean()) return /^(1|true|yes|on)$/i.test(raw);
  if (!option.parseArg) return raw;
  try {
    return option.parseArg(raw, previous as never);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new RefusedError('E_BAD_CONFIG', `${where}: ${msg}`, { cause: err });
  }
}
