/**
 * The interactive commands of a running migration (gh-ost's socket commands).
 * Pure: one command text in, one answer text out, live.settings mutated.
 * The socket server (socket.ts) is only the transport.
 *
 * A command is one line: `chunk-size=2000`, or JSON `{"command":"chunk-size","value":2000}`.
 * JSON requests get JSON answers: `{"ok":true,"answer":"..."}` / `{"ok":false,"error":"..."}`;
 * `status` in JSON is the status object itself.
 */
import { etaMs, rowsPerSecond, type LiveMigration } from '../core/live.js';
import { formatLoadSpec, parseLoadSpec } from '../core/load-spec.js';
import { postponeReason } from '../core/flags.js';
import { SHARE_LIMITS } from '../core/share.js';

export interface CommandContext {
  live: LiveMigration;
  /** Extra status fields from the migrator (positions, key, phase details). */
  status: () => object;
  now?: () => number;
  /** --postpone-cut-over-flag-file: status reports the postponement in force, whatever holds it. */
  postponeFlagFile?: string | null;
}

export interface CommandResult {
  ok: boolean;
  /** What goes back over the socket, without the trailing newline. */
  answer: string;
  /** The command name, for logs. */
  command: string;
}

export const HELP = `commands (one per line; JSON {"command":..,"value":..} also accepted):
  status                 progress and settings (status json: as JSON)
  throttle               pause copying until no-throttle
  no-throttle            end a commanded throttle
  chunk-size=N           rows per chunk (chunk-size=? shows it)
  max-lag-millis=N       replica lag limit in ms
  max-share=P            each copy worker busy at most P% of the time (100: no rest)
  max-load=a=1,b=2       throttle thresholds (max-load= clears them)
  critical-load=a=1      abort thresholds (critical-load= clears them)
  postpone-cut-over      hold the cut-over when the copy is done
  unpostpone             drop the postpone-cut-over command (a flag file still holds)
  cut-over               cut over as soon as caught up, even if a postpone flag file exists
  panic                  abort now; the original table stays untouched
  help                   this text`;

const LIMITS = { chunkSize: [1, 1_000_000], maxLagMs: [1, 86_400_000], maxSharePercent: SHARE_LIMITS } as const;

export function runCommand(text: string, ctx: CommandContext): CommandResult {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) return runJson(trimmed, ctx);
  const [head = '', ...rest] = trimmed.split(/\s+/);
  const eq = head.indexOf('=');
  const name = (eq >= 0 ? head.slice(0, eq) : head).toLowerCase();
  // Values may contain spaces after the '=' (`max-load= a=1, b=2`): keep the whole remainder.
  const value = eq >= 0 ? trimmed.slice(trimmed.indexOf('=') + 1).trim() : null;
  const arg = rest.join(' ');
  try {
    const answer = execute(name, value, arg, ctx);
    return { ok: true, answer, command: name };
  } catch (err) {
    return { ok: false, answer: `error: ${(err as Error).message}`, command: name || '(empty)' };
  }
}

function runJson(text: string, ctx: CommandContext): CommandResult {
  let req: { command?: unknown; value?: unknown };
  try {
    req = JSON.parse(text) as typeof req;
  } catch {
    return { ok: false, answer: JSON.stringify({ ok: false, error: 'not valid JSON' }), command: '(json)' };
  }
  const name = typeof req.command === 'string' ? req.command.toLowerCase() : '';
  if (name === 'status') return { ok: true, answer: JSON.stringify(statusObject(ctx)), command: name };
  const value = req.value === undefined || req.value === null ? null : typeof req.value === 'object' ? formatLoadSpec(req.value as Record<string, number>) : String(req.value);
  try {
    const answer = execute(name, value, '', ctx);
    return { ok: true, answer: JSON.stringify({ ok: true, answer }), command: name };
  } catch (err) {
    return { ok: false, answer: JSON.stringify({ ok: false, error: (err as Error).message }), command: name || '(json)' };
  }
}

