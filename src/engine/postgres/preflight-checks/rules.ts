/** No rewrite rules: rules can't be carried to the new table. */
import { singleResultCheck } from '../../preflight-registry.js';
import { qualified, quoteIdent } from '../ident.js';
import type { PgPreflightContext } from './context.js';

export const rules = singleResultCheck<PgPreflightContext>({ id: 'rules', scope: 'table', title: 'No rewrite rules', severity: 'error' }, ({ table: t }) => {
  const rules = (t.extra.rules as string[] | undefined) ?? [];
  return { ok: rules.length === 0, detail: rules.length ? `rules: ${rules.join(', ')}` : 'none', ...(rules.length ? { fix: `DROP RULE ${quoteIdent(rules[0]!)} ON ${qualified(t.ref)}; (rules can't be carried to the new table)` } : {}) };
});
