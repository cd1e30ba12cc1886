/** A unique key over NOT NULL whole columns drives the copy and the apply. */
import { singleResultCheck } from '../../preflight-registry.js';
import type { PreflightInput } from './context.js';

export const copyKey = singleResultCheck<PreflightInput>({ id: 'copy-key', scope: 'table', title: 'a usable unique key drives the copy', severity: 'error' }, ({ original }) => ({
  ok: original.copyKey !== null,
  detail: original.copyKey ? `${original.copyKey.name} (${original.copyKey.columns.join(', ')})` : 'no PRIMARY KEY and no UNIQUE key over NOT NULL whole columns',
  fix: 'add a PRIMARY KEY (or a UNIQUE key on NOT NULL columns) first',
}));
