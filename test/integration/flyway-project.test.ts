/**
 * Issue #16 item 4 (Flyway part): examples/flyway-project, a Flyway 10
 * project (flyway.toml, sql/V1__...sql, a repeatable, a placeholder), runs
 * unchanged with `ghostwright migrate` in its folder on both engines, with
 * the connection given the way a Flyway pipeline gives it: FLYWAY_URL as a
 * JDBC URL, FLYWAY_USER and FLYWAY_PASSWORD. Then Flyway's own command-line
 * style (`-url=jdbc:... -user=... info`) reads the same history.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropDatabase, freshDatabase, sql, type TestDialect, type TestSql } from '../helpers/servers.js';

const BIN = fileURLToPath(new URL('../../bin/ghostwright', import.meta.url));
const PROJECT = fileURLToPath(new URL('../../examples/flyway-project', import.meta.url));

describe.each<TestDialect>(['mysql', 'postgres'])('%s: a Flyway project runs unchanged', (dialect) => {
  let url: string;
  let db: TestSql;
  let jdbc: string;
  let user: string;
  let password: string;

  beforeAll(async () => {
    url = await freshDatabase(dialect, `gw_flyway_${dialect}`);
    db = await sql(url);
    const u = new URL(url);
    jdbc = `jdbc:${dialect === 'mysql' ? 'mysql' : 'postgresql'}://${u.host}${u.pathname}`;
    user = decodeURIComponent(u.username);
    password = decodeURIComponent(u.password);
  });

  afterAll(async () => {
    await db?.end();
    if (url) await dropDatabase(url);
  });

  const run = (args: string[], env: Record<string, string>) =>
    spawnSync(process.execPath, [BIN, ...args], {
      cwd: PROJECT,
      encoding: 'utf8',
      env: { ...process.env, MYSQL_PWD: '', PGPASSWORD: '', GHOSTWRIGHT_URL: '', ...env },
      timeout: 60_000,
    });

  it('ghostwright migrate in the folder, FLYWAY_* from the environment', async () => {
    const r = run(['migrate', '--json'], { FLYWAY_URL: jdbc, FLYWAY_USER: user, FLYWAY_PASSWORD: password });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'done', current: '3', applied: [{ version: '1' }, { version: '2' }, { version: '3' }, { script: 'R__order_totals.sql' }] });
    const rows = await db.query<Record<string, unknown>>('SELECT id, customer, amount, currency, status FROM orders ORDER BY id');
    expect(rows.map((o) => [Number(o.id), o.customer, String(o.amount), o.currency, o.status])).toEqual([
      [1, 'ada', '10.50', 'EUR', 'new'],
      [2, 'grace', '99.99', 'EUR', 'new'],
    ]);
    // Flyway's history table, where a Flyway project keeps it.
    const history = await db.query<Record<string, unknown>>('SELECT version, script, success FROM flyway_schema_history ORDER BY installed_rank');
    expect(history.map((h) => h.script)).toEqual(['V1__create_orders.sql', 'V2__seed_orders.sql', 'V3__add_status.sql', 'R__order_totals.sql']);
    expect(Number(await db.value("SELECT COUNT(*) FROM order_totals WHERE customer = 'ada'"))).toBe(1);
  });

  it("Flyway's own argument style: -url=jdbc:... -user=... -password=... info", () => {
    const r = run([`-url=${jdbc}`, `-user=${user}`, `-password=${password}`, '-locations=filesystem:sql', 'info', '--json'], {});
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ command: 'info', current: '3' });
    expect(r.stderr).toMatch(/warning: a password is in the command line \(-password\)/);
  });
});
