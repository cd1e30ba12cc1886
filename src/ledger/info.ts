/**
 * The state of every migration, from the files and the history rows: a pure
 * function, so each state is unit-tested without a database.
 *
 *   pending        file not applied yet (and will be by the next migrate)
 *   success        applied, file present
 *   failed         applied and failed (MySQL, or a partly committed file)
 *   outdated       repeatable applied with an older checksum (re-run pending)
 *   superseded     an older run of a repeatable
 *   ignored        older than the current version, not applied, out-of-order off
 *   missing        applied, file gone
 *   future         applied, newer than any file (a newer release applied it)
 *   baseline       the baseline marker
 *   below-baseline file at or under the baseline version: never applied
 *   undone         applied, then undone (the file is pending again)
 *   deleted        applied, then marked deleted by repair (file gone)
 *   out-of-order   applied after a higher version was already applied
 *   above-target   pending, but above --target
 */
import type { MigrationFile, MigrationSet } from './files.js';
import type { AppliedMigration, HistoryType } from './history.js';
import { compareVersions, maxVersion, parseVersion, type Version } from './version.js';

export type MigrationState =
  | 'pending'
  | 'success'
  | 'failed'
  | 'outdated'
  | 'superseded'
  | 'ignored'
  | 'missing'
  | 'future'
  | 'baseline'
  | 'below-baseline'
  | 'undone'
  | 'deleted'
  | 'out-of-order'
  | 'above-target';

export interface InfoEntry {
  category: 'versioned' | 'repeatable' | 'baseline' | 'undo';
  version: string | null;
  description: string;
  type: HistoryType | 'SQL';
  script: string;
  state: MigrationState;
  installedRank: number | null;
  installedOn: string | null;
  executionTime: number | null;
  /** Applied checksum differs from the file's. */
  checksumMismatch: boolean;
  appliedChecksum: number | null;
  fileChecksum: number | null;
  /** A partly applied (failed) file: how far it got. */
  progress?: { statementsDone: number; statementsTotal: number; error: string | null };
}

export interface InfoOptions {
  /** Migrate up to and including this version only. */
  target?: string;
  outOfOrder?: boolean;
}

export interface LedgerInfo {
  entries: InfoEntry[];
  /** Highest applied (not undone/deleted) version, or the baseline. */
  current: Version | null;
  /** Versioned files the next migrate would run, in order. */
  pendingVersioned: MigrationFile[];
  /** Repeatables whose checksum changed or that never ran, by description. */
  pendingRepeatable: MigrationFile[];
  baseline: Version | null;
}

const v = (text: string | null): Version | null => (text === null ? null : parseVersion(text));

