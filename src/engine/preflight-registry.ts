/** Runs an engine's preflight registry in order (see PreflightCheck); every check only reads. */
import type { CheckResult, PreflightCheck } from './check.js';

export async function runPreflight<Context>(registry: readonly PreflightCheck<Context>[], context: Context): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const check of registry) out.push(...(await check.run(context)));
  return out;
}

/** What a single-result check finds: the rest of its result (id, title, severity) is fixed by the check. */
export interface Finding {
  ok: boolean;
  detail: string;
  fix?: string | undefined;
}

/**
 * A check that gives exactly one result under its own id: the registry
 * entry and the result share id, title and severity, so the check states
 * only what it finds.
 */
export function singleResultCheck<Context>(
  spec: Pick<PreflightCheck<Context>, 'id' | 'scope'> & Pick<CheckResult, 'title' | 'severity'>,
  find: (context: Context) => Finding,
): PreflightCheck<Context> {
  return {
    id: spec.id,
    scope: spec.scope,
    run: (context) => {
      const f = find(context);
      return [{ id: spec.id, title: spec.title, ok: f.ok, severity: spec.severity, detail: f.detail, ...('fix' in f ? { fix: f.fix } : {}) }];
    },
  };
}
