/**
 * The ledger against real servers, both engines: migrate from empty, every
 * info state, validate failures, repair, baseline, undo, out-of-order,
 * placeholders, callbacks, clean and the startup version check.
 */
import { describe, expect, it } from 'vitest';
import { baseline, clean, info, migrate, repair, requireSchemaVersion, undo, validate } from '../../src/ledger/index.js';
import { flywayChecksum } from '../../src/ledger/checksum.js';
import { DIALECTS, history, migrationsDir, freshDatabases } from '../fixtures/ledger/helpers.js';

const V1 = 'CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL);\nINSERT INTO users VALUES (1, \'a@x\');\n';
const V2 = "ALTER TABLE users ADD COLUMN status VARCHAR(20) DEFAULT 'active';\nINSERT INTO users (id, email) VALUES (2, 'b@x');\n";
const R_VIEW = 'CREATE OR REPLACE VIEW active_users AS SELECT id, email FROM users WHERE status = \'active\';\n';

describe.each(DIALECTS)('ledger on %s', (dialect) => {
  const fresh = freshDatabases(dialect, 'gw_ledger');

  it('migrates from empty: versioned in order, then repeatables; history and data', async () => {
    const { url, db } = await fresh();
    const m = migrationsDir({ 'V1__Initial_schema.sql': V1, 'V1.1__Add_status.sql': V2, 'R__active_users.sql': R_VIEW });
    const result = await migrate({ url, dir: m.dir });
    expect(result.applied.map((a) => a.script)).toEqual(['V1__Initial_schema.sql', 'V1.1__Add_status.sql', 'R__active_users.sql']);
    expect(result.current).toBe('1.1');
    const rows = await history(db);
    expect(rows.map((r) => [r.installed_rank, r.version, r.description, r.type, r.success])).toEqual([
      [1, '1', 'Initial schema', 'SQL', true],
      [2, '1.1', 'Add status', 'SQL', true],
      [3, null, 'active users', 'SQL', true],
    ]);
    expect(rows[0]!.checksum).toBe(flywayChecksum(V1));
    expect(await db.query('SELECT id, email FROM active_users ORDER BY id')).toEqual([{ id: 1, email: 'a@x' }, { id: 2, email: 'b@x' }]);
    // Re-running is a no-op.
    expect((await migrate({ url, dir: m.dir })).applied).toEqual([]);
    // Changing the repeatable re-applies it, and only it.
    m.write('R__active_users.sql', R_VIEW.replace('SELECT id, email', 'SELECT id, email, status'));
    expect((await info({ url, dir: m.dir })).entries.map((e) => `${e.version ?? e.description}:${e.state}`)).toEqual(['1:success', '1.1:success', 'active users:outdated', 'active users:pending']);
    expect((await migrate({ url, dir: m.dir })).applied.map((a) => a.script)).toEqual(['R__active_users.sql']);
    expect(Object.keys((await db.query('SELECT * FROM active_users'))[0]!).sort()).toEqual(['email', 'id', 'status']);
    const i = await info({ url, dir: m.dir });
    expect(i.entries.map((e) => e.state)).toEqual(['success', 'success', 'superseded', 'success']);
    expect(await requireSchemaVersion(url, '1.1')).toBe('1.1');
    await expect(requireSchemaVersion(url, '2')).rejects.toThrow('schema version 1.1 is below the minimum 2 this application requires');
  });

  it('info states: pending, ignored, out-of-order, missing, future, above-target, deleted', async () => {
    const { url } = await fresh();
    const m = migrationsDir({ 'V1__a.sql': 'CREATE TABLE a (id INT);', 'V3__c.sql': 'CREATE TABLE c (id INT);' });
    await migrate({ url, dir: m.dir });
    m.write('V2__b.sql', 'CREATE TABLE b (id INT);');
    m.write('V4__d.sql', 'CREATE TABLE d (id INT);');
    m.write('V5__e.sql', 'CREATE TABLE e (id INT);');
    const states = async (extra: object = {}) => (await info({ url, dir: m.dir, ...extra })).entries.map((e) => `${e.version}:${e.state}`);
    expect(await states({ target: '4' })).toEqual(['1:success', '3:success', '2:ignored', '4:pending', '5:above-target']);
    // validate: V2 is older than the current version.
    expect((await validate({ url, dir: m.dir })).problems.map((p) => p.message)).toEqual([expect.stringMatching(/^version 2 \(V2__b.sql\) is not applied and older than the current version 3/)]);
    await expect(migrate({ url, dir: m.dir })).rejects.toThrow(/validation failed before migrating/);
    const r = await migrate({ url, dir: m.dir, outOfOrder: true, target: '4' });
    expect(r.applied.map((a) => a.version)).toEqual(['2', '4']);
    expect(await states()).toEqual(['1:success', '3:success', '2:out-of-order', '4:success', '5:pending']);
    m.remove('V3__c.sql');
    m.remove('V5__e.sql');
    m.remove('V4__d.sql');
    // V3 gone but older than the newest file? No file above 2 remains: 3 and 4 are "future" now.
    expect(await states()).toEqual(['1:success', '3:future', '2:out-of-order', '4:future']);
    m.write('V4__d.sql', 'CREATE TABLE d (id INT);');
    expect(await states()).toEqual(['1:success', '3:missing', '2:out-of-order', '4:success']);
    expect((await validate({ url, dir: m.dir })).problems.map((p) => p.message)).toEqual([expect.stringMatching(/^version 3 \(V3__c.sql\) is applied but its file is missing/)]);
    // repair marks it deleted.
    expect(await repair({ url, dir: m.dir })).toEqual({ removedFailed: [], realigned: [], markedDeleted: ['3 (V3__c.sql)'] });
    expect(await states()).toEqual(['1:success', '3:deleted', '2:out-of-order', '4:success']);
    expect((await validate({ url, dir: m.dir })).valid).toBe(true);
  });

  it('validate and migrate refuse a changed applied file; repair realigns the checksum', async () => {
    const { url, db } = await fresh();
    const m = migrationsDir({ 'V1__a.sql': 'CREATE TABLE a (id INT);' });
    await migrate({ url, dir: m.dir });
    m.write('V1__a.sql', 'CREATE TABLE a (id INT); -- edited');
    m.write('V2__b.sql', 'CREATE TABLE b (id INT);');
    const v = await validate({ url, dir: m.dir });
    expect(v.valid).toBe(false);
    expect(v.problems.map((p) => p.message)).toEqual([`version 1 (V1__a.sql) checksum mismatch: applied ${flywayChecksum('CREATE TABLE a (id INT);')}, file ${flywayChecksum('CREATE TABLE a (id INT); -- edited')}`]);
    await expect(migrate({ url, dir: m.dir })).rejects.toThrow(/checksum mismatch/);
    expect((await history(db)).map((r) => r.version)).toEqual(['1']);
    expect(await repair({ url, dir: m.dir })).toMatchObject({ realigned: ['1 (V1__a.sql)'] });
    expect((await history(db))[0]!.checksum).toBe(flywayChecksum('CREATE TABLE a (id INT); -- edited'));
    expect((await migrate({ url, dir: m.dir })).applied.map((a) => a.version)).toEqual(['2']);
  });

  it('baseline: an existing schema is refused until baselined, then only later versions run', async () => {
    const { url, db } = await fresh();
    await db.query('CREATE TABLE legacy (id INT PRIMARY KEY)');
    const m = migrationsDir({ 'V1__legacy.sql': 'CREATE TABLE legacy (id INT PRIMARY KEY);', 'V2__x.sql': 'CREATE TABLE x (id INT);', 'V3__y.sql': 'CREATE TABLE y (id INT);' });
    await expect(migrate({ url, dir: m.dir })).rejects.toMatchObject({ code: 'E_NON_EMPTY_SCHEMA' });
    expect(await baseline({ url, dir: m.dir, baselineVersion: '2' })).toEqual({ version: '2', created: true });
    expect(await baseline({ url, dir: m.dir, baselineVersion: '2' })).toEqual({ version: '2', created: false });
    expect((await info({ url, dir: m.dir })).entries.map((e) => `${e.version}:${e.state}`)).toEqual(['2:baseline', '1:below-baseline', '2:below-baseline', '3:pending']);
    expect((await migrate({ url, dir: m.dir })).applied.map((a) => a.version)).toEqual(['3']);
    await expect(baseline({ url, dir: m.dir, baselineVersion: '5' })).rejects.toMatchObject({ code: 'E_BASELINE_NOT_EMPTY' });

    const other = await fresh();
    await other.db.query('CREATE TABLE legacy (id INT PRIMARY KEY)');
    const r = await migrate({ url: other.url, dir: m.dir, baselineOnMigrate: true, baselineVersion: '1' });
    expect(r.baselined).toBe('1');
    expect(r.applied.map((a) => a.version)).toEqual(['2', '3']);
  });

  it('undo runs U files in reverse order and records them; the versions are pending again', async () => {
    const { url, db } = await fresh();
    const m = migrationsDir({
      'V1__a.sql': 'CREATE TABLE a (id INT);',
      'V2__b.sql': 'CREATE TABLE b (id INT);',
      'V3__c.sql': 'CREATE TABLE c (id INT);',
      'U2__drop_b.sql': 'DROP TABLE b;',
      'U3__drop_c.sql': 'DROP TABLE c;',
    });
    await migrate({ url, dir: m.dir });
    const one = await undo({ url, dir: m.dir });
    expect(one).toMatchObject({ undone: [{ version: '3', script: 'U3__drop_c.sql' }], current: '2' });
    await migrate({ url, dir: m.dir });
    const two = await undo({ url, dir: m.dir, target: '1' });
    expect(two.undone.map((u) => u.version)).toEqual(['3', '2']);
    expect(two.current).toBe('1');
    const tables = dialect === 'mysql' ? await db.query<{ t: string }>('SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1') : await db.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
    expect(tables.map((t) => t.t)).toEqual(['a', 'ghostwright_schema_history', 'ghostwright_schema_history_progress']);
    const rows = await history(db);
    expect(rows.filter((r) => r.type === 'UNDO_SQL').map((r) => [r.version, r.script])).toEqual([['3', 'U3__drop_c.sql'], ['3', 'U3__drop_c.sql'], ['2', 'U2__drop_b.sql']]);
    const states = (await info({ url, dir: m.dir })).entries.map((e) => `${e.category}:${e.version}:${e.state}`);
    expect(states).toEqual([
      'versioned:1:success', 'versioned:2:undone', 'versioned:3:undone', 'undo:3:success', 'versioned:3:undone', 'undo:3:success', 'undo:2:success', 'versioned:2:pending', 'versioned:3:pending',
    ]);
    await expect(undo({ url, dir: m.dir, target: '0' })).rejects.toMatchObject({ code: 'E_NO_UNDO' });
    expect((await migrate({ url, dir: m.dir })).applied.map((a) => a.version)).toEqual(['2', '3']);
  });

  it('placeholders from options; an unknown one refuses before anything runs', async () => {
    const { url, db } = await fresh();
    const m = migrationsDir({ 'V1__p.sql': "CREATE TABLE ${table_name} (id INT, note VARCHAR(50) DEFAULT '${note}');\nINSERT INTO ${table_name} (id) VALUES (1);" });
    await migrate({ url, dir: m.dir, placeholders: { table_name: 'widgets', note: 'from ${env}'.replace('${env}', 'ci') } });
    expect(await db.query('SELECT id, note FROM widgets')).toEqual([{ id: 1, note: 'from ci' }]);
    m.write('V2__q.sql', 'CREATE TABLE ${missing} (id INT);');
    await expect(migrate({ url, dir: m.dir, placeholders: { table_name: 'widgets', note: 'x' } })).rejects.toThrow('V2__q.sql:1: no value for placeholder ${missing}');
    expect((await history(db)).map((r) => r.version)).toEqual(['1']);
  });

  it('SQL text is sent as written: ? and $1 inside strings are not parameters', async () => {
    const { url, db } = await fresh();
    const m = migrationsDir({ 'V1__q.sql': "CREATE TABLE q (n INT, s VARCHAR(20));\nINSERT INTO q VALUES (1, 'why?'), (2, '$1 and ?');" });
    await migrate({ url, dir: m.dir });
    expect(await db.query('SELECT n, s FROM q ORDER BY n')).toEqual([{ n: 1, s: 'why?' }, { n: 2, s: '$1 and ?' }]);
  });

  it('callbacks: beforeMigrate, beforeEachMigrate, afterEachMigrate, afterMigrate, afterMigrateError', async () => {
    const { url, db } = await fresh();
    const log = (what: string) => `INSERT INTO cb_log (event) VALUES ('${what}');`;
    const m = migrationsDir({
      'beforeMigrate.sql': `CREATE TABLE IF NOT EXISTS cb_log (n ${dialect === 'mysql' ? 'INT AUTO_INCREMENT PRIMARY KEY' : 'SERIAL PRIMARY KEY'}, event VARCHAR(40));\n${log('before')}`,
      'beforeEachMigrate.sql': log('beforeEach'),
      'afterEachMigrate.sql': log('afterEach'),
      'afterMigrate.sql': log('after'),
      'afterMigrateError.sql': log('error'),
      'V1__a.sql': 'CREATE TABLE a (id INT);',
      'V2__b.sql': 'CREATE TABLE b (id INT);',
    });
    await migrate({ url, dir: m.dir });
    const events = async () => (await db.query<{ event: string }>('SELECT event FROM cb_log ORDER BY n')).map((r) => r.event);
    expect(await events()).toEqual(['before', 'beforeEach', 'afterEach', 'beforeEach', 'afterEach', 'after']);
    await db.query('DELETE FROM cb_log');
    m.write('V3__bad.sql', 'CREATE TABLE a (id INT);');
    await expect(migrate({ url, dir: m.dir })).rejects.toThrow(/V3__bad.sql: statement 1 of 1/);
    expect(await events()).toEqual(['before', 'beforeEach', 'error']);
  });

  it('clean is refused unless enabled, then drops every table and view', async () => {
    const { url, db } = await fresh();
    const extra = dialect === 'mysql'
      ? 'DELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END//\nDELIMITER ;\n'
      : "CREATE TYPE mood AS ENUM ('ok');\nCREATE SEQUENCE s;\nCREATE FUNCTION f(x int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN x; END; $$;\n";
    const m = migrationsDir({ 'V1__a.sql': `CREATE TABLE a (id INT PRIMARY KEY);\nCREATE TABLE b (id INT PRIMARY KEY, a_id INT REFERENCES a(id));\nCREATE VIEW v AS SELECT id FROM a;\n${extra}` });
    await migrate({ url, dir: m.dir });
    await expect(clean({ url, dir: m.dir })).rejects.toMatchObject({ code: 'E_CLEAN_DISABLED', exitCode: 2 });
    const result = await clean({ url, dir: m.dir, cleanEnabled: true });
    expect(result.dropped).toEqual(expect.arrayContaining(['table a', 'table b', 'view v', 'table ghostwright_schema_history', ...(dialect === 'mysql' ? ['procedure p'] : ['type mood', 'sequence s', 'function f(integer)'])]));
    const left = dialect === 'mysql' ? await db.query('SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()') : await db.query("SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'");
    expect(left).toEqual([]);
    const routines = dialect === 'mysql' ? await db.query('SELECT routine_name FROM information_schema.routines WHERE routine_schema = DATABASE()') : await db.query("SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'");
    expect(routines).toEqual([]);
    if (dialect === 'postgres') expect(await db.query("SELECT typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public'")).toEqual([]);
    expect((await migrate({ url, dir: m.dir })).applied).toHaveLength(1);
  });
});
