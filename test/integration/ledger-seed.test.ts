/**
 * The seed chapter's own examples (41.1 Flyway structure, 41.5 expand phase
 * with CREATE INDEX CONCURRENTLY in the middle of a file), run as written on
 * PostgreSQL from test/fixtures/ledger/seed-postgres, plus their lint report.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { flywayChecksum } from '../../src/ledger/checksum.js';
import { info, lint, migrate, undo } from '../../src/ledger/index.js';
import { dropDatabase, freshDatabase, sql, type TestSql } from '../helpers/servers.js';
import { history } from '../fixtures/ledger/helpers.js';

const DIR = fileURLToPath(new URL('../fixtures/ledger/seed-postgres/', import.meta.url));

describe('seed chapter migrations on postgres', () => {
  let url = '';
  let db: TestSql | undefined;
  afterAll(async () => {
    await db?.end().catch(() => undefined);
    if (url) await dropDatabase(url).catch(() => undefined);
  });

  it('migrates, undoes V4 with U4, and finishes the expand phase with data checked', async () => {
    url = await freshDatabase('postgres', 'gw_ledger_seed');
    db = await sql(url);
    const placeholders = { min_total: '0' };
    const first = await migrate({ url, dir: DIR, target: '4', placeholders });
    expect(first.applied.map((a) => a.script)).toEqual(['V1__Initial_schema.sql', 'V2__Add_user_preferences.sql', 'V3__Create_payment_indexes.sql', 'V4__Add_order_status.sql', 'R__Recent_orders_view.sql']);
    await db.query("INSERT INTO users (email) VALUES ('a@x'), ('b@x'), ('c@x')");
    expect(await undo({ url, dir: DIR })).toMatchObject({ undone: [{ version: '4', script: 'U4__Rollback_order_status.sql' }], current: '3' });
    expect(await db.value("SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'status'")).toBe('0');

    const rest = await migrate({ url, dir: DIR, placeholders });
    expect(rest.applied.map((a) => a.script)).toEqual(['V4__Add_order_status.sql', 'V10__add_user_status.sql']);
    expect(rest.current).toBe('10');
    expect(await db.query('SELECT email, status FROM users ORDER BY id')).toEqual([{ email: 'a@x', status: 'active' }, { email: 'b@x', status: 'active' }, { email: 'c@x', status: 'active' }]);
    await db.query("INSERT INTO orders (user_id, total) VALUES (1, 5), (2, 7)");
    expect(await db.query('SELECT user_id, total FROM recent_orders ORDER BY id')).toEqual([{ user_id: 1, total: '5.00' }, { user_id: 2, total: '7.00' }]);
    expect(await db.value("SELECT is_nullable FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'status'")).toBe('NO');
    expect(await db.value("SELECT indisvalid::text FROM pg_index WHERE indexrelid = 'idx_users_status'::regclass")).toBe('true');
    expect(await db.value("SELECT preferences::text FROM users WHERE email = 'a@x'")).toBe('{}');

    // The recorded checksums are Flyway's numbers for these files.
    const rows = await history(db);
    for (const r of rows.filter((x) => x.type === 'SQL')) expect(r.checksum, r.script).toBe(flywayChecksum(readFileSync(join(DIR, r.script), 'utf8')));
    const states = (await info({ url, dir: DIR })).entries.map((e) => `${e.version ?? e.description}:${e.state}`);
    expect(states).toEqual(['1:success', '2:success', '3:success', '4:undone', '4:success', '4:success', '10:success', 'Recent orders view:success']);
  });

  it('lints the seed folder: the expand phase\'s SET NOT NULL is refused, the rest are warnings', async () => {
    const files = readdirSync(DIR).filter((f) => /^[VUR]/.test(f)).map((f) => join(DIR, f));
    const findings = await lint(files, { dialect: 'postgres' });
    const got = findings.map((f) => `${basename(f.file)}:${f.line}:${f.id}:${f.severity}`).sort();
    expect(got).toEqual([
      'U4__Rollback_order_status.sql:1:drop-column:warn',
      'U4__Rollback_order_status.sql:1:missing-lock-timeout:warn',
      'V10__add_user_status.sql:15:set-not-null:refuse',
      'V10__add_user_status.sql:2:missing-lock-timeout:warn',
      'V2__Add_user_preferences.sql:1:missing-lock-timeout:warn',
      'V4__Add_order_status.sql:1:missing-lock-timeout:warn',
    ]);
  });
});
