/**
 * MySQL/MariaDB SQL text of the key-based apply: pure `(spec) => { sql,
 * params }` builders over the batch of changed keys the stream collected.
 */
import type { KeyTuple, TableRef } from '../engine.js';
import type { ColumnPair } from '../../core/columns.js';
import { qualified, quoteIdent } from './ident.js';
import { cols, keyIn, type Sql } from './sql.js';

export interface ApplySpec {
  source: TableRef;
  ghost: TableRef;
  pairs: readonly ColumnPair[];
  sourceKey: readonly string[];
  targetKey: readonly string[];
  keys: readonly KeyTuple[];
  /** The source index over sourceKey: the locking read must use it (see buildApplyInsert). */
  index?: string;
}

/**
 * Key-based apply, step 1: remove every key of the batch from the ghost.
 * Step 2 re-inserts those still in the original with their CURRENT values,
 * so the ghost ends up as the original is now, whatever the events said.
 */
export function buildApplyDelete(spec: ApplySpec): Sql {
  const k = keyIn(spec.targetKey, spec.keys);
  return { sql: `DELETE FROM ${qualified(spec.ghost)} WHERE ${k.sql}`, params: k.params };
}

/**
 * Step 2: a plain INSERT (no IGNORE, no REPLACE): the batch's keys are gone
 * from the ghost, so a duplicate can only come from another unique key of
 * the new shape; REPLACE would silently delete that other row.
 *
 * Visibility: a transaction is written to the binlog before its InnoDB
 * commit becomes visible, so a consistent read right after its event can
 * still see the old row. The applier first makes the commits visible
 * (MysqlApplySql.awaitCommits: a barrier write, or locking reads of their
 * own, buildLockKeys); the INSERT's read is then a consistent read (READ
 * COMMITTED, row binlog: InnoDB reads the source without locks), which sees
 * them and holds no lock on the application's rows. `locking`: the read LOCKS IN SHARE MODE itself (the
 * cut-over, whose LOCK TABLES already keeps every writer out).
 *
 * FORCE INDEX on the key: a batch listing a large share of a (small) table's
 * keys makes the optimizer prefer a full scan, and a locking scan waits for
 * the row lock of EVERY row it passes, even rows not in the batch (READ
 * COMMITTED releases non-matching rows only after acquiring them). One
 * application transaction holding one unrelated row for longer than the
 * migration's catch-up timeout then stalls the apply for good; with the key
 * index the read locks exactly the batch's keys.
 */
export function buildApplyInsert(spec: ApplySpec, locking: boolean): Sql {
  const k = keyIn(spec.sourceKey, spec.keys);
  const force = spec.index ? ` FORCE INDEX (${quoteIdent(spec.index)})` : '';
  return {
    sql: `INSERT INTO ${qualified(spec.ghost)} (${cols(spec.pairs.map((p) => p.target))}) SELECT ${cols(spec.pairs.map((p) => p.source))} FROM ${qualified(spec.source)}${force} WHERE ${k.sql}${locking ? ' LOCK IN SHARE MODE' : ''}`,
    params: k.params,
  };
}

/**
 * After a batch's INSERT hit a duplicate on another unique key of the ghost
 * (`uniqueKey`, ghost columns): the keys of the ghost rows outside the batch
 * that hold the values the batch's rows now have in the original. Such a row
 * is stale when its own change (the one that gave the value up) is not
 * applied yet: refreshing it from the original together with the batch ends
 * the collision at once, whatever the stream's lag. When the original itself
 * holds the duplicate, the refreshed batch fails again: a real conflict.
 * Null when a column of the key is not fed by a column of the original.
 */
export function buildCollidingKeys(spec: ApplySpec & { uniqueKey: readonly string[] }): Sql | null {
  const sources: string[] = [];
  for (const c of spec.uniqueKey) {
    const pair = spec.pairs.find((p) => p.target.toLowerCase() === c.toLowerCase());
    if (!pair) return null;
    sources.push(pair.source);
  }
  // No alias for the ghost: under the cut-over's LOCK TABLES an alias is a table that isn't locked.
  const g = qualified(spec.ghost);
  const batch = keyIn(spec.sourceKey, spec.keys);
  const outside = keyIn(spec.targetKey, spec.keys, g);
  const force = spec.index ? ` FORCE INDEX (${quoteIdent(spec.index)})` : '';
  const derived = sources.map((c, i) => `${quoteIdent(c)} AS ${quoteIdent(`_gw${i}`)}`).join(', ');
  const on = spec.uniqueKey.map((c, i) => `${g}.${quoteIdent(c)} = s.${quoteIdent(`_gw${i}`)}`).join(' AND ');
  return {
    sql: `SELECT ${spec.targetKey.map((c) => `${g}.${quoteIdent(c)}`).join(', ')} FROM ${g} JOIN (SELECT ${derived} FROM ${qualified(spec.source)}${force} WHERE ${batch.sql}) s ON ${on} WHERE NOT (${outside.sql})`,
    params: [...batch.params, ...outside.params],
  };
}

/** The server's locking read that skips rows another transaction has locked, or null where there is none (MySQL 5.7, MariaDB before 10.6). */
export type SkipLockedClause = 'LOCK IN SHARE MODE SKIP LOCKED' | 'FOR SHARE SKIP LOCKED' | null;

export function skipLockedClause(flavor: 'mariadb' | 'mysql', versionNumber: number): SkipLockedClause {
  if (flavor === 'mariadb') return versionNumber >= 100600 ? 'LOCK IN SHARE MODE SKIP LOCKED' : null;
  return versionNumber >= 80001 ? 'FOR SHARE SKIP LOCKED' : null;
}

/**
 * A locking read of a batch's keys (key columns only): returns once every
 * transaction that wrote them has committed (a writer's row locks are
 * released only after its commit is visible), so a read or chunk that
 * starts afterwards sees those commits.
 *
 * `clause` 'SKIP LOCKED': never waits; returns the keys no transaction holds
 * now, whose writers have therefore committed. The keys it does not return
 * are still locked by a writer, or deleted: the plain read of just those
 * then waits. Run each in a statement of its own (autocommit): the shared
 * locks last only as long as the read, and a hot row the application keeps
 * updating is never held for a whole apply batch.
 */
export function buildLockKeys(spec: ApplySpec, clause: SkipLockedClause = null): Sql {
  const k = keyIn(spec.sourceKey, spec.keys);
  const force = spec.index ? ` FORCE INDEX (${quoteIdent(spec.index)})` : '';
  return { sql: `SELECT ${cols(spec.sourceKey)} FROM ${qualified(spec.source)}${force} WHERE ${k.sql} ${clause ?? 'LOCK IN SHARE MODE'}`, params: k.params };
}
