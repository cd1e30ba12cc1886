/**
 * Finds the migrations of a directory (recursively, like a Flyway location):
 *   V<version>__<description>.sql  versioned, applied once, in version order
 *   U<version>__<description>.sql  undo of that version
 *   R__<description>.sql           repeatable, re-applied whenever it changes
 * plus callback files (beforeMigrate.sql, afterMigrate__audit.sql, ...).
 * The description is the name after `__` with underscores as spaces, and the
 * `script` recorded in the history is the path relative to the directory.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { RefusedError } from '../errors.js';
import { flywayChecksum } from './checksum.js';
import { compareVersions, isVersionText, parseVersion, type Version } from './version.js';

export type MigrationKind = 'versioned' | 'undo' | 'repeatable';

export const CALLBACK_EVENTS = ['beforeMigrate', 'afterMigrate', 'beforeEachMigrate', 'afterEachMigrate', 'afterMigrateError'] as const;
export type CallbackEvent = (typeof CALLBACK_EVENTS)[number];

export interface MigrationFile {
  kind: MigrationKind;
  /** null for repeatables. */
  version: Version | null;
  description: string;
  /** Path relative to the migrations directory, with `/` separators. */
  script: string;
  path: string;
  /** The raw text (placeholders not replaced): the checksum is over this. */
  text: string;
  checksum: number;
}

export interface CallbackFile {
  event: CallbackEvent;
  script: string;
  path: string;
  text: string;
}

export interface MigrationSet {
  versioned: MigrationFile[];
  undo: MigrationFile[];
  repeatable: MigrationFile[];
  callbacks: CallbackFile[];
  /** .sql files that match no naming rule (shown as warnings, never run). */
  unrecognised: string[];
}

export type ParsedName =
  | { kind: MigrationKind; version: Version | null; description: string }
  | { kind: 'callback'; event: CallbackEvent }
  | null;

/** Classifies one file name (no directory); null when it follows no rule. */
export function parseMigrationName(name: string): ParsedName {
  if (!name.endsWith('.sql')) return null;
  const base = name.slice(0, -4);
  for (const event of CALLBACK_EVENTS) {
    if (base === event || base.startsWith(`${event}__`)) return { kind: 'callback', event };
  }
  const sepAt = base.indexOf('__');
  if (sepAt < 1) return null;
  const prefix = base[0];
  const versionText = base.slice(1, sepAt);
  // The history column is VARCHAR(200): keep the description that short everywhere so it compares equal.
  const description = base.slice(sepAt + 2).replace(/_/g, ' ').slice(0, 200);
  if (prefix === 'R') return versionText === '' ? { kind: 'repeatable', version: null, description } : null;
  if (prefix !== 'V' && prefix !== 'U') return null;
  if (!isVersionText(versionText)) return null;
  return { kind: prefix === 'V' ? 'versioned' : 'undo', version: parseVersion(versionText), description };
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...walk(full));
    else out.push(full);
  }
  return out;
}

export function loadMigrations(dir: string): MigrationSet {
  let paths: string[];
  try {
    paths = walk(dir);
  } catch (err) {
    throw new RefusedError('E_NO_MIGRATIONS_DIR', `cannot read the migrations directory ${dir}`, {
      cause: err,
      hint: 'pass --dir <path> or set "dir" in ghostwright.config.json',
    });
  }
  const set: MigrationSet = { versioned: [], undo: [], repeatable: [], callbacks: [], unrecognised: [] };
  for (const path of paths) {
    const script = relative(dir, path).split(sep).join('/');
    const name = script.slice(script.lastIndexOf('/') + 1);
    const parsed = parseMigrationName(name);
    if (!parsed) {
      if (name.endsWith('.sql')) set.unrecognised.push(script);
      continue;
    }
    const text = readFileSync(path, 'utf8');
    if (parsed.kind === 'callback') {
      set.callbacks.push({ event: parsed.event, script, path, text });
      continue;
    }
    const file: MigrationFile = { ...parsed, script, path, text, checksum: flywayChecksum(text) };
    if (parsed.kind === 'versioned') set.versioned.push(file);
    else if (parsed.kind === 'undo') set.undo.push(file);
    else set.repeatable.push(file);
  }
  return sortAndCheck(set);
}

/** Sorts (versions numerically, repeatables by description) and refuses duplicates. */
export function sortAndCheck(set: MigrationSet): MigrationSet {
  const byVersion = (a: MigrationFile, b: MigrationFile): number => compareVersions(a.version!, b.version!);
  set.versioned.sort(byVersion);
  set.undo.sort(byVersion);
  set.repeatable.sort((a, b) => (a.description < b.description ? -1 : a.description > b.description ? 1 : 0));
  set.callbacks.sort((a, b) => (a.script < b.script ? -1 : 1));
  for (const list of [set.versioned, set.undo]) {
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1]!;
      const cur = list[i]!;
      if (compareVersions(prev.version!, cur.version!) === 0) {
        throw new RefusedError('E_DUPLICATE_VERSION', `found more than one ${cur.kind} migration with version ${cur.version!.text}: ${prev.script}, ${cur.script}`, {
          hint: 'give each migration a unique version (1.0 and 1 are the same version)',
        });
      }
    }
  }
  for (let i = 1; i < set.repeatable.length; i++) {
    const prev = set.repeatable[i - 1]!;
    const cur = set.repeatable[i]!;
    if (prev.description === cur.description) {
      throw new RefusedError('E_DUPLICATE_VERSION', `found more than one repeatable migration with description "${cur.description}": ${prev.script}, ${cur.script}`);
    }
  }
  return set;
}
