/**
 * The binlog shows a transaction before its commit is visible (DESIGN §2).
 * The applier relies on one server property to see those commits without
 * locking the application's rows: MariaDB commits in binlog order, so once
 * a write of ours that comes later in the binlog has committed, every
 * transaction before it is visible (MysqlApplySql.awaitCommits).
 *
 * Six writers bump counters on 20 hot rows; for the newest UPDATE the
 * stream delivered, a reader reads the row at once and checks that it holds
 * the event's value or a newer one. Without the barrier such reads miss the
 * commit now and then (the control): with the product's barrier first, never.
 * If the control never misses (a machine too fast to show the window), the
 * case is skipped rather than passed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ZongJi from '@vlasky/zongji';
import mysql from 'mysql2/promise';
import { parseConnectionUrl } from '../../src/connection.js';
import { MysqlApplySql } from '../../src/engine/mysql/apply.js';
import { buildCreateChangelog } from '../../src/engine/mysql/sql.js';
import { parseVersion } from '../../src/engine/mysql/checks.js';
import type { BinlogStream } from '../../src/engine/mysql/stream.js';
import { silentLogger } from '../../src/log.js';
import { databaseOf, dropDatabase, freshDatabase, hasMysql } from '../helpers/servers.js';

const ROWS = 20;
const WRITERS = 6;
/** Reads per mode: the control misses ~1% of them on the 2-core CI machine. */
const READS = 3000;

let url: string;

beforeAll(async () => {
  if (hasMysql()) url = await freshDatabase('mysql', 'visibility');
});

afterAll(async () => {
  if (url) await dropDatabase(url);
});

interface Tally {
  reads: number;
  missed: number;
}

/** Runs the writers and the stream until `READS` reads were made, each after `before()`. */
async function probe(before: (conn: mysql.Connection) => Promise<void>): Promise<Tally> {
  const s = parseConnectionUrl(url);
  const cfg = { host: s.host, port: s.port, user: s.user, password: s.password ?? '', database: databaseOf(url) };
  const admin = await mysql.createConnection(cfg);
  const reader = await mysql.createConnection(cfg);
  await reader.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
  const [[status]] = (await admin.query('SHOW MASTER STATUS')) as unknown as [[{ File: string; Position: number }]];
  let stop = false;
  const writers = Array.from({ length: WRITERS }, async () => {
    const c = await mysql.createConnection(cfg);
    try {
      while (!stop) await c.query('UPDATE hot SET v = v + 1 WHERE id = ?', [1 + Math.floor(Math.random() * ROWS)]);
    } finally {
      await c.end();
    }
  });
  const tally: Tally = { reads: 0, missed: 0 };
  let latest: { id: number; v: number } | null = null;
  let busy = false;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const check = async (): Promise<void> => {
    if (busy || !latest || stop) return;
    busy = true;
    const { id, v } = latest;
    latest = null;
    try {
      await before(reader);
      const [rows] = (await reader.query('SELECT v FROM hot WHERE id = ?', [id])) as unknown as [{ v: number }[]];
      tally.reads++;
      if (Number(rows[0]!.v) < v) tally.missed++;
      if (tally.reads >= READS) {
        stop = true;
        done();
      }
    } finally {
      busy = false;
      setImmediate(() => void check());
    }
  };
  const z = new ZongJi({ host: s.host, port: s.port, user: s.user, password: s.password ?? '' });
  z.on('binlog', (evt: unknown) => {
    const e = evt as { getTypeName(): string; rows: { after: { id: number; v: number } }[] };
    if (e.getTypeName() !== 'UpdateRows') return;
    for (const r of e.rows) latest = { id: Number(r.after.id), v: Number(r.after.v) };
    void check();
  });
  z.start({ serverId: 200_000 + Math.floor(Math.random() * 1_000_000), filename: status.File, position: status.Position, includeEvents: ['tablemap', 'updaterows'], includeSchema: { [cfg.database]: ['hot'] } });
  try {
    await Promise.race([finished, new Promise((r) => setTimeout(r, 60_000))]);
  } finally {
    stop = true;
    await Promise.all(writers);
    z.stop();
    await reader.end();
    await admin.end();
  }
  return tally;
}

describe.skipIf(!hasMysql())('MySQL/MariaDB: the apply sees every commit the stream delivered', () => {
  it('a read right after an event can miss its commit; after the apply barrier it never does', async (ctx) => {
    const admin = await mysql.createConnection(url);
    await admin.query('CREATE TABLE hot (id INT PRIMARY KEY, v BIGINT NOT NULL)');
    for (let id = 1; id <= ROWS; id++) await admin.query('INSERT INTO hot (id, v) VALUES (?, 0)', [id]);
    const db = databaseOf(url);
    await admin.query(buildCreateChangelog({ schema: db, name: '_hot_ghc' }).sql);
    const [[{ version }]] = (await admin.query('SELECT VERSION() AS version')) as unknown as [[{ version: string }]];
    await admin.end();
    const apply = new MysqlApplySql({
      pool: undefined as unknown as mysql.Pool,
      session: async (c) => c,
      stream: undefined as unknown as BinlogStream,
      source: { schema: db, name: 'hot' },
      ghost: { schema: db, name: '_hot_gho' },
      plan: undefined as unknown as ConstructorParameters<typeof MysqlApplySql>[0]['plan'],
      changelog: { schema: db, name: '_hot_ghc' },
      server: parseVersion(String(version)),
      log: silentLogger,
    });
    const control = await probe(async () => undefined);
    const barrier = await probe((conn) => apply.awaitCommits(conn, []));
    console.log(`[visibility] plain read missed ${control.missed}/${control.reads}; after the barrier ${barrier.missed}/${barrier.reads}`);
    expect(barrier.reads).toBe(READS);
    expect(barrier.missed).toBe(0);
    if (control.missed === 0) ctx.skip();
  }, 150_000);
});
