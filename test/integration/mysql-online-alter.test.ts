/**
 * Online ALTERs on MySQL through the library's runbook (helpers/drive.ts:
 * core/migrator.ts runOnlineAlter, faults injected by its hooks) under a
 * concurrent write load, then every row of the new table compared with the
 * mirror the load wrote in the same transactions. The cases that step
 * between phases to test the engine itself (a cut-over lock timeout and its
 * retry, backpressure, binlog rotation and a killed binlog connection) drive
 * the engine's handles with prepareAndCopy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMysqlEngine } from '../../src/engine/mysql/index.js';
import { parseConnectionUrl } from '../../src/connection.js';
import { silentLogger } from '../../src/log.js';
import { GhostwrightError, RefusedError } from '../../src/errors.js';
import { chooseSharedKey, mapColumns } from '../../src/core/columns.js';
import { renamesOf } from '../../src/core/alter-text.js';
import { parseMysqlAlter } from '../../src/engine/mysql/alter-parse.js';
import { newLiveMigration } from '../../src/core/live.js';
import { runOnlineAlter } from '../../src/alter.js';
import { alterOptions } from '../../src/core/options.js';
import type { AlterRequest, Engine, KeyTuple, Migration, OnlineAlter } from '../../src/engine/engine.js';
import { databaseOf, dropDatabase, freshDatabase, hasMysqlReplica, mysqlReplicaUrl, sql, withDatabase } from '../helpers/servers.js';
import { driveAlter } from '../helpers/drive.js';
import { diffSignatures, fidelityTable, rowSignatures, seedRows, startLoad, type LoadHandle } from '../helpers/mysql-load.js';

const fold = (n: string) => n.toLowerCase();
let url: string;
let engine: Engine;

beforeAll(async () => {
  url = await freshDatabase('mysql', 'mysql_oa');
  engine = await createMysqlEngine(parseConnectionUrl(url), silentLogger);
});

afterAll(async () => {
  await engine?.close();
  if (url) await dropDatabase(url);
});

function request(table: string, alter: string, extra: Partial<AlterRequest> = {}): AlterRequest {
  return { table: engine.tableRef(table), alter, cutOverLockTimeoutMs: 3000, dropOldTable: false, maxBacklogEvents: 50_000, ...extra };
}

interface Driven {
  /** The migration's root (abort, cleanup, probe) and its running Migration (oa.m). */
  oa: OnlineAlter & { m: Migration };
}

/**
 * The engine's handles up to a finished copy, for the cases that step
 * between phases themselves: preflight -> createGhost -> ghost.startStream(plan)
 * -> one range copied to its end; the caller goes on (catch-up, cut-over).
 */
async function prepareAndCopy(req: AlterRequest): Promise<Driven> {
  const original = await engine.inspect(req.table);
  const oa = engine.onlineAlter(req, { replicas: [], log: silentLogger });
  try {
    const checks = await oa.preflight(original);
    expect(checks.filter((c) => !c.ok && c.severity === 'error')).toEqual([]);
    const ghost = await oa.createGhost();
    const plan = chooseSharedKey(original, ghost.shape, mapColumns(original, ghost.shape, renamesOf(parseMysqlAlter(req.alter), fold), fold), fold);
    expect(plan).not.toBeNull();
    const m = await ghost.startStream(plan!);
    const bounds = await m.keyBounds();
    const ranges = bounds ? [{ after: null, upTo: bounds.max }] : [];
    const copy = m.beginCopy(ranges);
    for (const range of ranges) {
      for (let after: KeyTuple | null = range.after; ; ) {
        const r = await copy.copyChunk({ after, upTo: range.upTo }, 1000);
        if (r.last === null) break;
        after = r.last;
      }
    }
    return { oa: Object.assign(oa, { m }) };
  } catch (err) {
    await oa.abort();
    throw err;
  }
}

