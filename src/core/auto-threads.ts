/**
 * `--threads auto`: how many copy workers a run uses when the DBA did not say.
 *
 * The copy is bound by the server, not by this process (the workers only
 * send INSERT ... SELECT statements). So:
 * - server on this machine (loopback host or a socket): one worker per core
 *   of this machine, at most 4. Measured on 2 cores: 2 workers copy 1.4-1.6x
 *   faster than 1; more workers than cores only add lock and CPU contention
 *   for the application's sessions.
 * - server elsewhere: its cores can't be seen from here, so 4, the default
 *   of Spirit (cashapp/spirit `--threads`), a middle a DBA can keep on a
 *   production primary and lower with `--threads N`.
 * Pure: the caller passes the host and the core count.
 */
export const AUTO_THREADS_CAP = 4;

export function isLocalHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === '' || h === 'localhost' || h === '::1' || h.startsWith('127.') || h.startsWith('/');
}

export function autoThreads(server: { host: string | null }, cores: number): number {
  if (server.host === null || !isLocalHost(server.host)) return AUTO_THREADS_CAP;
  return Math.max(1, Math.min(AUTO_THREADS_CAP, Math.floor(cores)));
}
