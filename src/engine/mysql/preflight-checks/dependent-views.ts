/** Views resolve the table by name, so they read the new table after the swap: a warning to check them. */
import { singleResultCheck } from '../../preflight-registry.js';
import type { PreflightInput } from './context.js';

export const dependentViews = singleResultCheck<PreflightInput>({ id: 'dependent-views', scope: 'table', title: 'views keep working on the new shape', severity: 'warn' }, ({ original }) => ({
  ok: original.dependentViews.length === 0,
  detail: original.dependentViews.length ? `views mentioning the table: ${original.dependentViews.join(', ')}; after the swap they read the new table` : 'none',
  fix: 'check that these views do not use columns the ALTER drops or renames',
}));
