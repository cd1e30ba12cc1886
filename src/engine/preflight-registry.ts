/** Runs an engine's preflight registry in order (see PreflightCheck); every check only reads. */
import type { CheckResult, PreflightCheck } from './check.js';

export async function runPreflight<Context>(registry: readonly PreflightCheck<Context>[], context: Context): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const check of registry) out.push(...(await check.run(context)));
  return out;
}
