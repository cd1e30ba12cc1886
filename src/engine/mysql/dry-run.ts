/**
 * The dry run proves the ALTER on a TEMPORARY copy of the table: MySQL DDL
 * is not transactional, and a real `t_gho` created and dropped again would
 * be seen by other sessions for that moment and written to the binary log,
 * so replicas would run it too. A temporary table belongs to the session
 * that made it: no other session sees it, and with binlog_format=ROW its
 * CREATE/ALTER/DROP are not written to the binary log (verified on MariaDB
 * 10.11: the binlog position does not move; MySQL 8 behaves the same). It
 * disappears with the session even if we die.
 *
 * What a temporary table can't be, on InnoDB: partitioned (error 1478), with
 * a FULLTEXT index (1796), with foreign keys (1005 errno 150). A dry run of
 * such a table or ALTER is refused with that explanation: it never falls
 * back to a real table.
 */
import type { Connection } from 'mysql2/promise';
import { RefusedError } from '../../errors.js';
import type { TableInfo, TableRef } from '../engine.js';
import { queryExec, queryRows } from './connect.js';
import { inspectTemporaryTable, showCreateTable } from './inspect-temporary.js';
import { qualified } from './ident.js';

export interface PrivateProof {
  /** The session that holds the temporary table (one connection, never a pool). */
  session: Connection;
  original: TableRef;
  /** The temporary table's name: the ghost's, so the server's messages name what --execute would create. */
  ghost: TableRef;
  alter: string;
  flavor: string;
}

/** What the proof read of the temporary ghost: its shape, and its SHOW CREATE TABLE text (which keys a run would defer). */
export interface ProvedGhost {
  shape: TableInfo;
  createTable: string;
}

/** Creates the temporary ghost, ALTERs it, reads its shape and drops it; nothing outside the session changes. */
export async function proveAlterPrivately(p: PrivateProof): Promise<ProvedGhost> {
  await refuseIfLogged(p.session);
  const temp = qualified(p.ghost);
  try {
    await queryExec(p.session, `CREATE TEMPORARY TABLE ${temp} LIKE ${qualified(p.original)}`);
  } catch (err) {
    throw notPrivate(err, p) ?? err;
  }
  try {
    try {
      await queryExec(p.session, `ALTER TABLE ${temp} ${p.alter}`);
    } catch (err) {
      throw (
        notPrivate(err, p) ??
        new RefusedError('E_BAD_ALTER', `the server rejected the ALTER: ${(err as Error).message}`, {
          cause: err,
          hint: 'fix the ALTER clauses (they were tried on an empty temporary copy made with CREATE TEMPORARY TABLE ... LIKE, which has no foreign keys: DROP FOREIGN KEY fails there)',
        })
      );
    }
    const createTable = await showCreateTable(p.session, p.ghost);
    return { shape: await inspectTemporaryTable(p.session, p.ghost, p.flavor, createTable), createTable };
  } finally {
    // TEMPORARY: never the real table of that name, if one exists.
    await queryExec(p.session, `DROP TEMPORARY TABLE IF EXISTS ${temp}`).catch(() => undefined);
  }
}

/**
 * With STATEMENT or MIXED logging, temporary-table DDL does go to the binary
 * log. The tool's preflight requires ROW globally; a session could still
 * differ (an init_connect, a per-user default).
 */
async function refuseIfLogged(session: Connection): Promise<void> {
  const r = (await queryRows(session, 'SELECT @@GLOBAL.log_bin AS log_bin, @@SESSION.sql_log_bin AS sql_log_bin, @@SESSION.binlog_format AS format'))[0] ?? {};
  const logged = Number(r.log_bin) === 1 && Number(r.sql_log_bin) === 1;
  if (logged && String(r.format).toUpperCase() !== 'ROW') {
    throw new RefusedError('E_DRY_RUN_UNSUPPORTED', `the dry run's session logs with binlog_format=${String(r.format)}, which writes temporary-table DDL to the binary log: the dry run would replicate`, {
      hint: 'set binlog_format=ROW for this user (SET GLOBAL binlog_format = ROW, and check init_connect); the online ALTER needs ROW anyway',
    });
  }
}

/** The server's "a temporary table can't be that" errors, as a refusal saying why; null for any other error. */
function notPrivate(err: unknown, p: PrivateProof): RefusedError | null {
  const e = err as { errno?: number; message?: string };
  const msg = String(e?.message ?? '');
  let why: string | null = null;
  if (e?.errno === 1478 && /TEMPORARY/i.test(msg)) why = 'a partitioned table';
  else if (e?.errno === 1796) why = 'a FULLTEXT index';
  else if ((e?.errno === 1005 || e?.errno === 1215 || e?.errno === 150) && /foreign key/i.test(msg)) why = 'a foreign key';
  if (!why) return null;
  return new RefusedError('E_DRY_RUN_UNSUPPORTED', `a dry run can't check this ALTER of ${p.original.name}: it proves the ALTER on a private temporary copy, and the server does not allow ${why} on a temporary table (${msg}). Nothing was changed.`, {
    cause: err,
    hint: `review the ALTER by hand, or try it on a copy of the table in a test database; with --execute the ALTER runs first on the empty ghost table, and if the server rejects it there the ghost is dropped and ${p.original.name} stays untouched`,
  });
}
