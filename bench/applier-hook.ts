/**
 * The applier-only events/s figure (issue #11 item 2): measured by
 * bench/applier-rate, which another change adds. When its build is present,
 * the benches run it against the same server and print its output; otherwise
 * they say it was not measured.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { lastLines, runChild } from './harness.js';

export async function applierRate(url: string, engine: 'mysql' | 'postgres'): Promise<string> {
  const script = fileURLToPath(new URL('./applier-rate.js', import.meta.url));
  if (!existsSync(script)) return `applier alone: not measured (bench/applier-rate is not in this build)`;
  const res = await runChild(process.execPath, [script, '--url', url, '--engine', engine]);
  if (res.code !== 0) return `applier alone: bench/applier-rate failed: ${lastLines(res.stdout + res.stderr)}`;
  return `applier alone (bench/applier-rate, ${engine}): ${res.stdout.trim()}`;
}
