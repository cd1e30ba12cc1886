/**
 * A streaming standby's data directory without pg_basebackup (the npm
 * PostgreSQL packages have none): the documented low-level base backup.
 *
 *   pg_backup_start(label, fast)      -- on one session, kept open: the
 *                                        backup is non-exclusive and ends
 *                                        with that session
 *   copy the data directory, file by file, while the server runs
 *   pg_backup_stop(false)             -- returns the backup_label (and the
 *                                        tablespace map) to write into the copy
 *
 * The copy may be torn (files change while they are copied): recovery
 * replays WAL from the backup's checkpoint, which backup_label names, and
 * repairs it. The WAL itself is not copied: the standby streams it from the
 * primary (standby.signal + primary_conninfo), which keeps it meanwhile
 * (wal_keep_size in the sandbox's settings). Per the documentation, files
 * the server recreates are left out: postmaster.pid/.opts, pg_wal/*,
 * pg_replslot/*, pg_stat_tmp/*, pg_dynshmem/*, pg_notify/*, pg_serial/*,
 * pg_snapshots/*, pg_subtrans/*, pgsql_tmp*, pg_internal.init.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync, appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { mustRun, type RunAs } from './process.js';

const EMPTIED_DIRS = ['pg_wal', 'pg_replslot', 'pg_stat_tmp', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_subtrans'];
const REMOVED_FILES = ['postmaster.pid', 'postmaster.opts', 'backup_label', 'backup_label.old', 'tablespace_map', 'standby.signal', 'recovery.signal'];

function conninfoValue(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export interface StandbyCopyInput {
  /** A superuser session on the primary (stays open from start to stop). */
  session: pg.Client;
  primaryDataDir: string;
  standbyDataDir: string;
  primaryPort: number;
  user: string;
  password: string;
  runAs: RunAs | undefined;
}

export async function copyStandbyDataDir(input: StandbyCopyInput): Promise<void> {
  const { session, standbyDataDir: dst } = input;
  const opts = input.runAs ? { runAs: input.runAs } : {};
  await session.query(`SELECT pg_backup_start('ghostwright sandbox standby', true)`);
  let stopped = false;
  try {
    // cp -a as the server's OS user keeps owner and the 0700/0600 modes PostgreSQL insists on.
    await mustRun('copying the primary data directory', 'cp', ['-a', input.primaryDataDir, dst], opts);
    const res = await session.query<{ labelfile: string; spcmapfile: string | null }>(`SELECT labelfile, spcmapfile FROM pg_backup_stop(false)`);
    stopped = true;
    for (const f of REMOVED_FILES) rmSync(join(dst, f), { force: true });
    for (const d of EMPTIED_DIRS) {
      const dir = join(dst, d);
      if (!existsSync(dir)) continue;
      for (const entry of readdirSync(dir)) rmSync(join(dir, entry), { recursive: true, force: true });
    }
    mkdirSync(join(dst, 'pg_wal', 'archive_status'), { recursive: true });
    const row = res.rows[0]!;
    writeFileSync(join(dst, 'backup_label'), row.labelfile);
    if (row.spcmapfile) writeFileSync(join(dst, 'tablespace_map'), row.spcmapfile);
    writeFileSync(join(dst, 'standby.signal'), '');
    const conninfo = `host=127.0.0.1 port=${input.primaryPort} user=${input.user} password=${input.password} application_name=standby`;
    appendFileSync(join(dst, 'postgresql.auto.conf'), `primary_conninfo = ${conninfoValue(conninfo)}\n`);
    if (input.runAs) await mustRun('chown of the standby files', 'chown', ['-R', `${input.runAs.uid}:${input.runAs.gid}`, dst]);
  } finally {
    if (!stopped) await session.query(`SELECT pg_backup_stop(false)`).catch(() => undefined);
  }
}
