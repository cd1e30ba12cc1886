/**
 * The status of a running migration as one plain object: the periodic status
 * log line, the control socket's `status` command and its hooks all show it.
 */
import { postponeReason } from './flags.js';
import { etaMs, rowsPerSecond, type LiveMigration } from './live.js';
import { describeSilence } from './server-probe.js';

/** `silentMs`: how long the server has not answered, null while it does. */
export function migrationStatus(live: LiveMigration, silentMs: number | null, postponeFlagFile: string | null): Record<string, unknown> {
  const p = live.progress;
  return {
    state: p.state,
    table: p.table,
    engine: p.engine,
    rowsCopied: p.rowsCopied,
    rowsEstimated: p.rowsEstimated,
    rowsPerSecond: rowsPerSecond(p),
    etaMs: etaMs(p),
    eventsApplied: p.eventsApplied,
    backlog: p.backlog,
    throttleReason: p.throttleReason,
    // 'responding', or 'server not responding for N s' (a frozen or unreachable server).
    server: silentMs === null ? 'responding' : describeSilence(silentMs),
    replicaLagMs: p.replicaLagMs,
    chunkSize: live.settings.chunkSize,
    maxSharePercent: live.settings.maxSharePercent,
    // In force, whatever holds it (command or flag file), and why.
    postponeCutOver: postponeReason(postponeFlagFile, live.settings) !== null,
    postponeReason: postponeReason(postponeFlagFile, live.settings),
    elapsedMs: Date.now() - p.startedAt,
  };
}
