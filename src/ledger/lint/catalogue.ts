/**
 * The lint catalogue: stable ids (never renamed: `-- ghostwright:ignore <id>`
 * comments and CI configs refer to them), one line of documentation, why it
 * hurts, and the safe way to do the same. Severity:
 *   refuse    blocks writes or breaks a running application; `lint` exits 1
 *   warn      safe to run, but the deploy order matters (expand/contract)
 *   delegate  rewrites the table: `migrate` hands it to the online engine
 *             when the table is above --online-threshold
 */
import type { Dialect } from '../../connection.js';

export type LintSeverity = 'refuse' | 'warn' | 'delegate';

export interface LintRule {
  id: string;
  severity: LintSeverity;
  dialects: readonly Dialect[];
  doc: string;
  why: string;
  fix: string;
}

const BOTH: readonly Dialect[] = ['mysql', 'postgres'];
const PG: readonly Dialect[] = ['postgres'];

export const RULES = {
  'add-not-null-without-default': {
    severity: 'refuse',
    dialects: BOTH,
    doc: 'ADD COLUMN ... NOT NULL without a DEFAULT on an existing table',
    why: 'PostgreSQL fails on a non-empty table; MySQL fills an implicit value, and the old application version can no longer insert rows',
    fix: 'add the column nullable or with a DEFAULT, backfill in batches, then SET NOT NULL in a later release (expand/contract)',
  },
  'drop-column': {
    severity: 'warn',
    dialects: BOTH,
    doc: 'DROP COLUMN',
    why: 'the application version still running during the deploy reads or writes the column and fails',
    fix: 'contract step: stop using the column in a release first, drop it in a later release',
  },
  'drop-table': {
    severity: 'warn',
    dialects: BOTH,
    doc: 'DROP TABLE',
    why: 'irreversible, and breaks any running application version that still uses the table',
    fix: 'rename it aside (or keep it) until no deployed version uses it, then drop it in a later release',
  },
  'rename-column': {
    severity: 'warn',
    dialects: BOTH,
    doc: 'RENAME COLUMN (or MySQL CHANGE old new)',
    why: 'queries of the running application version use the old name and fail at once',
    fix: 'expand/contract: add the new column, write both, backfill, switch reads, drop the old one later',
  },
  'rename-table': {
    severity: 'warn',
    dialects: BOTH,
    doc: 'RENAME TABLE / ALTER TABLE ... RENAME TO',
    why: 'queries of the running application version use the old name and fail at once',
    fix: 'create the new table (or an updatable view with the old name), migrate readers and writers, drop the old name later',
  },
  'change-column-type': {
    severity: 'delegate',
    dialects: BOTH,
    doc: 'ALTER COLUMN ... TYPE / MODIFY / CHANGE a column type',
    why: 'rewrites the whole table under a lock that blocks writes (PostgreSQL ACCESS EXCLUSIVE, MySQL COPY algorithm)',
    fix: 'let `ghostwright migrate` run it online (it delegates above --online-threshold), or add a new column and backfill',
  },
  'table-rewrite': {
    severity: 'delegate',
    dialects: BOTH,
    doc: 'a change that rebuilds the table (volatile default, SET TABLESPACE, ENGINE=, ADD FOREIGN KEY on MySQL, ...)',
    why: 'the table is rewritten while writes wait',
    fix: 'let `ghostwright migrate` run it online, or split it into non-rewriting steps',
  },
  'create-index-not-concurrently': {
    severity: 'refuse',
    dialects: PG,
    doc: 'CREATE INDEX without CONCURRENTLY on an existing table',
    why: 'holds a SHARE lock for the whole build: every INSERT/UPDATE/DELETE waits',
    fix: 'CREATE INDEX CONCURRENTLY (ghostwright runs it outside the transaction for you)',
  },
  'foreign-key-not-valid': {
    severity: 'refuse',
    dialects: PG,
    doc: 'ADD FOREIGN KEY without NOT VALID on an existing table',
    why: 'validates every row while holding locks on both tables that block writes',
    fix: 'ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID; then, in a later statement, VALIDATE CONSTRAINT (writes continue)',
  },
  'check-not-valid': {
    severity: 'refuse',
    dialects: PG,
    doc: 'ADD CHECK without NOT VALID on an existing table',
    why: 'scans the whole table under ACCESS EXCLUSIVE',
    fix: 'ADD CONSTRAINT ... CHECK (...) NOT VALID; then VALIDATE CONSTRAINT separately',
  },
  'set-not-null': {
    severity: 'refuse',
    dialects: PG,
    doc: 'ALTER COLUMN ... SET NOT NULL',
    why: 'scans the whole table under ACCESS EXCLUSIVE',
    fix: 'ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT c; then SET NOT NULL uses it and skips the scan (PG 12+)',
  },
  'vacuum-full-cluster': {
    severity: 'refuse',
    dialects: PG,
    doc: 'VACUUM FULL / CLUSTER',
    why: 'rewrites the table under ACCESS EXCLUSIVE: reads and writes wait for the whole rewrite',
    fix: 'use pg_repack or `ghostwright alter` with a no-op change, outside the migration',
  },
  'missing-lock-timeout': {
    severity: 'warn',
    dialects: BOTH,
    doc: 'a locking statement with no SET lock_timeout (PG) / lock_wait_timeout (MySQL) before it in the file',
    why: 'waiting for its lock behind a long transaction, it queues every other query on the table (MySQL waits up to a year by default)',
    fix: "start the file with SET lock_timeout = '5s' (PG) or SET SESSION lock_wait_timeout = 5 (MySQL), and retry on timeout",
  },
  truncate: {
    severity: 'warn',
    dialects: BOTH,
    doc: 'TRUNCATE',
    why: 'deletes every row irreversibly under an exclusive lock',
    fix: 'make sure this is intended; for large deletes, delete in batches',
  },
  'expand-contract': {
    severity: 'warn',
    dialects: BOTH,
    doc: 'one file both expands (adds) and contracts (drops/renames) the same table',
    why: 'the old application version needs the old shape until it is gone: contract must ship in a later release than expand',
    fix: 'move the DROP/RENAME into a later migration, deployed after every instance runs the new code',
  },
  'unbatched-backfill': {
    severity: 'warn',
    dialects: BOTH,
    doc: 'UPDATE without WHERE (a whole-table backfill) on an existing table',
    why: 'one transaction locks every row, bloats the table/undo log and lags replicas',
    fix: 'backfill in batches by key range (UPDATE ... WHERE id BETWEEN ...), outside the schema migration',
  },
} as const satisfies Record<string, Omit<LintRule, 'id'>>;

export type LintRuleId = keyof typeof RULES;

export function rule(id: LintRuleId): LintRule {
  return { id, ...RULES[id] };
}

export function catalogue(): LintRule[] {
  return (Object.keys(RULES) as LintRuleId[]).map(rule);
}
