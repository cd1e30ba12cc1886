/**
 * The cost classes of an ALTER TABLE (see alter-class.ts) and the shapes the
 * per-dialect classifiers (dialects/*-alter.ts) give back.
 */
export type AlterCost = 'metadata' | 'instant' | 'locking' | 'rewrite';

export interface ClauseClass {
  clause: string;
  cost: AlterCost;
  why: string;
}

export interface AlterClass {
  schema: string | null;
  table: string;
  /** The text after `ALTER TABLE <name>`: what the online engine receives. */
  clauses: string;
  cost: AlterCost;
  parts: ClauseClass[];
}

export const RANK: Record<AlterCost, number> = { metadata: 0, instant: 1, locking: 2, rewrite: 3 };

export interface AlterHead {
  /** As the dialect reads the name: quotes removed, unquoted words folded (PostgreSQL: lower case). */
  schema: string | null;
  table: string;
  /** The text after the name, comments removed. */
  clauses: string;
}

export function worst(parts: ClauseClass[]): AlterCost {
  return parts.reduce<AlterCost>((acc, p) => (RANK[p.cost] > RANK[acc] ? p.cost : acc), 'metadata');
}
