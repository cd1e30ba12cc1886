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

  it('reads a MySQL unix socket (socket= or mysql2\'s socketPath=), with or without a host', () => {
    const a = parseConnectionUrl('mysql://root@localhost/shop?socket=/path/mysql.sock', {});
    expect(a).toMatchObject({ dialect: 'mysql', socketPath: '/path/mysql.sock', user: 'root', database: 'shop' });
    const b = parseConnectionUrl('mariadb://app:pw@/shop?socketPath=/run/mysqld/mysqld.sock', {});
    expect(b).toMatchObject({ socketPath: '/run/mysqld/mysqld.sock', password: 'pw', database: 'shop' });
    expect(redactedUrl(b)).toBe('mysql://app:***@localhost/shop?socket=/run/mysqld/mysqld.sock');
    expect(() => parseConnectionUrl('mysql://root@localhost/shop?socket=relative.sock', {})).toThrow(/absolute path/);
  });

  it('reads PostgreSQL unix-socket directories with pg-connection-string', () => {
    const a = parseConnectionUrl('postgres://u@/db?host=/var/run/postgresql', {});
    expect(a).toMatchObject({ dialect: 'postgres', host: '/var/run/postgresql', port: 5432, user: 'u', database: 'db' });
    const b = parseConnectionUrl('postgresql://u:p%40ss@%2Ftmp%2Fpg/app?port=5433', {});
    expect(b).toMatchObject({ host: '/tmp/pg', port: 5433, password: 'p@ss', database: 'app' });
    expect(redactedUrl(b)).toBe('postgres://u:***@/app?host=/tmp/pg&port=5433');
    const c = parseConnectionUrl('postgres://u@[::1]:6432/db?sslmode=require', {});
    expect(c).toMatchObject({ host: '::1', port: 6432, tls: { rejectUnauthorized: false } });
  });

  it('refuses every URL parameter it would not act on, naming it and the accepted ones', () => {
    const cases: Array<[string, RegExp]> = [
      ['mysql://root@h/shop?sokcet=/x.sock', /"sokcet"/],
      ['mysql://root@h/shop?charset=latin1', /"charset"/],
      ['postgres://u@h/db?options=-csearch_path%3Dx', /"options"/],
      ['postgres://u@h/db?application_name=x', /"application_name"/],
      ['postgres://u@h/db?socket=/tmp', /"socket"/],
    ];
    for (const [url, name] of cases) {
      let caught: unknown;
      try {
        parseConnectionUrl(url, {});
      } catch (e) {
        caught = e;
      }
      expect(caught, url).toBeInstanceOf(RefusedError);
      const err = caught as RefusedError;
      expect(err.exitCode).toBe(2);
      expect(err.code).toBe('E_BAD_URL_PARAM');
      expect(err.message).toMatch(name);
      expect(err.hint).toMatch(url.startsWith('mysql') ? /accepted parameters: socket, socketPath, ssl/ : /accepted parameters: host, port, ssl/);
    }
  });

  it('never leaks any part of a password that breaks the URL', () => {
    for (const bad of ['mysql://u:Pa@ss:w0rd/Q@host/db', 'postgres://u:Pa@ss:w0rd/Q@host/db', 'mysql://u:a?b#c@host/db']) {
      let message = '';
      try {
        parseConnectionUrl(bad, {});
      } catch (e) {
        message = `${(e as Error).message} ${(e as RefusedError).hint ?? ''}`;
      }
      expect(message, bad).not.toBe('');
      for (const piece of ['Pa@ss', 'ss:w0rd', 'w0rd', 'w0rd/Q', 'a?b', 'b#c', '"b"']) expect(message, bad).not.toContain(piece);
    }
    expect(redactUrlText('url mysql://u:Pa@ss:w0rd/Q@host/db failed')).toBe('url mysql://u:***@host/db failed');
    expect(redactUrlText('jdbc:mysql://h/db?user=u&password=hunter2&x=1')).toBe('jdbc:mysql://h/db?user=u&password=***&x=1');
  });

  it('takes the --password-file / --ask-pass password after the URL\'s and before the environment\'s', () => {
    expect(parseConnectionUrl('mysql://root@h/db', { MYSQL_PWD: 'env' }, { password: 'file' }).password).toBe('file');
    expect(parseConnectionUrl('mysql://root:url@h/db', { MYSQL_PWD: 'env' }, { password: 'file' }).password).toBe('url');
  });
});
