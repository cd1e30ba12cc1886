/**
 * Replica identity for the duration of a run. The stream must name the copy
 * key's columns in every update and delete: with REPLICA IDENTITY DEFAULT
 * that is the primary key. A table without one (or whose copy key is another
 * unique key) would even make UPDATE/DELETE FAIL for the application once it
 * is in a publication ("cannot update table because it does not have a
 * replica identity and publishes updates"). So its identity is set to the
 * copy key's index (unique, NOT NULL, not partial, not deferrable: what
 * USING INDEX requires) and restored afterwards. Both are ACCESS EXCLUSIVE
 * catalog changes: bounded by lock_timeout.
 */
import type pg from 'pg';
import { GhostwrightError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { TableRef } from '../engine.js';
import { boundLockWait, catalog, inTransaction } from './connect.js';
import { qualified, quoteIdent } from './ident.js';

async function inShortLock(pool: pg.Pool, lockTimeoutMs: number, sql: string): Promise<void> {
  await inTransaction(pool, async (client) => {
    await boundLockWait(client, lockTimeoutMs);
    await client.query(sql);
  });
}

/** Returns the identity to restore ('d' | 'n') when it had to change it, else null. */
export async function ensureReplicaIdentity(pool: pg.Pool, table: TableRef, key: string[], keyIndex: string, lockTimeoutMs: number, log: Logger): Promise<string | null> {
  const [rel] = await catalog<{ ident: string; cols: string[] | null }>(
    pool,
    `SELECT c.relreplident AS ident,
            (SELECT ARRAY(SELECT a.attname FROM unnest(x.indkey::int2[]) k(n) JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n)
               FROM pg_index x WHERE x.indrelid = c.oid AND (CASE c.relreplident WHEN 'd' THEN x.indisprimary ELSE x.indisreplident END)) AS cols
       FROM pg_class c WHERE c.oid = $1::regclass`,
    [qualified(table)],
  );
  if (!rel || rel.ident === 'f') return null;
  const covered = rel.cols !== null && rel.cols.length === key.length && key.every((k) => rel.cols!.includes(k));
  if (covered) return null;
  const sql = `ALTER TABLE ${qualified(table)} REPLICA IDENTITY USING INDEX ${quoteIdent(keyIndex)}`;
  log.warn({ table: `${table.schema}.${table.name}`, index: keyIndex }, 'setting REPLICA IDENTITY USING INDEX on the original for the duration of the run');
  try {
    await inShortLock(pool, lockTimeoutMs, sql);
  } catch (err) {
    throw new GhostwrightError('E_REPLICA_IDENTITY', `cannot set the replica identity of ${table.schema}.${table.name}: ${(err as Error).message}`, { cause: err, hint: `run ${sql}; yourself, then retry` });
  }
  return rel.ident;
}

/** Puts the identity back; false (with a warning and the command) when it could not. */
export async function restoreReplicaIdentity(pool: pg.Pool, table: TableRef, previous: string, lockTimeoutMs: number, log: Logger): Promise<boolean> {
  const sql = `ALTER TABLE ${qualified(table)} REPLICA IDENTITY ${previous === 'n' ? 'NOTHING' : 'DEFAULT'}`;
  try {
    await inShortLock(pool, lockTimeoutMs, sql);
    return true;
  } catch (err) {
    log.warn({ err }, `could not restore the replica identity; run: ${sql}`);
    return false;
  }
}
