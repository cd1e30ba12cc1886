/**
 * The control socket of a running migration: a unix socket, owner-only
 * (0600), one command per connection as in gh-ost (`echo status | nc -U sock`).
 * The server reads one line (or everything up to the client's end of input),
 * answers once with a trailing newline, and closes the connection.
 *
 * Anyone who can connect can panic the migration or change its settings, so
 * the socket is created under a 0177 umask (no window where others could
 * connect) and chmod'ed 0600 after listen as well.
 */
import { createHash } from 'node:crypto';
import { chmodSync, lstatSync, readdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LiveMigration } from '../core/live.js';
import { RefusedError } from '../errors.js';
import type { Logger } from '../log.js';
import { runCommand } from './commands.js';

export interface ControlServerOptions {
  path: string;
  live: LiveMigration;
  status: () => object;
  log: Logger;
  /** See CommandContext.postponeFlagFile. */
  postponeFlagFile?: string | null;
}

export interface ControlServer {
  path: string;
  close(): Promise<void>;
}

/** A line longer than this is not a command: refuse rather than buffer without limit. */
const MAX_COMMAND_BYTES = 64 * 1024;
/** Unix socket paths are limited to 108 bytes on Linux (104 on macOS), NUL included. */
const MAX_SOCKET_PATH = 100;

/**
 * `ghostwright.<schema>.<table>.sock` in the temp dir (PostgreSQL:
 * `ghostwright.<database>.<schema>.<table>.sock`, since every database has a
 * `public`): the schema is part of the name, so migrations of same-named
 * tables in two schemas don't collide. Where sanitizing changed a name (or a
 * part holds a dot, which would make `a.b` + `c` and `a` + `b.c` alike), a
 * hash of the exact names keeps it apart.
 */
export function defaultSocketPath(table: string | { schema: string; name: string; database?: string }): string {
  const parts = typeof table === 'string' ? [table] : [...(table.database !== undefined ? [table.database] : []), table.schema, table.name];
  const safe = parts.map((p) => p.replace(/[^A-Za-z0-9_.-]/g, '_'));
  const exact = typeof table === 'string' || parts.every((p, i) => p === safe[i] && !p.includes('.'));
  const hash = createHash('sha1').update(JSON.stringify(parts)).digest('hex').slice(0, 8);
  const dir = tmpdir();
  const full = join(dir, `ghostwright.${safe.join('.')}${exact ? '' : `.${hash}`}.sock`);
  if (Buffer.byteLength(full) <= MAX_SOCKET_PATH) return full;
  return join(dir, `ghostwright.${safe.join('.').slice(0, 20)}.${hash}.sock`);
}

/**
 * The default socket of a run on `table`. PostgreSQL names it with the
 * database too (the same schema.table exists in every database of a server);
 * the run and `cleanup` must agree on it, so both ask here.
 */
export function runSocketPath(table: { schema: string; name: string }, database: string, databaseScoped: boolean): string {
  return defaultSocketPath(databaseScoped ? { ...table, database } : table);
}

/**
 * The default sockets in the temp dir of migrations of `table` (`t`,
 * `schema.t` or `db.schema.t`): `ghostwright control --table` finds the
 * migration's socket without knowing its schema and database.
 */
export function findDefaultSockets(table: string): string[] {
  const dir = tmpdir();
  const tail = `.${table.replace(/[^A-Za-z0-9_.-]/g, '_')}.sock`;
  return readdirSync(dir)
    .filter((n) => n.startsWith('ghostwright.') && n.endsWith(tail))
    .map((n) => join(dir, n))
    .sort();
}

export async function startControlServer(o: ControlServerOptions): Promise<ControlServer> {
  await clearStalePath(o.path);
  const open = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (sock) => {
    open.add(sock);
    sock.on('close', () => open.delete(sock));
    handle(sock, o);
  });
  await listen(server, o.path);
  server.on('error', (err) => o.log.warn({ err }, 'control socket error'));
  chmodSync(o.path, 0o600);
  o.log.info({ socket: o.path }, 'control socket listening');

  const onExit = (): void => removeQuietly(o.path);
  process.on('exit', onExit);
  let closed: Promise<void> | null = null;
  return {
    path: o.path,
    close() {
      closed ??= new Promise<void>((resolve) => {
        process.off('exit', onExit);
        server.close(() => {
          removeQuietly(o.path);
          resolve();
        });
        // server.close() waits for open connections; commands are instant, so a
        // client that sends nothing is the only thing that could hold it.
        for (const sock of open) sock.destroy();
      });
      return closed;
    },
  };
}

function handle(sock: Socket, o: ControlServerOptions): void {
  let buffer = '';
  let answered = false;
  sock.setEncoding('utf8');
  sock.setTimeout(10_000, () => sock.destroy());
  const answer = (text: string): void => {
    if (answered) return;
    answered = true;
    const result = runCommand(text, { live: o.live, status: o.status, postponeFlagFile: o.postponeFlagFile ?? null });
    o.log.info({ command: result.command, ok: result.ok }, 'control command');
    sock.end(`${result.answer}\n`);
  };
  sock.on('data', (chunk: string) => {
    if (answered) return;
    buffer += chunk;
    const nl = buffer.indexOf('\n');
    if (nl >= 0) answer(buffer.slice(0, nl));
    else if (buffer.length > MAX_COMMAND_BYTES) {
      answered = true;
      sock.end('error: command too long\n');
    }
  });
  sock.on('end', () => {
    if (!answered) answer(buffer);
  });
  sock.on('error', () => sock.destroy());
}

/**
 * A leftover socket file from a crashed run is removed; a live server there
 * means another migration of the same table is running: refuse.
 */
async function clearStalePath(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) {
    throw new RefusedError('E_SOCKET_PATH', `control socket path ${path} exists and is not a socket`, {
      hint: 'choose another --socket path; ghostwright will not delete a regular file',
    });
  }
  if (await answers(path)) {
    throw new RefusedError('E_SOCKET_IN_USE', `another ghostwright is already listening on ${path}`, {
      hint: `ghostwright control --socket ${path} status  shows what it is doing; use another --socket path to run both`,
    });
  }
  removeQuietly(path);
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    const done = (ok: boolean): void => {
      c.destroy();
      resolve(ok);
    };
    c.setTimeout(1000, () => done(false));
    c.once('connect', () => done(true));
    c.once('error', () => done(false));
  });
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(
        err.code === 'EADDRINUSE'
          ? new RefusedError('E_SOCKET_IN_USE', `control socket path ${path} is in use`, { cause: err })
          : new RefusedError('E_SOCKET', `cannot listen on control socket ${path}: ${err.message}`, { cause: err }),
      );
    };
    server.once('error', onError);
    // The bind happens synchronously inside listen(): a 0177 umask makes the
    // socket owner-only from birth. process.umask(mask) throws in worker
    // threads; chmod after listen covers that case.
    let previous: number | null = null;
    try {
      previous = process.umask(0o177);
    } catch {
      previous = null;
    }
    try {
      server.listen(path, () => {
        server.off('error', onError);
        resolve();
      });
    } finally {
      if (previous !== null) process.umask(previous);
    }
  });
}

function removeQuietly(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // already gone
  }
}
