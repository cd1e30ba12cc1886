/**
 * The checkpoint of an online ALTER, engine-neutral: what a killed run
 * leaves in its changelog (`_t_ghc`) so that `alter --resume` can go on
 * where it stopped, and the checks a resume request must pass.
 *
 * What makes a checkpoint safe to resume from (the engines keep to it):
 * - `streamPosition` is the stream's LOW-WATER mark: every change before it
 *   is in the ghost, or was left to the copy of a key the copy had not yet
 *   reached (and the copy reads such a key as it is when it gets there).
 *   Changes at or after it are replayed; applying a change twice is
 *   harmless (the applier re-reads the original's current row of a key).
 * - each range's `through` is the last key of a chunk that COMMITTED, with
 *   every chunk before it in that range committed too (contiguous).
 *   Chunks that committed after the checkpoint was written are not vouched
 *   for: on resume the engine removes the ghost's rows of each unfinished
 *   range beyond `through` (the startStream of the ghost OnlineAlter.attach returns), and the copy
 *   reads them again. Without that, a replayed change to such a key would
 *   be left to a copy whose INSERT IGNORE keeps the ghost's stale row.
 *
 * Positions and keys are opaque to core: positions are the engine's text
 * ('mysql-bin.000003:4711', an LSN), key values travel as JSON with Buffers
 * as `{ "$hex": "..." }`.
 */
import { createHash } from 'node:crypto';
import type { Checkpoint, CheckpointPhase, CopyRange, KeyTuple, RangeProgress } from '../engine/engine.js';
import { RefusedError } from '../errors.js';
import { cleanupCommand } from './leftovers.js';

export const CHECKPOINT_FORMAT = 1;

export type { Checkpoint, CheckpointPhase, RangeProgress };

export function alterSha256(alter: string): string {
  return createHash('sha256').update(alter.trim(), 'utf8').digest('hex');
}

export function buildCheckpoint(o: {
  table: string;
  alter: string;
  key: { name: string; columns: readonly string[] };
  ranges: readonly RangeProgress[];
  streamPosition: string;
  phase: CheckpointPhase;
  rowsCopied: number;
  now?: Date;
}): Checkpoint {
  return {
    format: CHECKPOINT_FORMAT,
    table: o.table,
    alter: o.alter.trim(),
    alterSha256: alterSha256(o.alter),
    key: { name: o.key.name, columns: [...o.key.columns] },
    ranges: o.ranges.map((r) => ({ after: r.after, upTo: r.upTo, through: r.through, done: r.done })),
    streamPosition: o.streamPosition,
    phase: o.phase,
    rowsCopied: o.rowsCopied,
    writtenAt: (o.now ?? new Date()).toISOString(),
  };
}

// ---------------------------------------------------------------- JSON

function encodeValue(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return { $hex: v.toString('hex') };
  if (typeof v === 'bigint') return v.toString();
  return v;
}

function decodeValue(v: unknown): unknown {
  if (v && typeof v === 'object' && typeof (v as { $hex?: unknown }).$hex === 'string') return Buffer.from((v as { $hex: string }).$hex, 'hex');
  return v;
}

const encodeKey = (k: KeyTuple | null): unknown => (k === null ? null : k.map(encodeValue));
const decodeKey = (k: unknown): KeyTuple | null => (Array.isArray(k) ? k.map(decodeValue) : null);

/** The changelog's text of a checkpoint. */
export function serializeCheckpoint(cp: Checkpoint): string {
  return JSON.stringify({ ...cp, ranges: cp.ranges.map((r) => ({ ...r, after: encodeKey(r.after), upTo: encodeKey(r.upTo), through: encodeKey(r.through) })) });
}

