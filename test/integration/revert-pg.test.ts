/**
 * `alter --revert` on PostgreSQL, real servers: a forward ALTER run with
 * --revert-window keeps its slot after the cut-over; the revert, under the
 * same concurrent write load (inserts, updates, key updates, deletes into
 * the NEW table since the cut-over), ends with the OLD shape equal, row for
 * row (md5 per row), to the mirror the load wrote in the same transactions.
 * And the refusals (exit 2), each leaving both tables as they were; an
 * expired window is dropped and reported by doctor and cleanup.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOnlineAlter, runRevert } from '../../src/alter.js';
import { alterOptions, type AlterOptions } from '../../src/core/options.js';
import type { AlterReport } from '../../src/core/report.js';
import { createLogger } from '../../src/log.js';
import { cli } from '../helpers/cli.js';
import { diffDigests, MirroredLoad, rowDigests } from '../helpers/pg-load.js';
import { openPgFixture, type PgFixture } from '../helpers/pg-fixture.js';
import { expectDone, expectRefused } from '../helpers/reports.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HOUR = 3_600_000;
const level = process.env.GHOSTWRIGHT_TEST_LOG as 'debug' | 'info' | undefined;
const deps = () => (level ? { log: createLogger({ level }) } : {});

function options(url: string, table: string, alter: string, extra: Partial<AlterOptions> = {}): AlterOptions {
  return alterOptions({ url, table, alter, execute: true, chunkSize: 500, threads: 2, cutOverLockTimeoutMs: 2000, replicas: [], replicaDiscovery: false, ...extra });
}

describe('revert after cut-over on postgres (--revert-window)', () => {
  let fx: PgFixture;
  let url: string;
  let db: pg.Client;
  const forward = (table: string, alter: string, extra: Partial<AlterOptions> = {}) => runOnlineAlter(options(url, table, alter, { revertWindowMs: HOUR, ...extra }), deps());
  const revert = (table: string, extra: Partial<AlterOptions> = {}) => runRevert(options(url, table, '', extra), deps());
  const q = async <T = Record<string, unknown>>(text: string, params: unknown[] = []) => (await db.query(text, params)).rows as T[];
  const columns = async (t: string) => (await q<{ n: string; t: string }>(`SELECT attname AS n, format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, [t])).map((c) => `${c.n} ${c.t}`);
  const comment = async (t: string) => (await q<{ c: string | null }>(`SELECT obj_description($1::regclass, 'pg_class') AS c`, [t]))[0]!.c;
  const point = async (t: string) => JSON.parse((await comment(t))!) as { slot: string; publication: string; expires: string; table: string };
  const slotExists = async (slot: string) => (await q(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [slot])).length === 1;
  const pubExists = async (pub: string) => (await q(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [pub])).length === 1;
  const published = async (pub: string) => (await q<{ t: string }>(`SELECT tablename::text AS t FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1`, [pub])).map((r) => r.t);
  const expire = async (t: string) => {
    const p = JSON.parse((await comment(t))!) as Record<string, unknown>;
    p.expires = new Date(Date.now() - 1000).toISOString();
    const s = (await q<{ s: string }>(`SELECT format('COMMENT ON TABLE %I IS %L', $1::text, $2::text) AS s`, [t, JSON.stringify(p)]))[0]!.s;
    await db.query(s);
  };
  const simple = async (t: string) => {
    await db.query(`CREATE TABLE ${t} (id bigint PRIMARY KEY, v int NOT NULL, s varchar(60))`);
    await db.query(`INSERT INTO ${t} VALUES (1, 1, 'a'), (2, 2, NULL)`);
  };

  beforeAll(async () => {
    fx = await openPgFixture('revert_pg_win');
    ({ url, db } = fx);
  });
  afterAll(async () => {
    // A database with a logical slot can't be dropped: whatever a failed case kept goes first.
    await db?.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database() AND NOT active`).catch(() => undefined);
    await fx?.close();
  });

  it('postgres: a revert under load ends with the old shape holding every committed write', async () => {
    const N = 4000;
    for (const t of ['ord', 'ord_mirror']) {
      await db.query(`CREATE TABLE ${t} (id bigint PRIMARY KEY, qty int NOT NULL, note text, price numeric(12,4))`);
      await db.query(`INSERT INTO ${t} SELECT g, g % 1000, 'n' || g, g * 1.5 FROM generate_series(1, ${N}) g`);
    }
    await db.query(`CREATE INDEX ord_qty ON ord (qty); COMMENT ON TABLE ord IS 'orders of the shop'; ANALYZE ord`);
    // A trigger that records who fired it: the revert's writes into the old table must not fire the old table's copy.
    await db.query(`CREATE TABLE fired (app text NOT NULL);
      CREATE FUNCTION note_fired() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO fired VALUES (current_setting('application_name')); RETURN NULL; END $$;
      CREATE TRIGGER ord_fired AFTER INSERT OR UPDATE OR DELETE ON ord FOR EACH ROW EXECUTE FUNCTION note_fired()`);
    const original = await columns('ord');
    const load = new MirroredLoad({ url, table: 'ord', mirror: 'ord_mirror', workers: 2, firstNewId: N + 1, maxExistingId: N, pauseMs: 3 });
    load.start();
    let back: AlterReport;
    let slot: string;
    let pub: string;
    try {
      await sleep(200);
      const fwd = await forward('ord', "ADD COLUMN added text NOT NULL DEFAULT 'x', ADD COLUMN extra int");
      expectDone(fwd);
      expect(fwd.oldTable).toBe('_ord_del');
      const p = await point('_ord_del');
      ({ slot, publication: pub } = p);
      expect(p.table).toBe('ord');
      expect(Date.parse(p.expires) - Date.now()).toBeGreaterThan(HOUR - 120_000);
      // The slot and publication stay, now publishing the new table only; the copy's origins and the changelog are gone.
      expect(await slotExists(slot)).toBe(true);
      expect(await published(pub)).toEqual(['ord']);
      expect(await q(`SELECT roname FROM pg_replication_origin WHERE starts_with(roname, $1)`, [slot])).toEqual([]);
      expect(await q(`SELECT 1 FROM pg_class WHERE relname = '_ord_ghc'`)).toEqual([]);
      // Writes land in the new table for a while before the revert.
      await sleep(1500);
      const dry = await revert('ord', { execute: false });
      expect(dry.error).toBeUndefined();
      expect(dry.status).toBe('dry-run');
      expect(dry.revert).toMatchObject({ oldTable: '_ord_del', columns: ['id', 'qty', 'note', 'price'], defaulted: [] });
      expect(await columns('ord')).toContain('added text');
      back = await revert('ord');
      // Writers blocked behind the swap land in the old shape: let them run a little more.
      await sleep(500);
    } finally {
      await load.stop();
    }
    expectDone(back);
    console.log(`[pg revert] ${back.eventsApplied} row changes applied since the cut-over; stall ${back.cutOverStallMs} ms; verify ${JSON.stringify(back.verify)}; load ${JSON.stringify(load.stats)}`);
    expect(load.stats.commits).toBeGreaterThan(50);
    expect(back.eventsApplied).toBeGreaterThan(0);
    expect(back.verify?.rows).toBeGreaterThan(3000);
    // A re-copied chunk would hide a stream that missed writes: none may differ.
    expect(back.verify?.recopiedChunks).toBe(0);
    expect(back.oldTable).toBe('_ord_del');
    expect(await columns('ord')).toEqual(original);
    expect(await comment('ord')).toBe('orders of the shop');
    expect(await columns('_ord_del')).toContain('added text');
    const cols = ['id', 'qty', 'note', 'price'];
    const expected = await rowDigests(db, 'ord_mirror', 'id', cols);
    const actual = await rowDigests(db, 'ord', 'id', cols);
    expect(expected.size).toBeGreaterThan(3000);
    expect(diffDigests(expected, actual)).toEqual([]);
    // Indexes have their names from before the forward cut-over; the window is closed.
    expect((await q<{ n: string }>(`SELECT indexname AS n FROM pg_indexes WHERE tablename = 'ord' ORDER BY 1`)).map((r) => r.n)).toEqual(['ord_pkey', 'ord_qty']);
    expect(await slotExists(slot!)).toBe(false);
    expect(await pubExists(pub!)).toBe(false);
    expect(await q(`SELECT 1 FROM pg_class WHERE relname = '_ord_gho'`)).toEqual([]);
    // The trigger is on the table again, once, enabled; it never fired for the tool's own sessions.
    expect(await q(`SELECT tgrelid::regclass::text AS t, tgenabled AS e FROM pg_trigger WHERE tgname = 'ord_fired' ORDER BY 1`)).toEqual([
      { t: '_ord_del', e: 'O' },
      { t: 'ord', e: 'O' },
    ]);
    expect(await q(`SELECT DISTINCT app FROM fired WHERE app LIKE 'ghostwright%'`)).toEqual([]);
    expect(Number((await q<{ n: string }>(`SELECT count(*) AS n FROM fired`))[0]!.n)).toBeGreaterThan(100);
  });

  it('postgres: a table keyed by a unique index only stays writable in the window, and reverts', async () => {
    await db.query(`CREATE TABLE uk (id bigint NOT NULL, v int NOT NULL); CREATE UNIQUE INDEX uk_id ON uk (id); INSERT INTO uk SELECT g, g FROM generate_series(1, 50) g`);
    expectDone(await forward('uk', 'ADD COLUMN c int'));
    // Published, the new table needs a replica identity naming the key: else these would fail.
    await db.query(`UPDATE uk SET v = 100, c = 1 WHERE id = 1; DELETE FROM uk WHERE id = 2; INSERT INTO uk VALUES (51, 51, 5); UPDATE uk SET id = 52 WHERE id = 3`);
    expectDone(await revert('uk'));
    expect(await columns('uk')).toEqual(['id bigint', 'v integer']);
    const rows = await q<{ id: string; v: number }>(`SELECT id::text, v FROM uk WHERE id IN (1, 2, 3, 51, 52) ORDER BY id`);
    expect(rows).toEqual([{ id: '1', v: 100 }, { id: '51', v: 51 }, { id: '52', v: 3 }]);
    expect(Number((await q<{ n: string }>(`SELECT count(*) AS n FROM uk`))[0]!.n)).toBe(50);
    expect((await q(`SELECT relreplident AS r FROM pg_class WHERE oid = 'uk'::regclass`))[0]).toEqual({ r: 'd' });
  });

  it('postgres: a revert stopped before its swap leaves both tables and the window as they were; the next one finishes', async () => {
    await simple('stp');
    await db.query(`CREATE OR REPLACE FUNCTION stp_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.s := coalesce(NEW.s, '') || '!'; RETURN NEW; END $$;
      CREATE TRIGGER stp_touch BEFORE INSERT OR UPDATE ON stp FOR EACH ROW EXECUTE FUNCTION stp_touch()`);
    expectDone(await forward('stp', 'ADD COLUMN c int'));
    const before = await comment('_stp_del');
    const { slot } = await point('_stp_del');
    await db.query(`INSERT INTO stp VALUES (3, 3, 'x', 1); UPDATE stp SET v = 20 WHERE id = 2; DELETE FROM stp WHERE id = 1`);
    const stop = new AbortController();
    stop.abort();
    const r = await runRevert(options(url, 'stp', ''), { ...deps(), signal: stop.signal });
    expect(r.status).not.toBe('done');
    expect(r.error?.code).toBe('E_INTERRUPTED');
    expect(await columns('stp')).toEqual(['id bigint', 'v integer', 's character varying(60)', 'c integer']);
    expect(await comment('_stp_del')).toBe(before);
    expect(await slotExists(slot)).toBe(true);
    // The old table's trigger was disabled for the apply, and is enabled again.
    expect(await q(`SELECT tgrelid::regclass::text AS t, tgenabled AS e FROM pg_trigger WHERE tgname = 'stp_touch' ORDER BY 1`)).toEqual([
      { t: '_stp_del', e: 'O' },
      { t: 'stp', e: 'O' },
    ]);
    expectDone(await revert('stp'));
    expect(await columns('stp')).toEqual(['id bigint', 'v integer', 's character varying(60)']);
    // Rows as the new table held them: the trigger ran once, on the application's write, never on the replay.
    expect(await q(`SELECT id::text, v, s FROM stp ORDER BY id`)).toEqual([
      { id: '2', v: 20, s: '!' },
      { id: '3', v: 3, s: 'x!' },
    ]);
    expect(await slotExists(slot)).toBe(false);
  });

  it('postgres: reverts to the newest stamped old table (--timestamp-old-table) beside an older _t_del', async () => {
    await simple('stm');
    await db.query(`CREATE INDEX stm_v ON stm (v)`);
    expectDone(await forward('stm', 'ADD COLUMN c int', { revertWindowMs: null }));
    expectDone(await forward('stm', 'ADD COLUMN d int', { timestampOldTable: true }));
    const [kept] = await q<{ n: string }>(`SELECT relname AS n FROM pg_class WHERE relname ~ '^_stm_[0-9]{14}_del$'`);
    await db.query(`UPDATE stm SET v = 7, d = 1 WHERE id = 1; INSERT INTO stm VALUES (3, 3, 'z', 4, 5)`);
    const r = await revert('stm');
    expectDone(r);
    expect(r.oldTable).toBe(kept!.n);
    expect(await columns('stm')).toEqual(['id bigint', 'v integer', 's character varying(60)', 'c integer']);
    expect(await q(`SELECT id::text, v, s, c FROM stm ORDER BY id`)).toEqual([
      { id: '1', v: 7, s: 'a', c: null },
      { id: '2', v: 2, s: null, c: null },
      { id: '3', v: 3, s: 'z', c: 4 },
    ]);
    expect((await q<{ n: string }>(`SELECT indexname AS n FROM pg_indexes WHERE tablename = 'stm' ORDER BY 1`)).map((x) => x.n)).toEqual(['stm_pkey', 'stm_v']);
    // The first cut-over's old table is untouched.
    expect(await columns('_stm_del')).toEqual(['id bigint', 'v integer', 's character varying(60)']);
  });

  it('postgres: refuses without --revert-window (exit 2), leaving both tables as they were', async () => {
    await simple('nowin');
    expectDone(await forward('nowin', 'ADD COLUMN c int', { revertWindowMs: null }));
    expect(await comment('_nowin_del')).toBeNull();
    const run = await cli(['alter', '--url', url, '--table', 'nowin', '--revert', '--execute', '--json']);
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toMatchObject({ command: 'alter', status: 'refused', error: { code: 'E_REVERT_NO_WINDOW' } });
    expect(await columns('nowin')).toEqual(['id bigint', 'v integer', 's character varying(60)', 'c integer']);
    expect(await columns('_nowin_del')).toEqual(['id bigint', 'v integer', 's character varying(60)']);
  });

  it('postgres: an expired window: doctor fails naming cleanup, the revert refuses and drops the slot', async () => {
    await simple('exp');
    const fwd = await cli(['alter', '--url', url, '--table', 'exp', '--alter', 'ADD COLUMN c int', '--revert-window', '1h', '--execute', '--json', '--replica', 'none']);
    expect(fwd.code).toBe(0);
    const { slot, publication } = await point('_exp_del');
    expect(await slotExists(slot)).toBe(true);
    await db.query(`INSERT INTO exp VALUES (3, 3, 'after', 9)`);
    await expire('_exp_del');
    const doctor = await cli(['doctor', '--url', url, '--json']);
    expect(doctor.code).toBe(2);
    const check = (JSON.parse(doctor.stdout) as { checks: { id: string; ok: boolean; fix?: string }[] }).checks.find((c) => c.id === 'revert-windows');
    expect(check?.ok).toBe(false);
    expect(check?.fix).toContain('ghostwright cleanup --url');
    expect(check?.fix).toContain('--table public.exp --execute');
    const r = await revert('exp');
    expectRefused(r, 'E_REVERT_WINDOW');
    expect(r.error?.message).toMatch(/ended at/);
    expect(r.error?.message).toContain(`dropped slot ${slot}`);
    expect(await slotExists(slot)).toBe(false);
    expect(await pubExists(publication)).toBe(false);
    expect(await comment('_exp_del')).toBeNull();
    expect(await columns('exp')).toEqual(['id bigint', 'v integer', 's character varying(60)', 'c integer']);
    expect((await q(`SELECT count(*)::int AS n FROM exp`))[0]).toEqual({ n: 3 });
  });

  it('postgres: cleanup --execute drops an expired revert slot and says so', async () => {
    await simple('cln');
    expectDone(await forward('cln', 'ADD COLUMN c int'));
    const { slot, publication } = await point('_cln_del');
    await expire('_cln_del');
    const run = await cli(['cleanup', '--url', url, '--table', 'cln', '--execute']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`removed: slot ${slot}`);
    expect(run.stdout).toMatch(/revert window ended/);
    expect(await slotExists(slot)).toBe(false);
    expect(await pubExists(publication)).toBe(false);
    expect(await comment('_cln_del')).toBeNull();
    expect(await columns('_cln_del')).toEqual(['id bigint', 'v integer', 's character varying(60)']);
  });

  it('postgres: a kept revert slot counts against --max-retained-wal-mb of a later alter; doctor lists it', async () => {
    await simple('wal1');
    await simple('wal2');
    expectDone(await forward('wal1', 'ADD COLUMN c int'));
    const { slot } = await point('_wal1_del');
    await db.query(`INSERT INTO wal1 SELECT g, g, 'x' FROM generate_series(10, 2000) g`);
    const r = await runOnlineAlter(options(url, 'wal2', 'ADD COLUMN c int', { throttle: { maxRetainedWalBytes: 0 } as AlterOptions['throttle'] }), deps());
    expectRefused(r, 'E_PREFLIGHT_REVERT_WINDOWS');
    expect(r.error?.message).toContain(`${slot} (alter --revert of public.wal1) retains`);
    expect(r.error?.message).toContain('above --max-retained-wal-mb 0');
    expect(r.error?.hint).toContain('ghostwright cleanup --url <URL> --table public.wal1 --execute');
    expect(await columns('wal2')).toEqual(['id bigint', 'v integer', 's character varying(60)']);
    // Within the window and the default limit: reported, not failed.
    const doctor = await cli(['doctor', '--url', url, '--json']);
    const check = (JSON.parse(doctor.stdout) as { checks: { id: string; ok: boolean; detail: string }[] }).checks.find((c) => c.id === 'revert-windows');
    expect(check?.ok).toBe(true);
    expect(check?.detail).toContain(`${slot} (alter --revert of public.wal1)`);
    expect(check?.detail).toContain('window open until');
    expect((await cli(['cleanup', '--url', url, '--table', 'wal1', '--execute'])).code).toBe(0);
    expect(await slotExists(slot)).toBe(false);
  });

  it('postgres: refuses a narrowed type, leaving both tables and the window as they were', async () => {
    await simple('nar');
    expectDone(await forward('nar', 'ALTER COLUMN v TYPE bigint, ALTER COLUMN s TYPE varchar(200)'));
    const before = await comment('_nar_del');
    const { slot } = await point('_nar_del');
    const run = await cli(['alter', '--url', url, '--table', 'nar', '--revert', '--execute', '--json']);
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toMatchObject({ command: 'alter', status: 'refused', error: { code: 'E_REVERT_SHAPE', details: { columns: ['v', 's'] } } });
    expect(await columns('nar')).toEqual(['id bigint', 'v bigint', 's character varying(200)']);
    expect(await comment('_nar_del')).toBe(before);
    expect(await slotExists(slot)).toBe(true);
    // Ending the window on purpose: cleanup (the old table stays without --drop-old-table).
    expect((await cli(['cleanup', '--url', url, '--table', 'nar', '--execute'])).code).toBe(0);
    expect(await slotExists(slot)).toBe(false);
    expect(await columns('_nar_del')).toEqual(['id bigint', 'v integer', 's character varying(60)']);
  });
});
