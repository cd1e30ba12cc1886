/**
 * Migration versions as Flyway reads them: `1`, `1.2`, `1_2` (underscore =
 * dot), `20240115120000` (timestamps are just big numbers). Parts compare
 * numerically (`1.10` > `1.9`) as arbitrary-size integers, and trailing zero
 * parts are insignificant (`1.0` = `1`), so `V1__a` and `V1.0__b` collide.
 */
import { RefusedError } from '../errors.js';

export interface Version {
  /** Canonical text: parts joined by dots, trailing zero parts removed. */
  readonly text: string;
  readonly parts: readonly bigint[];
}

const VERSION_RE = /^\d+([._]\d+)*$/;

export function isVersionText(text: string): boolean {
  return VERSION_RE.test(text);
}

export function parseVersion(text: string): Version {
  if (!isVersionText(text)) {
    throw new RefusedError('E_BAD_VERSION', `"${text}" is not a migration version`, {
      hint: 'versions are numbers separated by dots or underscores: 1, 1.2, 1_2, 20240115120000',
    });
  }
  const parts = text.split(/[._]/).map((p) => BigInt(p));
  while (parts.length > 1 && parts[parts.length - 1] === 0n) parts.pop();
  return Object.freeze({ text: parts.map(String).join('.'), parts: Object.freeze(parts) });
}

/** Negative when a < b, 0 when equal, positive when a > b. Missing parts count as 0. */
export function compareVersions(a: Version, b: Version): number {
  const n = Math.max(a.parts.length, b.parts.length);
  for (let i = 0; i < n; i++) {
    const x = a.parts[i] ?? 0n;
    const y = b.parts[i] ?? 0n;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export function versionEquals(a: Version, b: Version): boolean {
  return compareVersions(a, b) === 0;
}

/** Largest of the given versions, or null. */
export function maxVersion(versions: Iterable<Version>): Version | null {
  let best: Version | null = null;
  for (const v of versions) if (!best || compareVersions(v, best) > 0) best = v;
  return best;
}
