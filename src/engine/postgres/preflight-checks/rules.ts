/** No rewrite rules: rules can't be carried to the new table. */
import { qualified, quoteIdent } from '../ident.js';
import type { PgCheck } from './context.js';

export const rules: PgCheck = {
  id: 'rules',
  scope: 'table',
  run: ({ table: t }) => {
    const rules = (t.extra.rules as string[] | undefined) ?? [];
    return [{ id: 'rules', title: 'No rewrite rules', ok: rules.length === 0, severity: 'error', detail: rules.length ? `rules: ${rules.join(', ')}` : 'none', ...(rules.length ? { fix: `DROP RULE ${quoteIdent(rules[0]!)} ON ${qualified(t.ref)}; (rules can't be carried to the new table)` } : {}) }];
  },
};
