/**
 * The copy gate: chunk copies and stream applies never overlap.
 *
 * A chunk is one `INSERT ... SELECT` that reads the original under a snapshot
 * taken when the statement starts, without locking the rows it reads (READ
 * COMMITTED on MySQL, the default on PostgreSQL). A row deleted while that
 * statement runs is still in its snapshot: if the delete's event were applied
 * to the ghost before the chunk inserted the row, the chunk would resurrect
 * it. Holding applies back while any chunk runs closes that window: every
 * change committed after a chunk's snapshot is applied after the chunk. This
 * spares the application the shared row locks gh-ost's copy takes.
 *
 * Copies share the gate (parallel workers); an apply takes it exclusively.
 */
export class CopyGate {
  private copies = 0;
  private applying = false;
  /** Applies waiting: new copies queue behind them so the backlog can't starve. */
  private applyWaiting = 0;
  private waiters: Array<() => void> = [];

  async enterCopy(): Promise<void> {
    while (this.applying || this.applyWaiting > 0) await this.wait();
    this.copies++;
  }

  leaveCopy(): void {
    this.copies--;
    this.wake();
  }

  async enterApply(): Promise<void> {
    this.applyWaiting++;
    try {
      while (this.applying || this.copies > 0) await this.wait();
    } finally {
      this.applyWaiting--;
    }
    this.applying = true;
  }

  leaveApply(): void {
    this.applying = false;
    this.wake();
  }

  async copy<T>(fn: () => Promise<T>): Promise<T> {
    await this.enterCopy();
    try {
      return await fn();
    } finally {
      this.leaveCopy();
    }
  }

  async apply<T>(fn: () => Promise<T>): Promise<T> {
    await this.enterApply();
    try {
      return await fn();
    } finally {
      this.leaveApply();
    }
  }

  private wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w();
  }
}
