/**
 * Connection specs parsed from URLs. One parser for both dialects so that
 * password handling and redaction live in one place.
 *
 * Accepted: mysql://, mariadb://, postgres://, postgresql://.
 * Password: from the URL, else MYSQL_PWD (MySQL) / PGPASSWORD (PostgreSQL).
 * TLS: `?ssl=true|require|verify-full`, `sslmode=...`, `sslca=/path` pass through.
 */
import { readFileSync } from 'node:fs';
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
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Never logged: use redactedUrl() for anything a person or machine reads. */
  readonly password: string | undefined;
  readonly database: string;
  readonly tls: TlsOptions | undefined;
  /** Extra query parameters, passed to the driver where it understands them. */
  readonly params: Readonly<Record<string, string>>;
}

const SCHEMES: Record<string, Dialect> = {
  'mysql:': 'mysql',
  'mariadb:': 'mysql',
  'postgres:': 'postgres',
  'postgresql:': 'postgres',
};

export function parseConnectionUrl(url: string, env: NodeJS.ProcessEnv = process.env): ConnectionSpec {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RefusedError('E_BAD_URL', `not a valid connection URL: ${redactUrlText(url)}`, {
      hint: 'use mysql://user:pass@host:3306/db or postgres://user:pass@host:5432/db',
    });
  }
  const dialect = SCHEMES[u.protocol];
  if (!dialect) {
    throw new RefusedError('E_BAD_URL', `unsupported URL scheme "${u.protocol}"`, {
      hint: 'use one of mysql://, mariadb://, postgres://, postgresql://',
    });
  }
  const params: Record<string, string> = {};
  for (const [k, v] of u.searchParams) params[k] = v;
  const urlPassword = u.password ? decodeURIComponent(u.password) : undefined;
  const envPassword = dialect === 'mysql' ? env.MYSQL_PWD : env.PGPASSWORD;
  const defaultUser = dialect === 'mysql' ? 'root' : (env.PGUSER ?? 'postgres');
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!database) {
    throw new RefusedError('E_BAD_URL', 'the connection URL names no database', {
      hint: dialect === 'mysql' ? 'append the schema: mysql://host:3306/mydb' : 'append the database: postgres://host:5432/mydb',
    });
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1') || (dialect === 'mysql' ? '127.0.0.1' : 'localhost');
  return Object.freeze({
    dialect,
    host,
    port: u.port ? Number(u.port) : dialect === 'mysql' ? 3306 : 5432,
    user: u.username ? decodeURIComponent(u.username) : defaultUser,
    password: urlPassword ?? (envPassword === '' ? undefined : envPassword),
    database,
    tls: parseTls(params),
    params: Object.freeze(params),
  });
}

function parseTls(params: Record<string, string>): TlsOptions | undefined {
  const mode = (params.sslmode ?? params.ssl ?? params['ssl-mode'] ?? '').toLowerCase();
  if (!mode || mode === 'false' || mode === 'disable' || mode === 'disabled' || mode === '0') return undefined;
  const read = (p: string | undefined): string | undefined => (p ? readFileSync(p, 'utf8') : undefined);
  const tls: TlsOptions = { rejectUnauthorized: mode === 'verify-full' || mode === 'verify-ca' || mode === 'verify_identity' };
  const ca = read(params.sslca ?? params.sslrootcert);
  const cert = read(params.sslcert);
  const key = read(params.sslkey);
  if (ca) tls.ca = ca;
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  return tls;
}

/** The URL as a person may see it: password replaced by ***. */
export function redactedUrl(spec: ConnectionSpec): string {
  const scheme = spec.dialect === 'mysql' ? 'mysql' : 'postgres';
  const auth = spec.password === undefined ? encodeURIComponent(spec.user) : `${encodeURIComponent(spec.user)}:***`;
  const host = spec.host.includes(':') ? `[${spec.host}]` : spec.host;
  return `${scheme}://${auth}@${host}:${spec.port}/${encodeURIComponent(spec.database)}`;
}

/** Best-effort redaction of a password inside any text that may contain a URL. */
export function redactUrlText(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)([^@\s]*)(@)/gi, '$1***$3');
}

/** Same server, another database/user: used for replicas given as URLs. */
export function withDatabase(spec: ConnectionSpec, database: string): ConnectionSpec {
  return Object.freeze({ ...spec, database });
}
