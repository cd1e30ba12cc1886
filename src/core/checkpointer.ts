/**
 * Writing checkpoints while a run goes on (core/checkpoint.ts says what one
 * holds and why it is safe to resume from). The copy reports each committed
 * chunk to CopyProgress; the Checkpointer writes progress and the engine's
 * restart position into the changelog every few seconds and at each phase
 * change. One small row replaced in place: cheap enough for every 2 s.
 */
import type { CopyRange, KeyTuple, Migration } from '../engine/engine.js';
import type { Logger } from '../log.js';
import { buildCheckpoint, type Checkpoint, type CheckpointPhase, type RangeProgress } from './checkpoint.js';

/** How far each copy range got: only chunks that committed, contiguous from the range's start. */
export class CopyProgress {
  private ranges: RangeProgress[] = [];

  /** rowsCopied: what the interrupted run had copied, on resume. */
  constructor(public rowsCopied = 0) {}

  /** The ranges of a fresh copy, or those of the checkpoint being resumed. */
  begin(ranges: readonly CopyRange[], resumed?: readonly RangeProgress[]): void {
    this.ranges = ranges.map((r, i) => ({ after: r.after, upTo: r.upTo, through: resumed?.[i]?.through ?? null, done: resumed?.[i]?.done ?? false }));
  }

  /** A chunk of range i committed, ending at `last` (null: the range is exhausted). */
  chunkDone(i: number, last: KeyTuple | null, rows: number): void {
    const r = this.ranges[i];
    if (!r) return;
    this.rowsCopied += rows;
    if (last === null) r.done = true;
    else r.through = last;
  }

  snapshot(): RangeProgress[] {
    return this.ranges.map((r) => ({ ...r }));
  }
}

export interface CheckpointerInit {
  migration: Pick<Migration, 'checkpoint' | 'restartPosition'>;
  /** schema.table */
  table: string;
  /** The ALTER clauses. */
  alter: string;
  key: { name: string; columns: readonly string[] };
  progress: CopyProgress;
  /** The run's state: a postponed cut-over is checkpointed as such. */
  state?: () => string;
  log: Logger;
  intervalMs?: number;
}

export class Checkpointer {
  private phase: CheckpointPhase = 'copying';
  private timer: NodeJS.Timeout | null = null;
  private busy: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly init: CheckpointerInit) {}

  /** From the copy's start on: a checkpoint now, then every interval. */
  async start(): Promise<void> {
    await this.write('copying');
    this.timer = setInterval(() => void this.tick(), this.init.intervalMs ?? 2000);
    this.timer.unref();
  }

  /** A phase change: written at once (awaited), periodic writes carry the phase on. */
  async write(phase: CheckpointPhase): Promise<void> {
    this.phase = phase;
    await this.busy?.catch(() => undefined);
    await this.tick();
  }

  /**
   * During the cut-over no periodic checkpoint: a failed attempt rolls back
   * changes whose positions the stream already passed (ChangeBacklog.redo),
   * so only the checkpoint written before the first attempt is safe.
   */
  pause(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  stop(): void {
    this.stopped = true;
    this.pause();
  }

  private tick(): Promise<void> {
    if (this.stopped || this.busy) return this.busy ?? Promise.resolve();
    const run = this.writeOnce().finally(() => {
      this.busy = null;
    });
    this.busy = run;
    return run;
  }

  private async writeOnce(): Promise<void> {
    const cp = this.build();
    if (!cp) return;
    try {
      await this.init.migration.checkpoint(cp);
    } catch (err) {
      this.init.log.warn({ err }, 'writing the checkpoint failed; the next one may succeed');
    }
  }

  /** Either order of the two reads is safe: progress only names committed chunks, the position only handled changes. */
  private build(): Checkpoint | null {
    const { migration, progress } = this.init;
    if (this.init.state?.() === 'postponed' && this.phase === 'catching-up') this.phase = 'postponed';
    const ranges = progress.snapshot();
    const position = migration.restartPosition();
    if (position === null || position === '') return null;
    return buildCheckpoint({ table: this.init.table, alter: this.init.alter, key: this.init.key, ranges, streamPosition: position, phase: this.phase, rowsCopied: progress.rowsCopied });
  }
}
