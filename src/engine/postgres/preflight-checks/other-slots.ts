/**
 * Slots of other tables' runs, read once for two results: inactive ones
 * (a crashed run: a warning with the command to drop each), and running
 * ones retaining more WAL than the limit (refused: two runs would hold the
 * WAL twice as long).
 */
import { SLOT_PREFIX } from '../../../core/names.js';
import { dropSlotFix, ourSlots, revertSlotNames } from '../checks.js';
import { slotPrefix } from '../leftovers.js';
import { revertWindowCheck } from '../revert-window-check.js';
import type { PgCheck } from './context.js';

export const otherSlots: PgCheck = {
  id: 'other-slots',
  scope: 'leftovers',
  run: async ({ pool, table, names }) => {
    const heavy: string[] = [];
    const foreign: string[] = [];
    const prefix = slotPrefix(table.ref);
    // Slots kept for alter --revert: their own check, their WAL counted against the limit.
    const kept = await revertSlotNames(pool);
    for (const s of await ourSlots(pool)) {
      if (s.name.startsWith(prefix) || kept.has(s.name)) continue;
      if (!s.active) foreign.push(s.name);
      else if ((s.retained ?? 0) > names.maxRetainedWalBytes) heavy.push(`${s.name} (${s.retained} bytes)`);
    }
    return [
      {
        id: 'leftover-slots',
        title: `Inactive ${SLOT_PREFIX}* slots of other tables`,
        ok: foreign.length === 0,
        severity: 'warn',
        detail: foreign.length ? foreign.join(', ') : 'none',
        ...(foreign.length ? { fix: foreign.map(dropSlotFix).join(' ') } : {}),
      },
      {
        id: 'retained-wal',
        title: 'WAL retained by running ghostwright slots',
        ok: heavy.length === 0,
        severity: 'error',
        detail: heavy.length ? heavy.join(', ') : 'below the limit',
        ...(heavy.length ? { fix: 'wait for the other migration to finish, or abort it (its slot retains WAL)' } : {}),
      },
      await revertWindowCheck(pool, names.maxRetainedWalBytes),
    ];
  },
};