function execute(name: string, value: string | null, arg: string, ctx: CommandContext): string {
  const s = ctx.live.settings;
  switch (name) {
    case 'status':
    case 'sup':
    case 'info':
      return arg === 'json' ? JSON.stringify(statusObject(ctx)) : statusText(ctx);
    case 'help':
    case '?':
      return HELP;
    case 'throttle':
      s.forcedThrottle = true;
      return 'ok: throttled (no-throttle to resume)';
    case 'no-throttle':
    case 'unthrottle':
      s.forcedThrottle = false;
      return 'ok: commanded throttle released';
    case 'chunk-size':
      if (value === null || value === '?') return String(s.chunkSize);
      s.chunkSize = parseInteger(value, 'chunk-size', LIMITS.chunkSize);
      return `ok: chunk-size=${s.chunkSize}`;
    case 'max-lag-millis':
      if (value === null || value === '?') return String(s.maxLagMs);
      s.maxLagMs = parseInteger(value, 'max-lag-millis', LIMITS.maxLagMs);
      return `ok: max-lag-millis=${s.maxLagMs}`;
    case 'max-share':
      if (value === null || value === '?') return String(s.maxSharePercent);
      s.maxSharePercent = parseInteger(value.replace(/%$/, ''), 'max-share', LIMITS.maxSharePercent);
      return `ok: max-share=${s.maxSharePercent}`;
    case 'max-load':
      if (value === null || value === '?') return formatLoadSpec(s.maxLoad);
      s.maxLoad = parseLoadSpec(value);
      return `ok: max-load=${formatLoadSpec(s.maxLoad)}`;
    case 'critical-load':
      if (value === null || value === '?') return formatLoadSpec(s.criticalLoad);
      s.criticalLoad = parseLoadSpec(value);
      return `ok: critical-load=${formatLoadSpec(s.criticalLoad)}`;
    case 'postpone-cut-over':
      s.postponeCutOver = true;
      s.cutOverNow = false;
      return 'ok: cut-over postponed (cut-over or unpostpone to release)';
    case 'unpostpone': {
      s.postponeCutOver = false;
      const still = postponeReason(ctx.postponeFlagFile ?? null, s);
      return `ok: postpone-cut-over command dropped${still ? ` (still postponed: ${still})` : ''}`;
    }
    case 'cut-over':
      s.postponeCutOver = false;
      s.cutOverNow = true;
      return 'ok: cut-over will proceed as soon as the copy is done and caught up';
    case 'panic':
      s.panic = true;
      return 'ok: panic: aborting; the original table stays untouched';
    case '':
      throw new Error('empty command; try help');
    default:
      throw new Error(`unknown command "${name}"; try help`);
  }
}

function parseInteger(text: string, name: string, [min, max]: readonly [number, number]): number {
  if (!/^\d+$/.test(text)) throw new Error(`${name} needs a whole number, got "${text}"`);
  const n = Number(text);
  if (n < min || n > max) throw new Error(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function statusObject(ctx: CommandContext): Record<string, unknown> {
  const now = ctx.now?.() ?? Date.now();
  const p = ctx.live.progress;
  return {
    ...ctx.live.progress,
    percent: percent(p.rowsCopied, p.rowsEstimated),
    rowsPerSecond: rowsPerSecond(p, now),
    etaMs: etaMs(p, now),
    elapsedMs: now - p.startedAt,
    settings: { ...ctx.live.settings },
    postponeCutOver: postponeReason(ctx.postponeFlagFile ?? null, ctx.live.settings) !== null,
    postponeReason: postponeReason(ctx.postponeFlagFile ?? null, ctx.live.settings),
    ...ctx.status(),
  };
}

export function statusText(ctx: CommandContext): string {
  const now = ctx.now?.() ?? Date.now();
  const p = ctx.live.progress;
  const s = ctx.live.settings;
  const eta = etaMs(p, now);
  // The postponement in force (command, flag file, or neither), not only the command's flag.
  const postponed = postponeReason(ctx.postponeFlagFile ?? null, s);
  const lines = [
    `table: ${p.table} (${p.engine})`,
    `state: ${p.state}${p.throttleReason ? ` (${p.throttleReason})` : ''}`,
    `copied: ${p.rowsCopied}/${p.rowsEstimated} rows (${percent(p.rowsCopied, p.rowsEstimated)}%), ${rowsPerSecond(p, now)} rows/s, eta ${eta === null ? 'unknown' : `${Math.round(eta / 1000)}s`}`,
    `stream: ${p.eventsApplied} events applied, backlog ${p.backlog}`,
    `elapsed: ${Math.round((now - p.startedAt) / 1000)}s`,
    `replica lag: ${Object.entries(p.replicaLagMs).map(([k, v]) => `${k}=${v === null ? 'unknown' : `${v}ms`}`).join(', ') || 'none'}`,
    `settings: chunk-size=${s.chunkSize} max-share=${s.maxSharePercent} max-lag-millis=${s.maxLagMs} max-load=${formatLoadSpec(s.maxLoad) || '-'} critical-load=${formatLoadSpec(s.criticalLoad) || '-'}`,
    `flags: throttle=${s.forcedThrottle} postpone-cut-over=${postponed !== null}${postponed ? ` (${postponed})` : ''} cut-over-now=${s.cutOverNow} panic=${s.panic}`,
  ];
  // The migrator's own fields, minus what the lines above already show.
  const shown = new Set([...Object.keys(p), ...Object.keys(s), 'percent', 'rowsPerSecond', 'etaMs', 'elapsedMs']);
  for (const [k, v] of Object.entries(ctx.status())) if (!shown.has(k)) lines.push(`${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return lines.join('\n');
}

export function percent(copied: number, estimated: number): number {
  if (estimated <= 0) return copied > 0 ? 100 : 0;
  return Math.min(100, Math.round((copied * 1000) / estimated) / 10);
}
