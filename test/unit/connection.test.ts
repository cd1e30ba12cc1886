import { describe, expect, it } from 'vitest';
import { parseConnectionUrl, redactedUrl, redactUrlText } from '../../src/connection.js';
import { RefusedError } from '../../src/errors.js';

describe('parseConnectionUrl', () => {
  it('reads mysql and mariadb URLs', () => {
    const s = parseConnectionUrl('mariadb://app:s3cr%40t@db.example:3307/shop?sslmode=require', {});
    expect(s).toMatchObject({ dialect: 'mysql', host: 'db.example', port: 3307, user: 'app', password: 's3cr@t', database: 'shop' });
    expect(s.tls).toEqual({ rejectUnauthorized: false });
  });

  it('reads postgres URLs with defaults', () => {
    const s = parseConnectionUrl('postgresql://localhost/app', {});
    expect(s).toMatchObject({ dialect: 'postgres', host: 'localhost', port: 5432, user: 'postgres', password: undefined, database: 'app', tls: undefined });
  });

  it('takes the password from MYSQL_PWD / PGPASSWORD when the URL has none', () => {
    expect(parseConnectionUrl('mysql://root@h/db', { MYSQL_PWD: 'pw1' }).password).toBe('pw1');
    expect(parseConnectionUrl('postgres://u@h/db', { PGPASSWORD: 'pw2' }).password).toBe('pw2');
    expect(parseConnectionUrl('postgres://u:inurl@h/db', { PGPASSWORD: 'pw2' }).password).toBe('inurl');
  });

  it('refuses unknown schemes, garbage and a missing database with exit code 2', () => {
    for (const bad of ['redis://h/db', 'not a url', 'mysql://h:3306/']) {
      let caught: unknown;
      try {
        parseConnectionUrl(bad, {});
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(RefusedError);
      expect((caught as RefusedError).exitCode).toBe(2);
    }
  });

  it('never shows the password', () => {
    const s = parseConnectionUrl('mysql://app:hunter2@h:3306/db', {});
    expect(redactedUrl(s)).toBe('mysql://app:***@h:3306/db');
    expect(redactUrlText('failed to reach postgres://u:hunter2@h:5432/x now')).toBe('failed to reach postgres://u:***@h:5432/x now');
    let message = '';
    try {
      parseConnectionUrl('redis://u:hunter2@h/db', {});
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).not.toContain('hunter2');
  });
});
