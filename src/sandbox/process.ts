/**
 * Server processes owned by a sandbox: found on disk, spawned into their own
 * process group with output going to a log file, watched so they never outlive
 * their directory (or, unless detached, the process that started them), and
 * stopped by their own pid only — never by name, so the machine's default
 * instances are never touched.
 */
import { spawn, execFile, type SpawnOptions } from 'node:child_process';
import { accessSync, constants, openSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { RefusedError, GhostwrightError } from '../errors.js';

export const BIN_DIRS = ['/usr/sbin', '/usr/bin', '/usr/local/bin', '/usr/local/sbin', '/usr/local/mysql/bin'];

/** First executable named one of `names` in `dirs` (then PATH), or undefined. */
export function findBinary(names: readonly string[], dirs: readonly string[] = BIN_DIRS): string | undefined {
  const pathDirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  for (const name of names) {
    for (const dir of [...dirs, ...pathDirs]) {
      const p = join(dir, name);
      try {
        accessSync(p, constants.X_OK);
        return p;
      } catch {
        /* keep looking */
      }
    }
  }
  return undefined;
}

export function requireBinary(names: readonly string[], debPackage: string, dirs?: readonly string[]): string {
  const found = findBinary(names, dirs);
  if (!found) {
    throw new RefusedError('E_SANDBOX_BINARY', `cannot start a sandbox server: none of ${names.join(', ')} is installed`, {
      hint: `install it: apt-get install ${debPackage}`,
    });
  }
  return found;
}

/** The OS user to run a server as, when it refuses to run as root. */
export interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

export function lookupUser(name: string): RunAs | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === name && f[2] && f[3]) return { name, uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    /* no /etc/passwd: not Linux */
  }
  return undefined;
}

export interface CommandResult {
  code: number;
  output: string;
}

/** Runs a short command to completion (install-db, initdb, basebackup) and captures its output. */
export function runCommand(
  file: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; runAs?: RunAs; cwd?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        env: opts.env ?? process.env,
        cwd: opts.cwd,
        timeout: opts.timeoutMs ?? 120_000,
        maxBuffer: 16 * 1024 * 1024,
        ...(opts.runAs ? { uid: opts.runAs.uid, gid: opts.runAs.gid } : {}),
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
        resolve({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

export async function mustRun(what: string, file: string, args: readonly string[], opts: Parameters<typeof runCommand>[2] = {}): Promise<string> {
  const res = await runCommand(file, args, opts);
  if (res.code !== 0) {
    throw new GhostwrightError('E_SANDBOX_START', `${what} failed (exit ${res.code}): ${lastLines(res.output, 15)}`);
  }
  return res.output;
}

export interface ServerProcess {
  pid: number;
  /** True while the process runs (and is still ours: its command line names `marker`). */
  alive(): boolean;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
}

/**
 * Spawns a long-running server in its own process group (so a Ctrl-C aimed at
 * the test runner's group doesn't SIGINT it mid-write; the watchdog stops it
 * cleanly instead), with stdout/stderr appended to `logFile`.
 */
export interface SpawnServerOptions {
  logFile: string;
  /** The server's own directory; its command line must name it (see isOurProcess). */
  marker: string;
  /** Clean shutdown signal, used by the watchdog. */
  signal: 'TERM' | 'INT';
  /** Let the server outlive this process; it still stops when `marker` disappears. */
  detach: boolean;
  runAs?: RunAs;
  env?: NodeJS.ProcessEnv;
}

export function spawnServer(file: string, args: readonly string[], opts: SpawnServerOptions): ServerProcess {
  const fd = openSync(opts.logFile, 'a');
  const spawnOpts: SpawnOptions = {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: opts.env ?? process.env,
    ...(opts.runAs ? { uid: opts.runAs.uid, gid: opts.runAs.gid } : {}),
  };
  const child = spawn(file, args, spawnOpts);
  closeSync(fd);
  let done = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      done = true;
      resolve();
    });
    child.once('error', () => {
      done = true;
      resolve();
    });
  });
  child.unref();
  const pid = child.pid ?? -1;
  // Watch from the first moment: a parent killed while we still wait for the server must not leak it.
  if (pid > 0) startWatchdog([{ pid, signal: opts.signal }], opts.marker, opts.detach ? undefined : process.pid);
  return { pid, exited, alive: () => !done && isOurProcess(pid, opts.marker) };
}

