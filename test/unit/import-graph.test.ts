/**
 * Dependencies point inward (issue 15, STYLE.md habit 2): core knows only
 * the engine contract, each driver stays in its engine, the ledger uses
 * engines through the contract, and nothing cycles. The first tests prove
 * the checker catches what it is meant to catch.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cycles, readImportGraph, violations, type ImportGraph, type Rule } from '../helpers/import-graph.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const under = (...dirs: string[]) => (file: string) => dirs.some((d) => file.startsWith(`${d}/`));
const isFile = (target: string) => target.startsWith('src/');

/** The engine contract: types only, implemented by src/engine/mysql and src/engine/postgres. */
const CONTRACT = new Set(['src/engine/engine.ts', 'src/engine/alter.ts', 'src/engine/table-info.ts', 'src/engine/check.ts', 'src/engine/online-alter-contract.ts', 'src/engine/migration-values.ts', 'src/engine/revert-contract.ts']);
/** What core may import besides its own files: the contract and the shared kernel. */
const CORE_MAY_IMPORT = new Set([...CONTRACT, 'src/errors.ts', 'src/error-codes.ts', 'src/log.ts', 'src/connection.ts']);
const CORE_PACKAGES = new Set(['p-limit']);
const MYSQL_DRIVERS = new Set(['mysql2', '@vlasky/zongji']);
// pg-connection-string is not a driver: src/connection.ts parses every URL with it.
const PG_DRIVERS = new Set(['pg', 'pg-logical-replication']);
/** The sandbox starts throwaway servers for the demo and the tests: it talks to them with the drivers directly. */
const SANDBOX = 'src/sandbox';
/** Where the CLI, the control socket and the engines are wired into the runbook. */
const COMPOSITION_ROOTS = new Set(['src/alter.ts', 'src/index.ts']);

const RULES: Rule[] = [
  {
    why: 'src/core imports only the engine contract, the shared kernel (errors, log, connection) and its own files',
    from: under('src/core'),
    forbids: (t) => (isFile(t) ? !t.startsWith('src/core/') && !CORE_MAY_IMPORT.has(t) : !t.startsWith('node:') && !CORE_PACKAGES.has(t)),
  },
  {
    why: 'only src/engine/mysql (and the sandbox) imports the MySQL drivers',
    from: (f) => !under('src/engine/mysql', SANDBOX)(f),
    forbids: (t) => MYSQL_DRIVERS.has(t),
  },
  {
    why: 'only src/engine/postgres (and the sandbox) imports the PostgreSQL drivers',
    from: (f) => !under('src/engine/postgres', SANDBOX)(f),
    forbids: (t) => PG_DRIVERS.has(t),
  },
  {
    why: 'the engine contract depends on no implementation: neither core nor an engine',
    from: (f) => CONTRACT.has(f),
    forbids: (t) => isFile(t) && (t.startsWith('src/core/') || t.startsWith('src/engine/mysql/') || t.startsWith('src/engine/postgres/') || t === 'src/engine/index.ts'),
  },
  {
    why: 'the two engines do not reach into each other',
    from: under('src/engine/mysql'),
    forbids: (t) => t.startsWith('src/engine/postgres/'),
  },
  {
    why: 'the two engines do not reach into each other',
    from: under('src/engine/postgres'),
    forbids: (t) => t.startsWith('src/engine/mysql/'),
  },
  {
    why: "the ledger uses engines through the contract (engine/engine.ts, engine/index.ts), never an engine's internals",
    from: under('src/ledger'),
    forbids: (t) => t.startsWith('src/engine/mysql/') || t.startsWith('src/engine/postgres/'),
  },
  {
    why: 'the engines, the ledger and control know nothing of the CLI',
    from: under('src/engine', 'src/ledger', 'src/control', 'src/core'),
    forbids: (t) => t.startsWith('src/cli/'),
  },
  {
    why: 'only the composition roots (src/alter.ts, src/index.ts) and the CLI wire the control socket and hooks in',
    from: under('src/engine', 'src/ledger', 'src/core'),
    forbids: (t) => t.startsWith('src/control/') && !COMPOSITION_ROOTS.has(t),
  },
];

describe('import graph checker', () => {
  const fake = (edges: Record<string, string[]>): ImportGraph => new Map(Object.entries(edges));

  it('reports core importing the CLI, a driver outside its engine, and the ledger reaching into an engine', () => {
    const graph = fake({
      'src/core/supervisor.ts': ['src/cli/progress.ts', 'src/core/live.ts', 'src/engine/engine.ts'],
      'src/core/copier.ts': ['src/engine/index.ts', 'p-limit'],
      'src/engine/postgres/stream.ts': ['mysql2'],
      'src/ledger/session.ts': ['src/engine/mysql/connect.ts'],
      'src/core/live.ts': [],
    });
    expect(violations(graph, RULES).map((v) => `${v.file} -> ${v.imports}`)).toEqual([
      'src/core/supervisor.ts -> src/cli/progress.ts',
      'src/core/supervisor.ts -> src/cli/progress.ts',
      'src/core/copier.ts -> src/engine/index.ts',
      'src/engine/postgres/stream.ts -> mysql2',
      'src/ledger/session.ts -> src/engine/mysql/connect.ts',
    ]);
  });

  it('finds a cycle, type-only edges included', () => {
    const graph = fake({ 'src/a.ts': ['src/b.ts'], 'src/b.ts': ['src/c.ts'], 'src/c.ts': ['src/a.ts'], 'src/d.ts': ['src/a.ts'] });
    expect(cycles(graph)).toEqual([['src/a.ts', 'src/b.ts', 'src/c.ts', 'src/a.ts']]);
    expect(cycles(fake({ 'src/a.ts': ['src/b.ts'], 'src/b.ts': [] }))).toEqual([]);
  });
});

describe('src/ layering', () => {
  const graph = readImportGraph(root);

  it('reads the real graph (core, both engines, the ledger)', () => {
    expect(graph.get('src/core/migrator.ts')).toContain('src/engine/engine.ts');
    expect(graph.get('src/engine/index.ts')).toEqual(expect.arrayContaining(['src/engine/mysql/index.ts', 'src/engine/postgres/index.ts']));
    expect([...graph.keys()].filter((f) => f.startsWith('src/ledger/')).length).toBeGreaterThan(5);
  });

  it('keeps every rule', () => {
    expect(violations(graph, RULES).map((v) => `${v.file} -> ${v.imports} (${v.why})`)).toEqual([]);
  });

  it('has no import cycle', () => {
    expect(cycles(graph).map((c) => c.join(' -> '))).toEqual([]);
  });
});