export function computeInfo(files: MigrationSet, rows: readonly AppliedMigration[], options: InfoOptions = {}): LedgerInfo {
  const sorted = [...rows].sort((a, b) => a.installedRank - b.installedRank);
  const target = options.target ? parseVersion(options.target) : null;
  const fileByVersion = new Map(files.versioned.map((f) => [f.version!.text, f]));
  const latestFile = maxVersion(files.versioned.map((f) => f.version!));

  // Walk the history in order: what is the last word on each version?
  const undone = new Set<number>();
  const deleted = new Set<number>();
  const outOfOrder = new Set<number>();
  const liveByVersion = new Map<string, AppliedMigration>();
  let baseline: Version | null = null;
  let highestSoFar: Version | null = null;
  for (const row of sorted) {
    const version = v(row.version);
    if (row.type === 'BASELINE') {
      baseline = version;
      continue;
    }
    if (!version) continue;
    const key = version.text;
    if (row.type === 'UNDO_SQL') {
      const live = liveByVersion.get(key);
      if (row.success && live) {
        undone.add(live.installedRank);
        liveByVersion.delete(key);
      }
      continue;
    }
    if (row.type === 'DELETE') {
      const live = liveByVersion.get(key);
      if (live) {
        deleted.add(live.installedRank);
        liveByVersion.delete(key);
      }
      continue;
    }
    if (row.success && highestSoFar && compareVersions(version, highestSoFar) < 0) outOfOrder.add(row.installedRank);
    liveByVersion.set(key, row);
    if (row.success && (!highestSoFar || compareVersions(version, highestSoFar) > 0)) highestSoFar = version;
  }
  const liveSuccess = [...liveByVersion.values()].filter((r) => r.success).map((r) => parseVersion(r.version!));
  const current = maxVersion([...liveSuccess, ...(baseline ? [baseline] : [])]);

  const entries: InfoEntry[] = [];
  const entry = (e: Partial<InfoEntry> & Pick<InfoEntry, 'category' | 'version' | 'description' | 'script' | 'state'>): InfoEntry => ({
    type: 'SQL',
    installedRank: null,
    installedOn: null,
    executionTime: null,
    checksumMismatch: false,
    appliedChecksum: null,
    fileChecksum: null,
    ...e,
  });

  // Applied versioned rows, baseline and undo rows.
  for (const row of sorted) {
    if (row.type === 'DELETE' || row.version === null) continue;
    const version = parseVersion(row.version);
    const file = fileByVersion.get(version.text);
    const base = {
      version: version.text,
      description: row.description,
      type: row.type,
      script: row.script,
      installedRank: row.installedRank,
      installedOn: row.installedOn,
      executionTime: row.executionTime,
      appliedChecksum: row.checksum,
      fileChecksum: file?.checksum ?? null,
    };
    if (row.type === 'BASELINE') {
      entries.push(entry({ ...base, category: 'baseline', state: 'baseline', fileChecksum: null }));
      continue;
    }
    if (row.type === 'UNDO_SQL') {
      entries.push(entry({ ...base, category: 'undo', state: row.success ? 'success' : 'failed', fileChecksum: null }));
      continue;
    }
    let state: MigrationState;
    if (undone.has(row.installedRank)) state = 'undone';
    else if (deleted.has(row.installedRank)) state = 'deleted';
    else if (!row.success) state = 'failed';
    else if (!file) state = latestFile && compareVersions(version, latestFile) < 0 ? 'missing' : 'future';
    else if (outOfOrder.has(row.installedRank)) state = 'out-of-order';
    else state = 'success';
    const mismatch = !!file && row.success && state !== 'undone' && state !== 'deleted' && row.checksum !== file.checksum;
    entries.push(entry({ ...base, category: 'versioned', state, checksumMismatch: mismatch }));
  }

  // Versioned files not (or no longer) applied.
  const pendingVersioned: MigrationFile[] = [];
  for (const file of files.versioned) {
    const version = file.version!;
    if (liveByVersion.has(version.text)) continue;
    let state: MigrationState;
    if (baseline && compareVersions(version, baseline) <= 0) state = 'below-baseline';
    else if (target && compareVersions(version, target) > 0) state = 'above-target';
    else if (current && compareVersions(version, current) < 0 && !options.outOfOrder) state = 'ignored';
    else state = 'pending';
    if (state === 'pending') pendingVersioned.push(file);
    entries.push(entry({ category: 'versioned', version: version.text, description: file.description, script: file.script, state, fileChecksum: file.checksum }));
  }

  // Repeatables: the latest run of each is success or outdated; older runs are superseded.
  const pendingRepeatable: MigrationFile[] = [];
  const repeatFile = new Map(files.repeatable.map((f) => [f.description, f]));
  const lastRun = new Map<string, AppliedMigration>();
  for (const row of sorted) if (row.version === null && row.type === 'SQL' && row.success) lastRun.set(row.description, row);
  for (const row of sorted) {
    if (row.version !== null || row.type !== 'SQL') continue;
    const file = repeatFile.get(row.description);
    const isLast = lastRun.get(row.description) === row;
    let state: MigrationState;
    if (!row.success) state = 'failed';
    else if (!file) state = isLast ? 'missing' : 'superseded';
    else if (!isLast) state = 'superseded';
    else state = row.checksum === file.checksum ? 'success' : 'outdated';
    entries.push(
      entry({
        category: 'repeatable',
        version: null,
        description: row.description,
        script: row.script,
        state,
        installedRank: row.installedRank,
        installedOn: row.installedOn,
        executionTime: row.executionTime,
        appliedChecksum: row.checksum,
        fileChecksum: file?.checksum ?? null,
      }),
    );
  }
  for (const file of files.repeatable) {
    const last = lastRun.get(file.description);
    if (last && last.checksum === file.checksum) continue;
    pendingRepeatable.push(file);
    entries.push(entry({ category: 'repeatable', version: null, description: file.description, script: file.script, state: 'pending', fileChecksum: file.checksum }));
  }

  return { entries, current, pendingVersioned, pendingRepeatable, baseline };
}

/** What validate found wrong with one migration; `kind` is stable for scripts, `message` is for people. */
export interface ValidateProblem {
  kind: 'failed' | 'missing' | 'checksum-mismatch' | 'out-of-order';
  version: string | null;
  script: string;
  message: string;
}

/** One problem per migration that fails validation; empty when valid. */
export function validateInfo(info: LedgerInfo, options: InfoOptions = {}): ValidateProblem[] {
  const problems: ValidateProblem[] = [];
  for (const e of info.entries) {
    if (e.category === 'undo' || e.category === 'baseline') continue;
    const name = e.version ? `version ${e.version}` : `repeatable "${e.description}"`;
    const problem = (kind: ValidateProblem['kind'], text: string): void => {
      problems.push({ kind, version: e.version ?? null, script: e.script, message: `${name} (${e.script}) ${text}` });
    };
    if (e.state === 'failed') {
      const p = e.progress;
      const where = p ? `: statement ${p.statementsDone + 1} of ${p.statementsTotal} failed${p.error ? ` (${p.error})` : ''}, statements 1..${p.statementsDone} are applied` : '';
      problem('failed', `failed${where}: run \`ghostwright repair\` after fixing it`);
    } else if (e.state === 'missing' && e.category === 'versioned') problem('missing', 'is applied but its file is missing');
    else if (e.checksumMismatch) {
      problem('checksum-mismatch', `checksum mismatch: applied ${e.appliedChecksum}, file ${e.fileChecksum}`);
    } else if (e.state === 'ignored' && !options.outOfOrder) {
      problem('out-of-order', `is not applied and older than the current version ${info.current?.text ?? ''}: use --out-of-order to apply it`);
    }
  }
  return problems;
}
