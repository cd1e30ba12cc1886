import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, isKnownCode, preflightCode } from '../../src/error-codes.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('error code catalogue', () => {
  it('lists every code the source throws, each with a one-line meaning', () => {
    const used = new Set<string>();
    for (const file of sources('src')) for (const m of readFileSync(file, 'utf8').matchAll(/['"`](E_[A-Z0-9_]+)['"`]/g)) used.add(m[1]!);
    const missing = [...used].filter((c) => !isKnownCode(c));
    expect(missing).toEqual([]);
    for (const [code, meaning] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^E_[A-Z0-9_]+$/);
      expect(meaning.length).toBeGreaterThan(10);
      expect(meaning).not.toContain('\n');
    }
  });

  it('a preflight code names the check, never the table', () => {
    expect(preflightCode('leftover:eco_orders_del')).toBe('E_PREFLIGHT_LEFTOVER');
    expect(preflightCode('leftover:_orders_gho')).toBe('E_PREFLIGHT_LEFTOVER');
    expect(preflightCode('replica:db2')).toBe('E_PREFLIGHT_REPLICA');
    expect(preflightCode('referenced-by-foreign-keys')).toBe('E_PREFLIGHT_REFERENCED_BY_FOREIGN_KEYS');
  });

  it('the README lists every code of the catalogue', () => {
    const readme = readFileSync('README.md', 'utf8');
    const missing = Object.keys(ERROR_CODES).filter((c) => !readme.includes(`\`${c}\``));
    expect(missing).toEqual([]);
  });
});
