import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { flywayChecksum, stripBom } from '../../src/ledger/checksum.js';
import { loadMigrations, parseMigrationName } from '../../src/ledger/files.js';
import { parsePlaceholderFlags, placeholdersFromEnv, replacePlaceholders } from '../../src/ledger/placeholders.js';
import { compareVersions, parseVersion } from '../../src/ledger/version.js';
import { tempDir } from '../helpers/tmp.js';

/** Independent, table-free bitwise CRC32 (IEEE), signed like Java's (int) cast. */
function referenceCrc(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) | 0;
}
const utf8 = (s: string) => new TextEncoder().encode(s);

describe('versions', () => {
  it('compares numerically by parts, underscores as dots, trailing zeros ignored', () => {
    const cmp = (a: string, b: string) => Math.sign(compareVersions(parseVersion(a), parseVersion(b)));
    expect(cmp('1.10', '1.9')).toBe(1);
    expect(cmp('1_1', '1.1')).toBe(0);
    expect(cmp('1.0', '1')).toBe(0);
    expect(cmp('2', '10')).toBe(-1);
    expect(cmp('20240115120000', '20240115123000')).toBe(-1);
    expect(cmp('99999999999999999999', '99999999999999999998')).toBe(1);
    expect(parseVersion('1_2_0').text).toBe('1.2');
  });
  it('refuses non-versions', () => {
    expect(() => parseVersion('1.a')).toThrow(/not a migration version/);
  });
});

describe('file names', () => {
  it('parses V, U, R and callbacks like Flyway', () => {
    expect(parseMigrationName('V1__Initial_schema.sql')).toMatchObject({ kind: 'versioned', description: 'Initial schema' });
    expect(parseMigrationName('V1_1__x.sql')).toMatchObject({ kind: 'versioned', version: { text: '1.1' } });
    expect(parseMigrationName('U4__Rollback_order_status.sql')).toMatchObject({ kind: 'undo', version: { text: '4' }, description: 'Rollback order status' });
    expect(parseMigrationName('R__views.sql')).toMatchObject({ kind: 'repeatable', version: null, description: 'views' });
    expect(parseMigrationName('V20240115120000__create_users.sql')).toMatchObject({ version: { text: '20240115120000' } });
    expect(parseMigrationName('beforeMigrate.sql')).toEqual({ kind: 'callback', event: 'beforeMigrate' });
    expect(parseMigrationName('afterEachMigrate__audit.sql')).toEqual({ kind: 'callback', event: 'afterEachMigrate' });
    expect(parseMigrationName('V1_create.sql')).toBeNull();
    expect(parseMigrationName('X1__a.sql')).toBeNull();
    expect(parseMigrationName('V1__a.txt')).toBeNull();
    expect(parseMigrationName('R1__a.sql')).toBeNull();
  });

  it('loads a directory recursively, sorted numerically, and refuses duplicate versions', () => {
    const dir = tempDir('gw-ledger-');
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'V1.10__ten.sql'), 'select 10;');
    writeFileSync(join(dir, 'V1.9__nine.sql'), 'select 9;');
    writeFileSync(join(dir, 'sub', 'V2__two.sql'), 'select 2;');
    writeFileSync(join(dir, 'R__b.sql'), 'select 1;');
    writeFileSync(join(dir, 'R__a.sql'), 'select 1;');
    writeFileSync(join(dir, 'notes.sql'), 'x');
    const set = loadMigrations(dir);
    expect(set.versioned.map((f) => f.script)).toEqual(['V1.9__nine.sql', 'V1.10__ten.sql', 'sub/V2__two.sql']);
    expect(set.repeatable.map((f) => f.description)).toEqual(['a', 'b']);
    expect(set.unrecognised).toEqual(['notes.sql']);
    writeFileSync(join(dir, 'V2.0__dup.sql'), 'select 2;');
    expect(() => loadMigrations(dir)).toThrow(/more than one versioned migration with version 2/);
  });
});

describe('Flyway checksum', () => {
  it('is the CRC32 of the lines without terminators, signed', () => {
    expect(referenceCrc(utf8('123456789'))).toBe(0xcbf43926 | 0);
    expect(flywayChecksum('123456789')).toBe(0xcbf43926 | 0);
    const text = 'CREATE TABLE t (\r\n  id int\r\n);\n-- é ünïcode\nSELECT 1;\n';
    expect(flywayChecksum(text)).toBe(referenceCrc(utf8('CREATE TABLE t (  id int);-- é ünïcode' + 'SELECT 1;')));
  });
  it('ignores line terminator style and a BOM, not content', () => {
    const unix = 'a\nb\n';
    expect(flywayChecksum('a\r\nb\r\n')).toBe(flywayChecksum(unix));
    expect(flywayChecksum('a\rb')).toBe(flywayChecksum(unix));
    expect(flywayChecksum('\ufeffa\nb')).toBe(flywayChecksum(unix));
    expect(flywayChecksum('a\nb ')).not.toBe(flywayChecksum(unix));
    expect(stripBom('\ufeffx')).toBe('x');
    expect(flywayChecksum('')).toBe(0);
  });
});

describe('placeholders', () => {
  it('replaces from values and built-ins, env names lower-cased', () => {
    const env = placeholdersFromEnv({ GHOSTWRIGHT_PLACEHOLDERS_SCHEMA_OWNER: 'svc', OTHER: 'x' });
    expect(env).toEqual({ schema_owner: 'svc' });
    const values = { ...env, ...parsePlaceholderFlags(['tablespace=pg_default', 'expr=a=b']) };
    expect(values.expr).toBe('a=b');
    const out = replacePlaceholders('GRANT ALL TO ${schema_owner} TABLESPACE ${tablespace} -- ${flyway:table} ${ghostwright:database}', values, 'V1__x.sql', {
      defaultSchema: 'public', user: 'u', database: 'db', table: 'hist', filename: 'V1__x.sql', timestamp: 't',
    });
    expect(out).toBe('GRANT ALL TO svc TABLESPACE pg_default -- hist db');
    expect(replacePlaceholders('${SCHEMA_OWNER}', values, 'f')).toBe('svc');
  });
  it('refuses an unknown placeholder naming file and line', () => {
    expect(() => replacePlaceholders('select 1;\nselect ${nope};', {}, 'V2__x.sql')).toThrow('V2__x.sql:2: no value for placeholder ${nope}');
    expect(() => parsePlaceholderFlags(['novalue'])).toThrow(/name=value/);
  });
});
