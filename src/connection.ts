/**
 * Connection specs parsed from URLs. One parser for both dialects so that
 * password handling and redaction live in one place.
 *
 * Accepted: mysql://, mariadb://, postgres://, postgresql://.
 * Password: from the URL, else the one given by --password-file/--ask-pass,
 * else MYSQL_PWD (MySQL) / PGPASSWORD (PostgreSQL).
 *
 * Every URL parameter must be one we act on: an ignored `?socket=` once sent
 * the run to another server (localhost:3306), so an unknown one is refused.
 * - MySQL: `socket` (mysql2's `socketPath`), TLS.
 * - PostgreSQL: parsed by pg-connection-string (libpq's URL rules), so a
 *   unix-socket directory works as `?host=/var/run/postgresql` or as an
 *   encoded host `postgres://u@%2Fvar%2Frun%2Fpostgresql/db`; `port`, TLS.
 * TLS: `?ssl=true|require|verify-full`, `sslmode=...`, `sslca`/`sslrootcert`, `sslcert`, `sslkey`.
 */
import { readFileSync } from 'node:fs';
import { parse as parsePgUrl } from 'pg-connection-string';
import { RefusedError } from './errors.js';

export type Dialect = 'mysql' | 'postgres';

export interface TlsOptions {
  rejectUnauthorized: boolean;
  ca?: string;
  cert?: string;
  key?: string;
}

export interface ConnectionSpec {
  readonly dialect: Dialect;
  /** A host name or address; on PostgreSQL a path is a unix-socket directory. */
  readonly host: string;
  readonly port: number;
  /** MySQL: the unix socket file; when set, host and port are not used to connect. */
  readonly socketPath?: string;
  readonly user: string;
  /** Never logged: use redactedUrl() for anything a person or machine reads. */
  readonly password: string | undefined;
  readonly database: string;
  readonly tls: TlsOptions | undefined;
}

export interface ParseOptions {
  /** From --password-file / --ask-pass: used when the URL has no password (before MYSQL_PWD / PGPASSWORD). */
  password?: string;
}

const SCHEMES: Record<string, Dialect> = {
  'mysql:': 'mysql',
  'mariadb:': 'mysql',
  'postgres:': 'postgres',
  'postgresql:': 'postgres',
};

const TLS_PARAMS = ['ssl', 'sslmode', 'ssl-mode', 'sslca', 'sslrootcert', 'sslcert', 'sslkey'];
/** The URL parameters each dialect acts on; any other is refused. */
export const URL_PARAMS: Record<Dialect, readonly string[]> = {
  mysql: ['socket', 'socketPath', ...TLS_PARAMS],
  postgres: ['host', 'port', ...TLS_PARAMS],
};

const HINT = 'use mysql://user@host:3306/db or postgres://user@host:5432/db; percent-encode @ : / ? # in a password (@ is %40)';

function badUrl(message: string, hint = HINT): RefusedError {
  return new RefusedError('E_BAD_URL', message, { hint });
}

export function parseConnectionUrl(url: string, env: NodeJS.ProcessEnv = process.env, options: ParseOptions = {}): ConnectionSpec {
  const scheme = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(url)?.[1]?.toLowerCase();
  if (!scheme) throw badUrl(`not a valid connection URL: ${redactUrlText(url)}`);
  const dialect = SCHEMES[scheme];
  if (!dialect) throw badUrl(`unsupported URL scheme "${scheme}"`, 'use one of mysql://, mariadb://, postgres://, postgresql://');
  const params = queryParams(url);
  // An `@` after the `?` means a password held an unencoded `?`: naming a "parameter" would show part of it.
  if (url.includes('?') && url.slice(url.indexOf('?')).includes('@')) throw badUrl(`not a valid connection URL: ${redactUrlText(url)}`);
  for (const key of params.keys()) {
    if (URL_PARAMS[dialect].includes(key)) continue;
    throw new RefusedError('E_BAD_URL_PARAM', `the ${dialect === 'mysql' ? 'MySQL' : 'PostgreSQL'} URL has a parameter "${key}" that ghostwright does not act on`, {
      hint: `remove it; accepted parameters: ${URL_PARAMS[dialect].join(', ')}`,
    });
  }
  const address = dialect === 'mysql' ? mysqlAddress(url, params) : pgAddress(url, params);
  const envPassword = dialect === 'mysql' ? env.MYSQL_PWD : env.PGPASSWORD;
  if (!address.database) {
    throw badUrl('the connection URL names no database', dialect === 'mysql' ? 'append the schema: mysql://host:3306/mydb' : 'append the database: postgres://host:5432/mydb');
  }
  const spec: ConnectionSpec = {
    dialect,
    host: address.host,
    port: address.port,
    ...(address.socketPath ? { socketPath: address.socketPath } : {}),
    user: address.user || (dialect === 'mysql' ? 'root' : (env.PGUSER ?? 'postgres')),
    password: address.password || options.password || envPassword || undefined,
    database: address.database,
    tls: parseTls(params),
  };
  return Object.freeze(spec);
}

interface Address {
  host: string;
  port: number;
  socketPath?: string;
  user: string;
  password: string;
  database: string;
}

