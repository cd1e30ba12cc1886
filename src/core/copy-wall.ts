/**
 * Where the copy phase's WALL time went, beside run-stats' counters, which
 * sum over the copy workers (two workers waiting 1 s each count 2 s there)
 * and the report's `phases` (seconds per run state, core/run-state.ts). At
 * each moment of the copy the workers may do different things; the moment
 * counts for the most productive one (a chunk running beats a boundary read
 * beats any wait), so the parts add up to the copy's wall time and
 * "throttle 20 s" means 20 s in which NO worker copied because of the
 * throttler.
 *
 * Pure bookkeeping: callers give times (Date.now() values).
 */

/** What a copy worker does, most productive first (the order decides overlaps). */
export const COPY_ACTIVITIES = ['chunk', 'boundary', 'window', 'backlog', 'throttle', 'share'] as const;
export type CopyActivity = (typeof COPY_ACTIVITIES)[number];

/**
 * Wall ms of the copy by activity: chunk (an INSERT ... SELECT running),
 * boundary (finding a chunk's end), window (waiting for an exclusive apply
 * batch or the cut-over), backlog (the stream's backlog above
 * --max-backlog-events), throttle (the throttler said wait), share (resting
 * for --max-share), idle (none of these: splitting the key space, scheduling,
 * workers that finished early).
 */
export type CopyWall = Record<CopyActivity | 'idle', number>;

interface Span {
  activity: CopyActivity;
  from: number;
  to: number;
}

export class CopyWallClock {
  private readonly spans: Span[] = [];

  constructor(private readonly startedAt: number) {}

  /** A copy worker spent [from, to) on `activity`. */
  span(activity: CopyActivity, from: number, to: number): void {
    if (to > from) this.spans.push({ activity, from, to });
  }

  /** The copy's wall time from its start up to `at`, by activity. */
  result(at = Date.now()): CopyWall {
    return wallBreakdown(this.spans, this.startedAt, at);
  }
}

/** Splits [from, to) by the most productive activity under way at each moment; moments with none are idle. */
export function wallBreakdown(spans: readonly Span[], from: number, to: number): CopyWall {
  const out: CopyWall = { chunk: 0, boundary: 0, window: 0, backlog: 0, throttle: 0, share: 0, idle: 0 };
  if (to <= from) return out;
  const rank = new Map<CopyActivity, number>(COPY_ACTIVITIES.map((a, i) => [a, i]));
  const edges: Array<{ at: number; rank: number; delta: 1 | -1 }> = [];
  for (const s of spans) {
    const a = Math.max(from, s.from);
    const b = Math.min(to, s.to);
    if (b <= a) continue;
    edges.push({ at: a, rank: rank.get(s.activity)!, delta: 1 }, { at: b, rank: rank.get(s.activity)!, delta: -1 });
  }
  edges.sort((x, y) => x.at - y.at);
  const open = new Array<number>(COPY_ACTIVITIES.length).fill(0);
  let t = from;
  const settle = (until: number): void => {
    const top = open.findIndex((n) => n > 0);
    out[top < 0 ? 'idle' : COPY_ACTIVITIES[top]!] += until - t;
    t = until;
  };
  for (const e of edges) {
    if (e.at > t) settle(e.at);
    open[e.rank]! += e.delta;
  }
  settle(to);
  return out;
}
