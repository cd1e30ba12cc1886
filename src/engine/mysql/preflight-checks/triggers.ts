/** No triggers: CREATE TABLE ... LIKE copies no triggers, so after the swap they would be gone. */
import { singleResultCheck } from '../../preflight-registry.js';
import type { PreflightInput } from './context.js';

export const triggers = singleResultCheck<PreflightInput>({ id: 'triggers', scope: 'table', title: 'no triggers on the table', severity: 'error' }, ({ original }) => ({
  ok: original.triggers.length === 0,
  detail: original.triggers.length ? `triggers: ${original.triggers.map((x) => x.name).join(', ')}` : 'none',
  fix: 'drop the triggers, migrate, and re-create them on the new table (the ghost is created LIKE the table, which copies no triggers)',
}));