describe('online ALTER under concurrent writes', () => {
  it('keeps every committed change, with exact types, through copy, stream and cut-over', async () => {
    await engine.execute(`${fidelityTable('fid')}; CREATE TABLE fid_mirror LIKE fid`);
    const ids = await seedRows(url, 'fid', 'fid_mirror', 20_000);
    const alter = "ADD COLUMN added VARCHAR(10) NOT NULL DEFAULT 'dflt', DROP COLUMN drop_me, MODIFY i BIGINT NOT NULL DEFAULT 0, ADD INDEX idx_i (i)";
    let load: LoadHandle | undefined;
    try {
      const original = await engine.inspect(engine.tableRef('fid'));
      // Small chunks with a pause between them (as a throttled copy would) keep the copy running under the load.
      const { report } = await driveAlter(url, request('fid', alter), {
        chunkSize: 500,
        threads: 2,
        betweenChunks: async (n) => {
          if (n === 1) {
            load = startLoad({ url, table: 'fid', mirror: 'fid_mirror', workers: Number(process.env.GW_STRESS_WORKERS ?? 2), existing: ids });
            await new Promise((r) => setTimeout(r, 300));
          }
          await new Promise((r) => setTimeout(r, 15));
        },
      });
      // Writers blocked behind the swap land in the new table: let them run a little more.
      await new Promise((r) => setTimeout(r, 300));
      const stats = await load!.stop();
      console.log(`[mysql oa] copied ${report.rowsCopied} rows in ${report.copyMs} ms under load (${Math.round((report.rowsCopied * 1000) / report.copyMs)} rows/s); applied ${report.eventsApplied} row changes; load ${JSON.stringify(stats)}; cut-over stall ${report.cutOverStallMs} ms after ${report.cutOverAttempts} attempt(s); verify ${JSON.stringify(report.verify)}`);
      expect(report.rowsCopied).toBeGreaterThan(15_000);
      expect(stats.committed).toBeGreaterThan(20);
      expect(stats.rolledBack).toBeGreaterThan(0);
      expect(report.eventsApplied).toBeGreaterThan(0);
      expect(report.oldTable).toBe('_fid_del');

      const after = await engine.inspect(engine.tableRef('fid'));
      expect(after.columns.map((c) => c.name)).toEqual([...original.columns.map((c) => c.name).filter((n) => n !== 'drop_me'), 'added']);
      expect(after.columns.find((c) => c.name === 'i')?.type).toMatch(/^bigint/);
      expect(after.indexes.map((i) => i.name)).toContain('idx_i');
      const surviving = original.columns.filter((c) => c.name !== 'drop_me');
      const expected = await rowSignatures(url, 'fid_mirror', surviving);
      const actual = await rowSignatures(url, 'fid', surviving);
      expect(expected.size).toBeGreaterThan(19_000);
      expect(diffSignatures(expected, actual)).toEqual([]);
      expect(actual.has('18446744073709551615')).toBe(expected.has('18446744073709551615'));
      const dflt = await engine.execute("SELECT COUNT(*) AS n FROM fid WHERE added <> 'dflt'");
      expect(dflt.rows[0]).toEqual({ n: '0' });
      // The old table is kept, the helpers are gone.
      const left = await engine.execute("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '\\_fid\\_%' ORDER BY 1");
      expect(left.rows.map((r) => r.t)).toEqual(['_fid_del']);
    } finally {
      await load?.stop().catch(() => undefined);
    }
  });

  it('builds the secondary indexes after the copy, under writes, and ends with the keys a blocking ALTER gives', async () => {
    const keys = "ADD INDEX i_i (i), ADD INDEX i_multi (i, dt, ts), ADD INDEX i_prefix (txt(8), vb(4)) COMMENT 'prefix, two', ADD INDEX i_desc (dt DESC), ADD INDEX i_gone (yr)";
    await engine.execute(`${fidelityTable('fidx')}; ALTER TABLE fidx ${keys}; CREATE TABLE fidx_mirror LIKE fidx; CREATE TABLE fidx_ref LIKE fidx`);
    const ids = await seedRows(url, 'fidx', 'fidx_mirror', 8000);
    const alter = 'ADD COLUMN added INT NOT NULL DEFAULT 3, DROP INDEX i_gone, ADD INDEX i_added (added, i)';
    await engine.execute(`ALTER TABLE fidx_ref ${alter}, ALGORITHM=COPY`);
    const ghostKeys: string[][] = [];
    let load: LoadHandle | undefined;
    try {
      const { report } = await driveAlter(url, request('fidx', alter), {
        chunkSize: 400,
        betweenChunks: async (n) => {
          if (n === 1) load = startLoad({ url, table: 'fidx', mirror: 'fidx_mirror', workers: 2, existing: ids });
          if (n === 3) {
            const r = await engine.execute("SELECT DISTINCT INDEX_NAME AS n FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'fidx_gho' ORDER BY 1");
            ghostKeys.push(r.rows.map((x) => String(x.n)));
          }
          await new Promise((r) => setTimeout(r, 10));
        },
      });
      await new Promise((r) => setTimeout(r, 200));
      const stats = await load!.stop();
      expect(stats.committed).toBeGreaterThan(10);
      expect(report.eventsApplied).toBeGreaterThan(0);
      // During the copy the ghost had its primary key only: the others were built after it.
      expect(ghostKeys).toEqual([['PRIMARY']]);
      const create = async (t: string) => {
        const text = String((await engine.execute(`SHOW CREATE TABLE ${t}`)).rows[0]!['Create Table']);
        return text.replace(/^CREATE TABLE `[^`]+`/, 'CREATE TABLE `x`').replace(/ AUTO_INCREMENT=\d+/, '');
      };
      expect(await create('fidx')).toBe(await create('fidx_ref'));
      expect(await create('fidx')).toContain("KEY `i_prefix` (`txt`(8),`vb`(4)) COMMENT 'prefix, two'");
      const surviving = (await engine.inspect(engine.tableRef('fidx_mirror'))).columns.filter((c) => c.generated === null);
      const expected = await rowSignatures(url, 'fidx_mirror', surviving);
      expect(expected.size).toBeGreaterThan(7000);
      expect(diffSignatures(expected, await rowSignatures(url, 'fidx', surviving))).toEqual([]);
    } finally {
      await load?.stop().catch(() => undefined);
    }
  });

  it('streams binary and case-insensitive string keys exactly', async () => {
    await engine.execute(`
      CREATE TABLE kb (k VARBINARY(16) NOT NULL, c CHAR(3) COLLATE utf8mb4_general_ci NOT NULL, v INT NOT NULL, PRIMARY KEY (k, c));
      CREATE TABLE kb_mirror LIKE kb;
      CREATE TABLE kbin (k BINARY(8) NOT NULL PRIMARY KEY, v INT NOT NULL);
    `);
    const keys = [Buffer.from([0]), Buffer.from([0, 0]), Buffer.from([0xff, 0x27, 0x5c]), Buffer.from('41', 'hex'), Buffer.from('61', 'hex')];
    for (const [n, k] of keys.entries()) {
      for (const c of ['abc', 'ABd', 'é ']) {
        for (const t of ['kb', 'kb_mirror']) await engine.execute(`INSERT INTO ${t} VALUES (?, ?, ?)`, [k, c, n]);
      }
      // BINARY(8) pads with 0x00; the binlog strips the padding again.
      if (n !== 1) await engine.execute('INSERT INTO kbin VALUES (?, ?)', [k, n]);
    }
    // Changes after the copy reach the ghost only through the stream, keyed by the binlog's values.
    await driveAlter(url, request('kb', 'ADD COLUMN extra INT NULL'), {
      chunkSize: 4,
      afterCopy: async () => {
        for (const t of ['kb', 'kb_mirror']) {
          await engine.execute(`UPDATE ${t} SET v = v + 100 WHERE k = ? AND c = 'ABC'`, [Buffer.from('41', 'hex')]);
          await engine.execute(`UPDATE ${t} SET k = ? WHERE k = ? AND c = 'é'`, [Buffer.from([1, 2, 3]), Buffer.from([0])]);
          await engine.execute(`DELETE FROM ${t} WHERE k = ? AND c = 'abd'`, [Buffer.from([0, 0])]);
        }
      },
    });
    await driveAlter(url, request('kbin', 'ADD COLUMN extra INT NULL'), {
      chunkSize: 2,
      afterCopy: async () => {
        await engine.execute('UPDATE kbin SET v = v + 100');
        await engine.execute('DELETE FROM kbin WHERE k = ?', [Buffer.from('6100000000000000', 'hex')]);
      },
    });
    const rows = (t: string) => engine.execute(`SELECT HEX(k) AS k, HEX(c) AS c, v FROM ${t} ORDER BY k, c`).then((r) => r.rows);
    expect(await rows('kb')).toEqual(await rows('kb_mirror'));
    expect((await engine.execute('SELECT COUNT(*) AS n FROM kb WHERE extra IS NULL')).rows[0]).toEqual({ n: '14' });
    const kbin = await engine.execute('SELECT HEX(k) AS k, v FROM kbin ORDER BY k');
    expect(kbin.rows).toEqual([
      { k: '0000000000000000', v: 100 },
      { k: '4100000000000000', v: 103 },
      { k: 'FF275C0000000000', v: 102 },
    ]);
  });
});

describe('temporal and decimal keys', () => {
  it('streams DATETIME(6) + DECIMAL keys exactly, refuses FLOAT keys', async () => {
    await engine.execute(`
      CREATE TABLE kdt (at DATETIME(6) NOT NULL, amount DECIMAL(30,10) NOT NULL, v INT NOT NULL, PRIMARY KEY (at, amount));
      INSERT INTO kdt VALUES ('2024-01-01 00:00:00.000001', 1.0000000001, 1), ('2024-01-01 00:00:00.000002', 1.0000000001, 2), ('9999-12-31 23:59:59.999999', 99999999999999999999.9999999999, 3);
      CREATE TABLE kfl (f DOUBLE NOT NULL, UNIQUE KEY (f));
    `);
    await driveAlter(url, request('kdt', 'ADD COLUMN w INT NULL'), {
      afterCopy: async () => {
        await engine.execute("UPDATE kdt SET v = v + 10 WHERE at = '2024-01-01 00:00:00.000002'");
        await engine.execute("UPDATE kdt SET amount = 2.5 WHERE v = 3");
        await engine.execute("DELETE FROM kdt WHERE v = 1");
      },
    });
    expect((await engine.execute('SELECT at, amount, v, w FROM kdt ORDER BY at')).rows).toEqual([
      { at: '2024-01-01 00:00:00.000002', amount: '1.0000000001', v: 12, w: null },
      { at: '9999-12-31 23:59:59.999999', amount: '2.5000000000', v: 3, w: null },
    ]);
    for (const t of ['kfl']) {
      const oa = engine.onlineAlter(request(t, 'ADD COLUMN w INT'), { replicas: [], log: silentLogger });
      const checks = await oa.preflight(await engine.inspect(engine.tableRef(t)));
      expect(checks.find((c) => c.id === 'copy-key-types')).toMatchObject({ ok: false, severity: 'error' });
      await oa.abort();
    }
  });
});

describe('auto increment', () => {
  it('carries the AUTO_INCREMENT counter past deleted top rows', async () => {
    await engine.execute('CREATE TABLE ai (id INT AUTO_INCREMENT PRIMARY KEY, v INT); INSERT INTO ai (v) VALUES (1), (2), (3), (4), (5); DELETE FROM ai WHERE id >= 4');
    await driveAlter(url, request('ai', 'ADD COLUMN w INT NULL'));
    await engine.execute('INSERT INTO ai (v) VALUES (6)');
    expect((await engine.execute('SELECT id FROM ai ORDER BY id')).rows.map((r) => r.id)).toEqual([1, 2, 3, 6]);
  });
});

describe('hostile names', () => {
  it('migrates a table whose name is 64 multibyte characters (MySQL counts characters, not bytes), under writes', async () => {
    const q = engine.quoteIdent.bind(engine);
    const table = 'é'.repeat(64); // 128 bytes: a legal name the byte count refused
    await engine.execute(`CREATE TABLE ${q(table)} (id INT NOT NULL PRIMARY KEY, v INT NOT NULL)`);
    await engine.execute(`INSERT INTO ${q(table)} SELECT seq, seq FROM seq_1_to_2000`);
    // Writes run through the copy; the cut-over waits (postponed) until they stop, so the old table can be compared.
    const live = newLiveMigration({ chunkSize: 200, maxLagMs: 60_000, postponeCutOver: true }, { table, engine: 'mysql' });
    const run = runOnlineAlter(alterOptions({ url, table, alter: 'ADD COLUMN w INT NOT NULL DEFAULT 5', execute: true, chunkSize: 200, cutOverLockTimeoutMs: 3000 }), { live });
    let writes = 0;
    let ended = false;
    void run.finally(() => (ended = true));
    const writer = await sql(url);
    try {
      while (!ended && live.progress.state !== 'postponed') {
        const id = 1 + ((writes * 7919) % 2500);
        await writer.query(`INSERT INTO ${q(table)} (id, v) VALUES (?, 1) ON DUPLICATE KEY UPDATE v = v + 1`, [id]);
        if (writes % 5 === 0) await writer.query(`DELETE FROM ${q(table)} WHERE id = ?`, [id + 1]);
        writes++;
      }
    } finally {
      await writer.end();
    }
    live.settings.postponeCutOver = false;
    const report = await run;
    expect(report.status, JSON.stringify(report.error)).toBe('done');
    expect(writes).toBeGreaterThan(10);
    expect([...(report.oldTable ?? '')].length).toBe(64);
    const diff = await engine.execute(`SELECT COUNT(*) AS n FROM ${q(table)} t LEFT JOIN ${q(report.oldTable!)} o ON o.id = t.id AND o.v = t.v WHERE o.id IS NULL`);
    const back = await engine.execute(`SELECT COUNT(*) AS n FROM ${q(report.oldTable!)} o LEFT JOIN ${q(table)} t ON o.id = t.id AND o.v = t.v WHERE t.id IS NULL`);
    expect([diff.rows[0], back.rows[0]]).toEqual([{ n: '0' }, { n: '0' }]);
    expect((await engine.execute(`SELECT COUNT(*) AS n FROM ${q(table)} WHERE w <> 5`)).rows[0]).toEqual({ n: '0' });
  });

  it('migrates a table whose table and column names hold backticks, quotes, ? and spaces', async () => {
    const q = engine.quoteIdent.bind(engine);
    const table = "we`ird ?tbl'";
    await engine.execute(`CREATE TABLE ${q(table)} (${q('k`1')} INT NOT NULL PRIMARY KEY, ${q('?')} VARCHAR(10) NULL, ${q('sp ace"')} INT NULL, ${q('ü')} INT NULL)`);
    await engine.execute(`INSERT INTO ${q(table)} VALUES (1, '?', 1, 1), (2, 'x', 2, 2), (3, NULL, 3, 3)`);
    const { report } = await driveAlter(url, request(table, `ADD COLUMN ${q('new`?')} INT NOT NULL DEFAULT 7, DROP COLUMN ${q('ü')}`), {
      chunkSize: 2,
      afterCopy: async () => {
        await engine.execute(`UPDATE ${q(table)} SET ${q('?')} = ? WHERE ${q('k`1')} = ?`, ['upd?', 2]);
        await engine.execute(`UPDATE ${q(table)} SET ${q('k`1')} = 30 WHERE ${q('k`1')} = 3`);
        await engine.execute(`INSERT INTO ${q(table)} (${q('k`1')}, ${q('?')}) VALUES (4, ?)`, ['four']);
      },
    });
    expect(report.oldTable).toBe("_we`ird ?tbl'_del");
    const rows = await engine.execute(`SELECT * FROM ${q(table)} ORDER BY 1`);
    expect(rows.rows).toEqual([
      { 'k`1': 1, '?': '?', 'sp ace"': 1, 'new`?': 7 },
      { 'k`1': 2, '?': 'upd?', 'sp ace"': 2, 'new`?': 7 },
      { 'k`1': 4, '?': 'four', 'sp ace"': null, 'new`?': 7 },
      { 'k`1': 30, '?': null, 'sp ace"': 3, 'new`?': 7 },
    ]);
  });
});

describe('refusals and failures leave the original intact', () => {
  it('refuses an invalid ALTER with the server message and drops the ghost', async () => {
    await engine.execute('CREATE TABLE bad (id INT PRIMARY KEY, v INT)');
    const oa = engine.onlineAlter(request('bad', 'ADD COLUMN v INT'), { replicas: [], log: silentLogger });
    await oa.preflight(await engine.inspect(engine.tableRef('bad')));
    const err = await oa.createGhost().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefusedError);
    expect((err as RefusedError).code).toBe('E_BAD_ALTER');
    expect((err as Error).message).toMatch(/Duplicate column name/);
    const left = await engine.execute("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '\\_bad\\_%'");
    expect(left.rows[0]).toEqual({ n: '0' });
    await oa.abort();
  });

  it('preflight refuses triggers, referencing foreign keys, leftovers, RENAME TO and keyless tables', async () => {
    await engine.execute(`
      CREATE TABLE pf (id INT PRIMARY KEY, v INT);
      CREATE TABLE pf_child (id INT PRIMARY KEY, p INT, FOREIGN KEY (p) REFERENCES pf (id));
      CREATE TRIGGER pf_trg AFTER INSERT ON pf FOR EACH ROW SET @x = 1;
      CREATE TABLE pf_gho (id INT);
      CREATE TABLE pf_nokey (a INT NULL, UNIQUE KEY (a));
    `);
    const oa = engine.onlineAlter(request('pf', 'ADD COLUMN w INT, RENAME TO pf2'), { replicas: [], log: silentLogger });
    const checks = await oa.preflight(await engine.inspect(engine.tableRef('pf')));
    const failed = checks.filter((c) => !c.ok && c.severity === 'error').map((c) => c.id);
    expect(failed).toEqual(['leftovers', 'alter-rename-table', 'triggers', 'referenced-by-foreign-keys']);
    for (const c of checks.filter((x) => !x.ok)) expect(c.fix).toBeTruthy();
    expect(checks.find((c) => c.id === 'leftovers')).toMatchObject({ detail: 'ghost pf_gho', fix: expect.stringContaining('ghostwright cleanup --url <URL> --table ') });
    await oa.abort();
    // Foreign keys FROM the table refuse: RESTRICT ones would be missing on the new table (issue #14), cascading ones are not binlogged either.
    await engine.execute(`
      CREATE TABLE pf_parent (id INT PRIMARY KEY);
      CREATE TABLE pf_fk (id INT PRIMARY KEY, p INT, q INT, CONSTRAINT fk_r FOREIGN KEY (p) REFERENCES pf_parent (id));
      CREATE TABLE pf_cascade (id INT PRIMARY KEY, p INT, CONSTRAINT fk_c FOREIGN KEY (p) REFERENCES pf_parent (id) ON DELETE CASCADE);
    `);
    const oaFk = engine.onlineAlter(request('pf_fk', 'ADD COLUMN w INT'), { replicas: [], log: silentLogger });
    const fkChecks = await oaFk.preflight(await engine.inspect(engine.tableRef('pf_fk')));
    expect(fkChecks.filter((c) => !c.ok).map((c) => `${c.id}:${c.severity}`)).toEqual(['foreign-keys:error']);
    expect(fkChecks.find((c) => c.id === 'foreign-keys')?.fix).toContain('ADD CONSTRAINT `fk_r` FOREIGN KEY (`p`) REFERENCES');
    await oaFk.abort();
    const oaCascade = engine.onlineAlter(request('pf_cascade', 'ADD COLUMN w INT'), { replicas: [], log: silentLogger });
    const cascadeChecks = await oaCascade.preflight(await engine.inspect(engine.tableRef('pf_cascade')));
    expect(cascadeChecks.filter((c) => !c.ok).map((c) => `${c.id}:${c.severity}`)).toEqual(['cascading-foreign-keys:error', 'foreign-keys:error']);
    await oaCascade.abort();
    const oa2 = engine.onlineAlter(request('pf_nokey', 'ADD COLUMN w INT'), { replicas: [], log: silentLogger });
    const c2 = await oa2.preflight(await engine.inspect(engine.tableRef('pf_nokey')));
    expect(c2.find((c) => c.id === 'copy-key')).toMatchObject({ ok: false, severity: 'error' });
    await oa2.abort();
  });

  it('a cut-over lock timeout is retryable and leaves the original in place', async () => {
    await engine.execute('CREATE TABLE lk (id INT PRIMARY KEY, v INT); INSERT INTO lk VALUES (1, 1), (2, 2)');
    const d = await prepareAndCopy(request('lk', 'ADD COLUMN w INT', { cutOverLockTimeoutMs: 1000 }));
    await d.oa.m.waitCaughtUp(5000);
    // A long write transaction holds a shared-write metadata lock on the table: LOCK TABLES ... READ waits for it.
    const blocker = await engine.openSession();
    await blocker.query('START TRANSACTION');
    await blocker.query('UPDATE lk SET v = v + 0 WHERE id = 1');
    const t0 = Date.now();
    const err = await d.oa.m.cutOver().catch((e: unknown) => e);
    expect((err as GhostwrightError).code).toBe('E_CUTOVER_LOCK_TIMEOUT');
    expect(Date.now() - t0).toBeLessThan(5000);
    await blocker.query('ROLLBACK');
    await blocker.close();
    // Original untouched, sentry gone, ghost still there; writes keep flowing to the ghost.
    const tables = await engine.execute("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '%lk%' ORDER BY 1");
    expect(tables.rows.map((r) => String(r.t)).sort()).toEqual(['_lk_ghc', 'lk', 'lk_gho']);
    await engine.execute('INSERT INTO lk VALUES (3, 3)');
    await d.oa.m.waitCaughtUp(5000);
    const cut = await d.oa.m.cutOver();
    await d.oa.cleanup();
    expect(cut.oldTable).toBe('_lk_del');
    expect((await engine.execute('SELECT id, v, w FROM lk ORDER BY id')).rows).toEqual([
      { id: 1, v: 1, w: null },
      { id: 2, v: 2, w: null },
      { id: 3, v: 3, w: null },
    ]);
  });

  it('adding a unique key over duplicates fails cleanly, original intact', async () => {
    await engine.execute('CREATE TABLE dup (id INT PRIMARY KEY, email VARCHAR(20) NOT NULL); INSERT INTO dup VALUES (1, "a"), (2, "b"), (3, "a"), (4, "c")');
    const failure = await driveAlter(url, request('dup', 'ADD UNIQUE KEY uk_email (email)'), { chunkSize: 10 }).catch((e: unknown) => e);
    expect((failure as GhostwrightError)?.code).toBe('E_APPLY_UNIQUE');
    expect((await engine.execute('SELECT COUNT(*) AS n FROM dup')).rows[0]).toEqual({ n: '4' });
    const left = await engine.execute("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '\\_dup\\_%'");
    expect(left.rows[0]).toEqual({ n: '0' });
  });

  it('fills a new NOT NULL column without default like a blocking ALTER, refuses NULLs into NOT NULL', async () => {
    await engine.execute('CREATE TABLE nn (id INT PRIMARY KEY, v INT NULL); INSERT INTO nn VALUES (1, 1), (2, NULL)');
    const { report } = await driveAlter(url, request('nn', 'ADD COLUMN n INT NOT NULL, ADD COLUMN s VARCHAR(5) NOT NULL', { dropOldTable: true }), {
      afterCopy: async () => void (await engine.execute('INSERT INTO nn VALUES (3, 3)')),
    });
    expect(report.oldTable).toBeNull();
    expect((await engine.execute('SELECT id, v, n, s FROM nn ORDER BY id')).rows).toEqual([
      { id: 1, v: 1, n: 0, s: '' },
      { id: 2, v: null, n: 0, s: '' },
      { id: 3, v: 3, n: 0, s: '' },
    ]);
    const err = await driveAlter(url, request('nn', 'MODIFY v INT NOT NULL')).catch((e: unknown) => e);
    expect((err as GhostwrightError).code).toBe('E_COPY_DATA_LOSS');
    expect((err as Error).message).toMatch(/cannot be null/i);
  });

  it('reports a user without REPLICATION SLAVE as E_STREAM with the grant to add', async () => {
    const name = databaseOf(url);
    await engine.execute('CREATE TABLE norepl (id INT PRIMARY KEY)');
    await engine.execute("CREATE USER IF NOT EXISTS 'gw_norepl'@'%' IDENTIFIED BY 'noreplpw'");
    await engine.execute(`GRANT ALL PRIVILEGES ON \`${name}\`.* TO 'gw_norepl'@'%'`);
    const u = new URL(url);
    u.username = 'gw_norepl';
    u.password = 'noreplpw';
    const limited = await createMysqlEngine(parseConnectionUrl(u.toString()), silentLogger);
    const oa = limited.onlineAlter(request('norepl', 'ADD COLUMN w INT'), { replicas: [], log: silentLogger });
    try {
      const original = await limited.inspect(limited.tableRef('norepl'));
      const checks = await oa.preflight(original);
      expect(checks.find((c) => c.id === 'privileges')).toMatchObject({ ok: false, severity: 'error' });
      const ghost = await oa.createGhost();
      const plan = chooseSharedKey(original, ghost.shape, mapColumns(original, ghost.shape, new Map(), fold), fold)!;
      const err = await ghost.startStream(plan).catch((e: unknown) => e);
      expect((err as GhostwrightError).code).toBe('E_STREAM');
      expect((err as GhostwrightError).hint).toMatch(/REPLICATION SLAVE/);
    } finally {
      await oa.abort();
      await limited.close();
    }
    expect((await engine.execute("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '\\_norepl\\_%'")).rows[0]).toEqual({ n: '0' });
  });

  it('refuses lossy conversions instead of truncating', async () => {
    await engine.execute('CREATE TABLE lossy (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO lossy VALUES (1, 5), (2, 100000)');
    const err = await driveAlter(url, request('lossy', 'MODIFY v SMALLINT NOT NULL')).catch((e: unknown) => e);
    expect((err as GhostwrightError).code).toBe('E_COPY_DATA_LOSS');
    expect((await engine.execute('SELECT v FROM lossy ORDER BY id')).rows).toEqual([{ v: 5 }, { v: 100000 }]);
  });
});

describe('bounded memory and stream safety', () => {
  /** Streams a burst of `rows` 1 KB inserts (no copy: the table starts empty) and samples backlog and RSS. */
  async function burst(table: string, rows: number, maxBacklogEvents: number) {
    await engine.execute(`CREATE TABLE ${table} (id INT PRIMARY KEY, pad VARCHAR(1000) NOT NULL)`);
    const d = await prepareAndCopy(request(table, 'ADD COLUMN extra INT NULL', { maxBacklogEvents }));
    const stream = (d.oa.m as unknown as { stream: { pauses: number } }).stream;
    let maxBacklog = 0;
    const rss0 = process.memoryUsage().rss;
    let maxRss = rss0;
    const timer = setInterval(() => {
      maxBacklog = Math.max(maxBacklog, d.oa.m.streamStats().backlog);
      maxRss = Math.max(maxRss, process.memoryUsage().rss);
    }, 2);
    const t0 = Date.now();
    try {
      // Portable (no MariaDB sequence engine): 10,000-row INSERT ... SELECT from a derived digits table.
      const digits = "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)";
      for (let off = 0; off < rows; off += 10_000) {
        await engine.execute(`INSERT INTO ${table} SELECT ? + a.d * 1000 + b.d * 100 + c.d * 10 + e.d + 1, REPEAT('x', 1000) FROM ${digits} a, ${digits} b, ${digits} c, ${digits} e`, [off]);
      }
      const written = Date.now() - t0;
      await d.oa.m.waitCaughtUp(120_000);
      const ms = Date.now() - t0;
      const count = await engine.execute(`SELECT (SELECT COUNT(*) FROM ${table}) AS a, (SELECT COUNT(*) FROM ${table}_gho) AS b`);
      expect(count.rows[0]).toEqual({ a: String(rows), b: String(rows) });
      return { maxBacklog, rssDeltaMb: Math.round((maxRss - rss0) / 1048576), pauses: stream.pauses, writtenMs: written, appliedRowsPerSec: Math.round((rows * 1000) / ms) };
    } finally {
      clearInterval(timer);
      await d.oa.abort();
    }
  }

  it('pauses the binlog socket above maxBacklogEvents and resumes below half', async () => {
    const bounded = await burst('burst_a', 60_000, 2000);
    const unbounded = await burst('burst_b', 60_000, 1_000_000_000);
    console.log(`[mysql backpressure] bounded ${JSON.stringify(bounded)}; unbounded ${JSON.stringify(unbounded)}`);
    expect(bounded.pauses).toBeGreaterThan(0);
    // Overshoot = what was already read off the socket when it paused (about 1 MB here).
    expect(bounded.maxBacklog).toBeLessThan(2000 * 2);
    expect(unbounded.pauses).toBe(0);
    expect(unbounded.maxBacklog).toBeGreaterThan(bounded.maxBacklog * 3);
  });

  it('follows the stream across a binlog rotation', async () => {
    await engine.execute('CREATE TABLE rot (id INT PRIMARY KEY, v INT); INSERT INTO rot VALUES (1, 1), (2, 2)');
    const d = await prepareAndCopy(request('rot', 'ADD COLUMN w INT'));
    await engine.execute('UPDATE rot SET v = 10 WHERE id = 1');
    await engine.execute('FLUSH BINARY LOGS');
    await engine.execute('UPDATE rot SET v = 20 WHERE id = 2');
    await engine.execute('INSERT INTO rot VALUES (3, 30)');
    await d.oa.m.waitCaughtUp(10_000);
    expect(d.oa.m.streamStats().appliedPosition).toMatch(/\.\d+:\d+$/);
    await d.oa.m.cutOver();
    await d.oa.cleanup();
    expect((await engine.execute('SELECT id, v FROM rot ORDER BY id')).rows).toEqual([
      { id: 1, v: 10 },
      { id: 2, v: 20 },
      { id: 3, v: 30 },
    ]);
  });

  it('resumes a killed binlog connection from its last safe position', async () => {
    await engine.execute('CREATE TABLE lost (id INT PRIMARY KEY, v INT); INSERT INTO lost VALUES (1, 1), (2, 2), (3, 3)');
    const d = await prepareAndCopy(request('lost', 'ADD COLUMN w INT'));
    const stream = (d.oa.m as unknown as { stream: { restarts: number; zongji: { connection: { threadId: number } } } }).stream;
    await engine.execute('UPDATE lost SET v = 10 WHERE id = 1');
    await d.oa.m.waitCaughtUp(5000);
    await engine.execute('KILL CONNECTION ?', [stream.zongji.connection.threadId]);
    await engine.execute('UPDATE lost SET v = 20 WHERE id = 2');
    await engine.execute('DELETE FROM lost WHERE id = 3');
    await engine.execute('INSERT INTO lost VALUES (4, 4)');
    await d.oa.m.waitCaughtUp(15_000);
    expect(stream.restarts).toBe(1);
    await d.oa.m.cutOver();
    await d.oa.cleanup();
    expect((await engine.execute('SELECT id, v FROM lost ORDER BY id')).rows).toEqual([
      { id: 1, v: 10 },
      { id: 2, v: 20 },
      { id: 4, v: 4 },
    ]);
  });

  it('fails the migration when the table is altered behind its back', async () => {
    await engine.execute('CREATE TABLE ddl (id INT PRIMARY KEY, v INT); INSERT INTO ddl VALUES (1, 1)');
    const err = await driveAlter(url, request('ddl', 'ADD COLUMN w INT'), { afterCopy: async () => void (await engine.execute('ALTER TABLE ddl ADD COLUMN sneaky INT')) }).catch((e: unknown) => e);
    expect((err as GhostwrightError).code).toBe('E_DDL_DURING_ALTER');
    expect((await engine.execute("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '\\_ddl\\_%'")).rows[0]).toEqual({ n: '0' });
  });
});

describe('throttle measurements', () => {
  it.runIf(hasMysqlReplica())('reads status counters and sub-second heartbeat lag per replica (null when unreadable)', async () => {
    await engine.execute('CREATE TABLE hb (id INT PRIMARY KEY)');
    const replicaUrl = withDatabase(mysqlReplicaUrl(), databaseOf(url));
    const bogus = new URL(replicaUrl);
    bogus.port = '1';
    const oa = engine.onlineAlter(request('hb', 'ADD COLUMN w INT'), { replicas: [parseConnectionUrl(replicaUrl), parseConnectionUrl(bogus.toString())], log: silentLogger });
    const replica = await sql(replicaUrl);
    try {
      await oa.preflight(await engine.inspect(engine.tableRef('hb')));
      await oa.createGhost();
      await oa.probe.heartbeat();
      let m = await oa.probe.measure(['Threads_running', 'Threads_connected']);
      for (let i = 0; i < 50 && m.replicas[0]?.lagMs === null; i++) {
        await new Promise((r) => setTimeout(r, 50));
        m = await oa.probe.measure(['Threads_running', 'Threads_connected']);
      }
      expect(m.load.Threads_running).toBeGreaterThan(0);
      expect(m.load.Threads_connected).toBeGreaterThan(0);
      expect(m.replicas[1]).toEqual({ name: `127.0.0.1:1`, lagMs: null });
      expect(m.replicas[0]!.lagMs).not.toBeNull();
      expect(m.replicas[0]!.lagMs!).toBeLessThan(1000);
      // A stopped SQL thread: the replica's heartbeat row ages, the lag grows past what we waited.
      await replica.query('STOP SLAVE SQL_THREAD');
      try {
        await oa.probe.heartbeat();
        await new Promise((r) => setTimeout(r, 600));
        const lagging = await oa.probe.measure([]);
        expect(lagging.replicas[0]!.lagMs!).toBeGreaterThanOrEqual(600);
      } finally {
        await replica.query('START SLAVE SQL_THREAD');
      }
    } finally {
      await replica.end();
      await oa.abort();
    }
  });
});
