/**
 * The import graph of src/, and the layering rules it must keep. Imports
 * are read by TypeScript's own pre-processor (static imports, `export ...
 * from`, dynamic `import()`), type-only ones included: a type import is a
 * dependency of the design even when the compiler erases it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/** file (relative to the root, '/' separated) -> what it imports: files ('src/...') or package names. */
export type ImportGraph = Map<string, string[]>;

export function readImportGraph(root: string, dir = 'src'): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const file of tsFiles(join(root, dir))) {
    const from = toPosix(relative(root, file));
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    graph.set(
      from,
      info.importedFiles.map((f) => resolveSpecifier(root, from, f.fileName)),
    );
  }
  return graph;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...tsFiles(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

function resolveSpecifier(root: string, from: string, spec: string): string {
  if (!spec.startsWith('.')) return packageName(spec);
  const abs = resolve(root, dirname(from), spec);
  return toPosix(relative(root, abs)).replace(/\.js$/, '.ts');
}

/** 'mysql2/promise' -> 'mysql2'; '@vlasky/zongji/x' -> '@vlasky/zongji'; 'node:fs' stays. */
function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

function toPosix(p: string): string {
  return p.split(sep).join('/');
}

export interface Rule {
  /** Why the rule exists, printed with each violation. */
  why: string;
  /** The importing files the rule is about. */
  from: (file: string) => boolean;
  /** true: this import breaks the rule. */
  forbids: (target: string, file: string) => boolean;
}

export interface Violation {
  file: string;
  imports: string;
  why: string;
}

export function violations(graph: ImportGraph, rules: readonly Rule[]): Violation[] {
  const out: Violation[] = [];
  for (const [file, targets] of graph) {
    for (const rule of rules) {
      if (!rule.from(file)) continue;
      for (const target of targets) if (rule.forbids(target, file)) out.push({ file, imports: target, why: rule.why });
    }
  }
  return out;
}

/** Every cycle among the files of the graph, each once, as the files in order. */
export function cycles(graph: ImportGraph): string[][] {
  const found: string[][] = [];
  const seen = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === 'open') {
        const cycle = stack.slice(stack.indexOf(next));
        const key = [...cycle].sort().join(' ');
        if (!seen.has(key)) {
          seen.add(key);
          found.push([...cycle, next]);
        }
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of [...graph.keys()].sort()) if (!state.has(file)) visit(file);
  return found;
}