/** Reads a changelog's checkpoint text; refuses (exit 2) what this version can't resume from. */
export function parseCheckpoint(text: string, table: string): Checkpoint {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw unreadable(table, 'it is not JSON', err);
  }
  if (raw.format !== CHECKPOINT_FORMAT) throw unreadable(table, `format ${String(raw.format ?? 'none')}, this version reads format ${CHECKPOINT_FORMAT}`);
  const ranges = raw.ranges;
  const key = raw.key as { name?: unknown; columns?: unknown } | undefined;
  if (!Array.isArray(ranges) || !key || typeof key.name !== 'string' || !Array.isArray(key.columns) || typeof raw.streamPosition !== 'string' || typeof raw.alter !== 'string') {
    throw unreadable(table, 'fields are missing');
  }
  return {
    format: CHECKPOINT_FORMAT,
    table: String(raw.table),
    alter: raw.alter,
    alterSha256: String(raw.alterSha256),
    key: { name: key.name, columns: key.columns.map(String) },
    ranges: ranges.map((r: Record<string, unknown>) => ({ after: decodeKey(r.after), upTo: decodeKey(r.upTo), through: decodeKey(r.through), done: r.done === true })),
    streamPosition: raw.streamPosition,
    phase: raw.phase as CheckpointPhase,
    rowsCopied: Number(raw.rowsCopied ?? 0),
    writtenAt: String(raw.writtenAt ?? ''),
  };
}

function unreadable(table: string, why: string, cause?: unknown): RefusedError {
  const [schema, ...rest] = table.split('.');
  return new RefusedError('E_CHECKPOINT_UNREADABLE', `the checkpoint of the interrupted run on ${table} cannot be read: ${why}`, {
    cause,
    hint: `the run cannot be resumed; remove what it left, then run again: ${cleanupCommand({ schema: schema!, name: rest.join('.') }, false)}`,
  });
}

// ---------------------------------------------------------------- resume decisions

export interface ResumeRequest {
  /** schema.table, as the run names it. */
  table: string;
  /** The ALTER clauses of this request. */
  alter: string;
  /** true: --resume; 'auto' (the ledger): resume a checkpoint if there is one, else start fresh. */
  resume: boolean | 'auto';
}

/**
 * What a run does about a checkpoint it found (or didn't): start fresh,
 * resume it, or refuse (exit 2) naming the way out. Pure.
 */
export function resumeDecision(found: Checkpoint | null, req: ResumeRequest): Checkpoint | null {
  const [schema, ...rest] = req.table.split('.');
  const cleanup = cleanupCommand({ schema: schema!, name: rest.join('.') }, false);
  if (!found) {
    if (req.resume !== true) return null;
    throw new RefusedError('E_NO_CHECKPOINT', `--resume: no interrupted run on ${req.table} to resume (no checkpoint in its changelog)`, {
      hint: `run without --resume to start over; if an earlier run left a ghost without a checkpoint (killed before its first one), remove it first: ${cleanup}`,
    });
  }
  if (!req.resume) {
    throw new RefusedError('E_CHECKPOINT_EXISTS', `an interrupted run on ${req.table} left a checkpoint (phase ${found.phase}, ${found.rowsCopied} rows copied, written ${found.writtenAt})`, {
      hint: `continue it: the same command with --resume (same --alter); or throw it away and start over: ${cleanup}`,
      details: { phase: found.phase, rowsCopied: found.rowsCopied },
    });
  }
  if (found.table !== req.table || found.alterSha256 !== alterSha256(req.alter)) {
    throw new RefusedError('E_CHECKPOINT_MISMATCH', `--resume: the interrupted run on ${found.table} applies a different ALTER: ${found.alter.slice(0, 200)}`, {
      hint: `resume with that exact --alter; or throw the run away and start over with the new one: ${cleanup}`,
      details: { checkpointAlter: found.alter },
    });
  }
  return found;
}

/** The key the resumed run plans must be the one the checkpoint's ranges are in. */
export function checkResumeKey(cp: Checkpoint, key: { name: string; columns: readonly string[] }): void {
  const same = cp.key.name === key.name && cp.key.columns.length === key.columns.length && cp.key.columns.every((c, i) => c === key.columns[i]);
  if (same) return;
  const [schema, ...rest] = cp.table.split('.');
  throw new RefusedError('E_CHECKPOINT_MISMATCH', `--resume: the interrupted run copied by key ${cp.key.name} (${cp.key.columns.join(', ')}), this one would copy by ${key.name} (${key.columns.join(', ')})`, {
    hint: `the table's keys changed since; the run cannot be resumed: ${cleanupCommand({ schema: schema!, name: rest.join('.') }, false)}, then run again`,
  });
}

/** Where each range's copy goes on from: the part after its progress, or nothing when done. */
export function remainingRanges(progress: readonly RangeProgress[]): Array<CopyRange | null> {
  return progress.map((r) => (r.done ? null : { after: r.through ?? r.after, upTo: r.upTo }));
}
