/**
 * Revert after cut-over on PostgreSQL (engine/revert-contract.ts).
 */
import type { Logger } from '../../log.js';
import { RefusedError } from '../../errors.js';
import type { RevertJob, RevertRequest } from '../revert-contract.js';

export function pgRevert(request: RevertRequest, _log: Logger): RevertJob {
  const refuse = async (): Promise<never> => {
    throw new RefusedError('E_REVERT_NO_WINDOW', `no revert window is kept for ${request.table.schema}.${request.table.name}: PostgreSQL keeps the writes since a cut-over only when that alter ran with --revert-window`, {
      hint: 'revert with a forward ALTER instead (ghostwright alter --alter "..."); next time, run the alter with --revert-window 1h',
    });
  };
  const nothing = async (): Promise<void> => undefined;
  return { prepare: refuse, startStream: refuse, waitCaughtUp: refuse, openVerifyPoint: refuse, recopyRange: refuse, cutOver: refuse, streamStats: () => ({ eventsApplied: 0, backlog: 0, appliedPosition: '' }), cleanup: nothing, abort: nothing };
}