/**
 * True when `pid` runs and its command line mentions `marker` (the server's
 * data directory): guards against signalling a recycled pid that now belongs
 * to someone else.
 */
export function isOurProcess(pid: number, marker: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const cmdlinePath = `/proc/${pid}/cmdline`;
  if (!existsSync('/proc/self/cmdline')) return true; // no procfs: trust the pid
  try {
    const cmdline = readFileSync(cmdlinePath, 'utf8').replace(/\0/g, ' ');
    // A zombie (exited, not yet reaped) has an empty cmdline: it is not running.
    return cmdline.includes(marker);
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Ends a server by its pid: `signal` (the server's clean, fast shutdown), then
 * SIGKILL after `timeoutMs`. Returns once the process is gone.
 */
export async function stopProcess(pid: number, marker: string, signal: NodeJS.Signals, timeoutMs = 20_000): Promise<void> {
  if (!isOurProcess(pid, marker)) return;
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isOurProcess(pid, marker)) return;
    await sleep(50);
  }
  if (isOurProcess(pid, marker)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    for (let i = 0; i < 100 && isOurProcess(pid, marker); i++) await sleep(50);
  }
}

/**
 * Polls `probe` until it returns a value, the process dies, or time runs out.
 * On failure the error carries the tail of the server's log.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  opts: { proc?: ServerProcess; logFile?: string; timeoutMs?: number; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    const dead = opts.proc && !opts.proc.alive();
    if (dead || Date.now() > deadline) {
      const why = dead ? 'the server exited' : 'timed out';
      const detail = lastErr instanceof Error ? ` (last error: ${lastErr.message})` : '';
      const log = opts.logFile ? `\n--- ${opts.logFile} ---\n${lastLines(readSafe(opts.logFile), 20)}` : '';
      throw new GhostwrightError('E_SANDBOX_START', `${what}: ${why}${detail}${log}`);
    }
    await sleep(opts.intervalMs ?? 100);
  }
}

export function readSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

export interface WatchedServer {
  pid: number;
  /** The server's clean shutdown signal (MariaDB: TERM; PostgreSQL fast shutdown: INT). */
  signal: 'TERM' | 'INT';
}

/**
 * A tiny shell watchdog, detached from us, that stops the servers when their
 * directory disappears or (unless `parentPid` is undefined) when the process
 * that started them dies without stopping them — e.g. a test runner killed
 * with SIGKILL. It exits by itself once all servers are gone.
 */
export function startWatchdog(servers: readonly WatchedServer[], dir: string, parentPid: number | undefined): void {
  const script = `
    DIR="$1"; PARENT="$2"; shift 2
    ours() { tr '\\0' ' ' < /proc/$1/cmdline 2>/dev/null | grep -qF -- "$DIR"; }
    while :; do
      alive=0
      for s in "$@"; do p=\${s%:*}; ours $p && alive=1; done
      [ $alive = 1 ] || exit 0
      [ -d "$DIR" ] || break
      if [ -n "$PARENT" ] && ! kill -0 "$PARENT" 2>/dev/null; then break; fi
      sleep 1
    done
    for s in "$@"; do p=\${s%:*}; sig=\${s#*:}; ours $p && kill -$sig $p 2>/dev/null; done
    i=0
    while [ $i -lt 30 ]; do
      alive=0
      for s in "$@"; do p=\${s%:*}; ours $p && alive=1; done
      [ $alive = 1 ] || exit 0
      sleep 1; i=$((i+1))
    done
    for s in "$@"; do p=\${s%:*}; ours $p && kill -KILL $p 2>/dev/null; done
  `;
  const child = spawn('/bin/sh', ['-c', script, 'ghostwright-sandbox-watchdog', dir, parentPid === undefined ? '' : String(parentPid), ...servers.map((s) => `${s.pid}:${s.signal}`)], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
}
