/**
 * The end of a run's change stream and connections, shared by the online
 * ALTER and the revert of both engines. The applier stops before the
 * stream: it must not wait on a stream that is gone. A failure to stop
 * either is not reported: the run is over whichever way it ended, and the
 * caller's own error (if any) is the one that matters.
 */
export interface Stoppable {
  stop(): Promise<void>;
}

export async function stopApplierAndStream(applier: Stoppable | null | undefined, stream: Stoppable | null | undefined): Promise<void> {
  await applier?.stop().catch(() => undefined);
  await stream?.stop().catch(() => undefined);
}

/** Closes a run's connections once: cleanup() then abort(), or abort() twice, close them only the first time. */
export class CloseOnce {
  private closed = false;

  constructor(private readonly closeAll: () => Promise<void>) {}

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.closeAll();
  }
}