/** The query string's parameters, read without trusting the rest of the URL to parse. */
function queryParams(url: string): URLSearchParams {
  const q = url.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : url.slice(q + 1).replace(/#.*$/, ''));
}

function portNumber(text: string | null | undefined, fallback: number): number {
  if (!text) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw badUrl(`the URL's port "${text}" is not a port number`);
  return n;
}

function mysqlAddress(url: string, params: URLSearchParams): Address {
  let u: URL;
  try {
    // `mysql://root@/shop?socket=...` has no host: WHATWG needs one to parse.
    u = new URL(url.replace(/^([a-z]+:\/\/[^/?#]*@)(\/)/i, '$1localhost$2'));
  } catch {
    throw badUrl(`not a valid connection URL: ${redactUrlText(url)}`);
  }
  const socket = params.get('socket') ?? params.get('socketPath');
  if (socket !== null && !socket.startsWith('/')) throw badUrl(`the URL's socket "${socket}" is not an absolute path`, 'give the socket file, e.g. ?socket=/var/run/mysqld/mysqld.sock');
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1') || (socket ? 'localhost' : '127.0.0.1'),
    port: portNumber(u.port, 3306),
    ...(socket ? { socketPath: socket } : {}),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.replace(/^\//, '')),
  };
}

function pgAddress(url: string, params: URLSearchParams): Address {
  // Only the address goes to pg-connection-string: TLS is ours (one set of rules for both dialects).
  const base = url.replace(/[?#].*$/, '');
  const keep = new URLSearchParams();
  for (const k of ['host', 'port']) {
    const v = params.get(k);
    if (v !== null) keep.set(k, v);
  }
  let c: ReturnType<typeof parsePgUrl>;
  try {
    c = parsePgUrl(keep.size ? `${base}?${keep.toString()}` : base);
  } catch {
    throw badUrl(`not a valid connection URL: ${redactUrlText(url)}`);
  }
  return {
    host: c.host || 'localhost',
    port: portNumber(c.port, 5432),
    user: c.user ?? '',
    password: c.password ?? '',
    database: c.database ?? '',
  };
}

function parseTls(params: URLSearchParams): TlsOptions | undefined {
  const mode = (params.get('sslmode') ?? params.get('ssl') ?? params.get('ssl-mode') ?? '').toLowerCase();
  if (!mode || mode === 'false' || mode === 'disable' || mode === 'disabled' || mode === '0') return undefined;
  const read = (p: string | null): string | undefined => {
    if (!p) return undefined;
    try {
      return readFileSync(p, 'utf8');
    } catch (err) {
      throw new RefusedError('E_BAD_URL', `cannot read the TLS file ${p} named in the URL: ${(err as Error).message}`, { hint: 'fix the path in sslca / sslcert / sslkey' });
    }
  };
  const tls: TlsOptions = { rejectUnauthorized: mode === 'verify-full' || mode === 'verify-ca' || mode === 'verify_identity' };
  const ca = read(params.get('sslca') ?? params.get('sslrootcert'));
  const cert = read(params.get('sslcert'));
  const key = read(params.get('sslkey'));
  if (ca) tls.ca = ca;
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  return tls;
}

/** The URL as a person may see it: password replaced by ***. */
export function redactedUrl(spec: ConnectionSpec): string {
  const scheme = spec.dialect === 'mysql' ? 'mysql' : 'postgres';
  const auth = spec.password === undefined ? encodeURIComponent(spec.user) : `${encodeURIComponent(spec.user)}:***`;
  const db = encodeURIComponent(spec.database);
  if (spec.socketPath) return `${scheme}://${auth}@localhost/${db}?socket=${spec.socketPath}`;
  if (spec.host.startsWith('/')) return `${scheme}://${auth}@/${db}?host=${spec.host}&port=${spec.port}`;
  const host = spec.host.includes(':') ? `[${spec.host}]` : spec.host;
  return `${scheme}://${auth}@${host}:${spec.port}/${db}`;
}

/** Where the spec connects, for messages: host:port or the socket. */
export function endpoint(spec: ConnectionSpec): string {
  if (spec.socketPath) return `socket ${spec.socketPath}`;
  if (spec.host.startsWith('/')) return `socket ${spec.host}/.s.PGSQL.${spec.port}`;
  return `${spec.host}:${spec.port}`;
}

/**
 * Best-effort redaction of passwords inside any text that may contain a URL:
 * everything between `scheme://user:` and the LAST `@` of that word is
 * masked, so a password holding an unencoded `@`, `:` or `/` is masked
 * whole; `password=` / `pwd=` parameters (JDBC style) are masked too.
 */
export function redactUrlText(text: string): string {
  return text
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)([^\s"'<>]*)@/gi, (whole, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(':');
      return colon < 0 ? whole : `${scheme}${userinfo.slice(0, colon)}:***@`;
    })
    .replace(/([?&;](?:password|pwd)=)[^&;\s]*/gi, '$1***');
}

/** Same credentials at another TCP address (a discovered replica): a socket of the primary must not come along. */
export function atAddress(spec: ConnectionSpec, host: string, port: number): ConnectionSpec {
  const { socketPath: _primarySocket, ...rest } = spec;
  return Object.freeze({ ...rest, host, port });
}

/** Same server, another database/user: used for replicas given as URLs. */
export function withDatabase(spec: ConnectionSpec, database: string): ConnectionSpec {
  return Object.freeze({ ...spec, database });
}
