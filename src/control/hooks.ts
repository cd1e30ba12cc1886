/**
 * Hooks, gh-ost style: executables in the --hooks-path folder, run at fixed
 * moments of the migration with its facts in environment variables.
 *
 * Which files run for hook `on-success`: every regular, executable file in
 * the folder whose name starts with `on-success` (e.g. `on-success`,
 * `on-success.sh`, `on-success-10-slack`) or with gh-ost's `gh-ost-on-success`
 * prefix, so an existing gh-ost hooks folder works as is. They run one after
 * another in name order; the first failure stops the rest. Hidden files and
 * editor backups (`~`) are skipped; a matching file that isn't executable is
 * skipped with a warning.
 *
 * Environment: gh-ost's GH_OST_* names and the same facts as GHOSTWRIGHT_*.
 * A database password is never passed: MYSQL_PWD, PGPASSWORD and any variable
 * whose name contains PASSWORD are removed from the inherited environment, and
 * URL-shaped values have their password masked.
 *
 * Timeout: a hook that runs longer than timeoutMs (default 60 s) is killed
 * with its whole process group and counts as failed.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { redactUrlText } from '../connection.js';
import { etaMs, type LiveMigration } from '../core/live.js';
import type { Logger } from '../log.js';
import { percent } from './commands.js';
import type { HookName } from '../core/observers.js';

/** The names live in core (it decides when each fires); the files to run are found here. */
export type { HookName };

/** Facts of the migration that don't change while it runs. Never a password. */
export interface HookBase {
  table: string;
  engine: string;
  database: string;
  alter: string;
  host: string;
  port: string | number;
  ghostTable?: string;
  oldTable?: string;
  /** Where the table was inspected / where the change is applied; default host. */
  inspectedHost?: string;
  migratedHost?: string;
  dryRun?: boolean;
}

export interface HookResult {
  ok: boolean;
  /** Exit code of the failing (or last) hook; null when none ran, or it was killed. */
  code: number | null;
  /** stdout and stderr of the hooks that ran, capped. */
  output: string;
  /** Files that ran, in order. */
  ran: string[];
  timedOut: boolean;
}

/**
 * `on-before-cut-over` is a programmable postpone flag: exit 0 lets the
 * cut-over go ahead; any other exit (or a timeout) means "not now". The
 * migrator then keeps the stream applying, stays in state 'postponed', and
 * asks again later (each retry runs the hook again). It does NOT abort: a
 * postponed cut-over is always safe (the original table is untouched), and a
 * DBA who wants to give up sends `panic`; a DBA who wants to cut over anyway
 * sends `cut-over` (it overrides the hook's "not now"). This differs from gh-ost, which
 * counts a failing hook as a failed cut-over attempt and gives up after
 * --default-retries.
 */
export type CutOverVerdict = 'proceed' | 'postpone';

export interface HookRunnerOptions {
  timeoutMs?: number;
  /** Output kept per run, bytes. */
  maxOutputBytes?: number;
  /** The run's database password(s): no variable whose value holds one reaches a hook. */
  secrets?: readonly string[];
}

export class HookRunner {
  private readonly timeoutMs: number;
  private readonly maxOutput: number;
  private readonly secrets: readonly string[];

  constructor(
    private readonly dir: string | null,
    private readonly base: HookBase,
    private readonly log: Logger,
    options: HookRunnerOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.maxOutput = options.maxOutputBytes ?? 64 * 1024;
    // Too short to search for without dropping half the environment; such a password is its own problem.
    this.secrets = (options.secrets ?? []).filter((s) => s.length >= 3);
  }

  /** The executables that would run for this hook. */
  files(name: HookName): string[] {
    if (!this.dir) return [];
    let entries: string[];
    try {
      entries = readdirSync(this.dir);
    } catch (err) {
      this.log.warn({ err, dir: this.dir }, 'hooks folder is not readable; hooks skipped');
      return [];
    }
    const out: string[] = [];
    for (const entry of entries.sort()) {
      if (!(entry.startsWith(name) || entry.startsWith(`gh-ost-${name}`))) continue;
      if (entry.startsWith('.') || entry.endsWith('~')) continue;
      const file = join(this.dir, entry);
      try {
        if (!statSync(file).isFile()) continue;
        accessSync(file, constants.X_OK);
        out.push(file);
      } catch {
        this.log.warn({ hook: name, file }, 'hook file is not executable; skipped (chmod +x it)');
      }
    }
    return out;
  }

  async run(name: HookName, live: LiveMigration, extra: Record<string, string> = {}): Promise<HookResult> {
    const files = this.files(name);
    const result: HookResult = { ok: true, code: null, output: '', ran: [], timedOut: false };
    if (files.length === 0) return result;
    const env = withoutSecrets({ ...inheritedEnv(process.env), ...hookEnv(name, this.base, live, extra) }, this.secrets);
    for (const file of files) {
      const started = Date.now();
      const one = await this.exec(file, env);
      result.ran.push(file);
      result.code = one.code;
      result.output += one.output;
      result.timedOut = one.timedOut;
      const ms = Date.now() - started;
      if (one.code !== 0) {
        result.ok = false;
        this.log.warn({ hook: name, file, code: one.code, timedOut: one.timedOut, ms, output: tail(one.output) }, 'hook failed');
        break;
      }
      this.log.info({ hook: name, file, ms }, 'hook ran');
    }
    return result;
  }

