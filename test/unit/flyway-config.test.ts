import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromFlywayArgs } from '../../src/cli/flyway-args.js';
import { loadLedgerConfig } from '../../src/ledger/config.js';
import { tempDir } from '../helpers/tmp.js';
import { flywayFromEnv, fromJdbcUrl, locationsToDir, parseFlywayConf, parseFlywayToml } from '../../src/ledger/flyway.js';

describe('Flyway configuration', () => {
  it('reads flyway.toml: the chosen environment, [flyway] settings and placeholders', () => {
    const s = parseFlywayToml(`
[environments.dev]
url = "jdbc:mysql://db:3306/shop"
user = "app"
password = "pw"
[flyway]
environment = "dev"
locations = ["filesystem:db/sql"]
outOfOrder = true
validateOnMigrate = false
table = "my_history"
[flyway.placeholders]
env = "dev"
`);
    expect(s).toEqual({ url: 'jdbc:mysql://db:3306/shop', user: 'app', password: 'pw', dir: 'db/sql', outOfOrder: true, validateOnMigrate: false, table: 'my_history', placeholders: { env: 'dev' } });
    expect(() => parseFlywayToml('[flyway]\nenvironment = "prod"\n')).toThrow(/no \[environments.prod\]/);
    expect(() => parseFlywayToml('url = ')).toThrow(/not valid TOML/);
  });

  it('reads flyway.conf (Java properties)', () => {
    const s = parseFlywayConf('# comment\nflyway.url=jdbc:postgresql://h/db\nflyway.user = u\nflyway.locations=filesystem:sql\nflyway.placeholders.tenant=acme\nflyway.baselineOnMigrate=true\n');
    expect(s).toEqual({ url: 'jdbc:postgresql://h/db', user: 'u', dir: 'sql', baselineOnMigrate: true, placeholders: { tenant: 'acme' } });
  });

  it('reads FLYWAY_* variables', () => {
    expect(flywayFromEnv({ FLYWAY_URL: 'jdbc:mariadb://h/db', FLYWAY_PASSWORD: 'x', FLYWAY_LOCATIONS: 'filesystem:m', FLYWAY_PLACEHOLDERS_REGION: 'eu' })).toEqual({
      url: 'jdbc:mariadb://h/db',
      password: 'x',
      dir: 'm',
      placeholders: { region: 'eu' },
    });
  });

  it('converts JDBC URLs, taking user and password out of the parameters', () => {
    expect(fromJdbcUrl('jdbc:postgresql://h:5432/db?user=u&password=p%40ss&sslmode=require')).toEqual({ url: 'postgres://h:5432/db?sslmode=require', user: 'u', password: 'p@ss' });
    expect(fromJdbcUrl('jdbc:mariadb://h/db')).toEqual({ url: 'mariadb://h/db' });
    expect(fromJdbcUrl('mysql://h/db')).toEqual({ url: 'mysql://h/db' });
    expect(() => fromJdbcUrl('jdbc:oracle:thin://h/db')).toThrow(/unsupported JDBC URL/);
  });

  it('refuses locations it would not honour', () => {
    expect(locationsToDir('filesystem:sql', 'x')).toBe('sql');
    expect(() => locationsToDir('classpath:db/migration', 'x')).toThrow(/classpath/);
    expect(() => locationsToDir(['filesystem:a', 'filesystem:b'], 'x')).toThrow(/2 locations/);
    expect(() => locationsToDir('s3:bucket/sql', 'x')).toThrow(/not a filesystem/);
  });

  it('precedence: flags, then environment, then files; Flyway projects keep flyway_schema_history', () => {
    const dir = tempDir('gw-fw-');
    writeFileSync(join(dir, 'flyway.toml'), '[environments.default]\nurl = "jdbc:mysql://file-host/db"\nuser = "fileuser"\npassword = "filepw"\n[flyway]\nlocations = ["filesystem:sql"]\n');
    const fromFile = loadLedgerConfig({}, {}, dir);
    expect(fromFile).toMatchObject({ url: 'mysql://fileuser@file-host/db', password: 'filepw', dir: 'sql', table: 'flyway_schema_history' });
    expect(Object.isFrozen(fromFile)).toBe(true);
    const fromEnv = loadLedgerConfig({}, { FLYWAY_URL: 'jdbc:mysql://env-host/db', FLYWAY_PASSWORD: 'envpw' }, dir);
    expect(fromEnv).toMatchObject({ url: 'mysql://fileuser@env-host/db', password: 'envpw' });
    const fromFlags = loadLedgerConfig({ url: 'mysql://flag-host/db', dir: 'm' }, { FLYWAY_URL: 'jdbc:mysql://env-host/db', GHOSTWRIGHT_DIR: 'x' }, dir);
    expect(fromFlags).toMatchObject({ url: 'mysql://fileuser@flag-host/db', dir: 'm' });
    writeFileSync(join(dir, 'flyway.toml'), '[environments.default]\nurl = "jdbc:postgresql://h/db"\nschemas = ["sales"]\n');
    expect(() => loadLedgerConfig({}, {}, dir)).toThrow(/schema "public" only/);
  });

  it("rewrites Flyway's -key=value arguments, before or after the command", () => {
    expect(fromFlywayArgs(['node', 'gw', '-url=jdbc:mysql://h/db', '-placeholders.env=prod', '-outOfOrder=true', 'migrate', '-locations=filesystem:sql', '--json'])).toEqual([
      'node',
      'gw',
      'migrate',
      '--url',
      'jdbc:mysql://h/db',
      '--placeholder',
      'env=prod',
      '--out-of-order',
      '--locations',
      'filesystem:sql',
      '--json',
    ]);
    expect(fromFlywayArgs(['node', 'gw', 'migrate', '-cleanDisabled=false'])).toEqual(['node', 'gw', 'migrate', '-cleanDisabled=false']);
  });
});
