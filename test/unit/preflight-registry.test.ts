/**
 * Preflight as a registry (issue 15): each engine lists its read-only
 * checks, one per file in preflight-checks/, each with an id and a scope;
 * the runner reports them in registry order.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CheckResult, PreflightCheck } from '../../src/engine/engine.js';
import { MYSQL_PREFLIGHT } from '../../src/engine/mysql/preflight.js';
import { PG_PREFLIGHT } from '../../src/engine/postgres/preflight.js';
import { runPreflight } from '../../src/engine/preflight-registry.js';

const files = (engine: string): string[] =>
  readdirSync(new URL(`../../src/engine/${engine}/preflight-checks/`, import.meta.url))
    .filter((f) => f.endsWith('.ts') && f !== 'context.ts')
    .sort();

describe.each([
  ['mysql', MYSQL_PREFLIGHT as readonly PreflightCheck<never>[]],
  ['postgres', PG_PREFLIGHT as readonly PreflightCheck<never>[]],
])('%s preflight registry', (engine, registry) => {
  it('has one check per file, each listed once with a distinct id and a scope', () => {
    expect(registry.length).toBe(files(engine).length);
    expect(new Set(registry).size).toBe(registry.length);
    expect(new Set(registry.map((c) => c.id)).size).toBe(registry.length);
    for (const c of registry) expect(['server', 'table', 'alter', 'leftovers']).toContain(c.scope);
  });
});

describe('runPreflight', () => {
  it('reports every result of every check, in registry order', async () => {
    const result = (id: string): CheckResult => ({ id, title: id, ok: true, severity: 'error', detail: '' });
    const registry: PreflightCheck<{ n: number }>[] = [
      { id: 'a', scope: 'server', run: async ({ n }) => [result(`a${n}`), result('a2')] },
      { id: 'b', scope: 'table', run: () => [] },
      { id: 'c', scope: 'alter', run: () => [result('c')] },
    ];
    expect((await runPreflight(registry, { n: 1 })).map((r) => r.id)).toEqual(['a1', 'a2', 'c']);
  });
});
