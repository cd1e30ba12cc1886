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

/** What a single-result check's spec fixes: its id, scope, title and severity. */
export type SingleResultSpec<Context> = Pick<PreflightCheck<Context>, 'id' | 'scope'> & Pick<CheckResult, 'title' | 'severity'>;

/** The one result of a single-result check (also for `doctor`, which runs some of them outside a registry). */
export function singleResult<Context>(spec: SingleResultSpec<Context>, f: Finding): CheckResult {
  return { id: spec.id, title: spec.title, ok: f.ok, severity: spec.severity, detail: f.detail, ...('fix' in f ? { fix: f.fix } : {}) };
}

/**
 * A check that gives exactly one result under its own id: the registry
 * entry and the result share id, title and severity, so the check states
 * only what it finds (synchronously from the context, or by a query).
 */
export function singleResultCheck<Context>(spec: SingleResultSpec<Context>, find: (context: Context) => Finding): PreflightCheck<Context>;
export function singleResultCheck<Context>(spec: SingleResultSpec<Context>, find: (context: Context) => Promise<Finding>): PreflightCheck<Context>;
export function singleResultCheck<Context>(spec: SingleResultSpec<Context>, find: (context: Context) => Finding | Promise<Finding>): PreflightCheck<Context> {
  return {
    id: spec.id,
    scope: spec.scope,
    run: (context) => {
      const f = find(context);
      return f instanceof Promise ? f.then((found) => [singleResult(spec, found)]) : [singleResult(spec, f)];
    },
  };
}