  /** Runs on-before-cut-over and turns its outcome into the migrator's next step (see CutOverVerdict). */
  async beforeCutOver(live: LiveMigration, extra: Record<string, string> = {}): Promise<{ verdict: CutOverVerdict; result: HookResult }> {
    const result = await this.run('on-before-cut-over', live, extra);
    return { verdict: result.ok ? 'proceed' : 'postpone', result };
  }

  private exec(file: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string; timedOut: boolean }> {
    return new Promise((resolve) => {
      let output = '';
      let timedOut = false;
      const child = spawn(file, [], { cwd: this.dir ?? undefined, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      const keep = (chunk: Buffer): void => {
        if (output.length < this.maxOutput) output += chunk.toString('utf8').slice(0, this.maxOutput - output.length);
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      // detached: the hook leads its own process group, so a timeout kills
      // whatever it started too (a `sleep` child would otherwise keep the pipes open).
      const killGroup = (signal: NodeJS.Signals): void => {
        try {
          if (child.pid) process.kill(-child.pid, signal);
        } catch {
          // already gone
        }
      };
      let hardKill: NodeJS.Timeout | undefined;
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup('SIGTERM');
        hardKill = setTimeout(() => killGroup('SIGKILL'), 2000);
      }, this.timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        resolve({ code: null, output: `${output}${err.message}\n`, timedOut });
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        clearTimeout(hardKill);
        resolve({ code: timedOut ? null : code, output, timedOut });
      });
    });
  }
}

/** The variables a hook sees about this migration (pure; unit-tested). */
export function hookEnv(name: HookName, base: HookBase, live: LiveMigration, extra: Record<string, string> = {}, now = Date.now()): Record<string, string> {
  const p = live.progress;
  const eta = etaMs(p, now);
  const facts: Record<string, string> = {
    HOOK: name,
    ENGINE: base.engine,
    DATABASE_NAME: base.database,
    TABLE_NAME: base.table,
    GHOST_TABLE_NAME: base.ghostTable ?? '',
    OLD_TABLE_NAME: base.oldTable ?? '',
    DDL: base.alter,
    ELAPSED_SECONDS: String(Math.floor((now - p.startedAt) / 1000)),
    ELAPSED_COPY_SECONDS: String(p.copyStartedAt ? Math.floor((now - p.copyStartedAt) / 1000) : 0),
    ESTIMATED_ROWS: String(p.rowsEstimated),
    COPIED_ROWS: String(p.rowsCopied),
    INSPECTED_HOST: base.inspectedHost ?? base.host,
    EXECUTING_HOST: hostname(),
    MIGRATED_HOST: base.migratedHost ?? base.host,
    HOST: base.host,
    PORT: String(base.port),
    PROGRESS: String(percent(p.rowsCopied, p.rowsEstimated)),
    ETA_SECONDS: eta === null ? '-1' : String(Math.round(eta / 1000)),
    THROTTLE_REASON: p.throttleReason ?? '',
    BACKLOG: String(p.backlog),
    EVENTS_APPLIED: String(p.eventsApplied),
    STATE: p.state,
    STATUS: p.state,
    DRY_RUN: base.dryRun ? 'true' : 'false',
  };
  const given: Record<string, string> = {};
  for (const [key, value] of Object.entries(extra)) given[key.replace(/^(GH_OST_|GHOSTWRIGHT_)/, '').toUpperCase()] = value;
  Object.assign(facts, given);
  // gh-ost hands on-failure its error in GH_OST_STATUS; callers may pass it as ERROR.
  if (name === 'on-failure' && given.ERROR !== undefined && given.STATUS === undefined) facts.STATUS = given.ERROR;
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(facts)) {
    env[`GH_OST_${key}`] = value;
    env[`GHOSTWRIGHT_${key}`] = value;
  }
  return env;
}

/** Drops every variable whose value contains one of the secrets (e.g. DATABASE_URL with the password in it). */
export function withoutSecrets(env: NodeJS.ProcessEnv, secrets: readonly string[]): NodeJS.ProcessEnv {
  if (secrets.length === 0) return env;
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v === undefined || !secrets.some((s) => v.includes(s))));
}

/** The parent's environment minus anything that could carry a database password. */
export function inheritedEnv(parent: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(parent)) {
    if (value === undefined) continue;
    if (key === 'MYSQL_PWD' || /PASSWORD/i.test(key)) continue;
    env[key] = value.includes('://') ? redactUrlText(value) : value;
  }
  return env;
}

function tail(text: string, n = 2000): string {
  return text.length <= n ? text : `...${text.slice(-n)}`;
}
