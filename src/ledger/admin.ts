/**
 * The other ledger commands: info, validate, baseline, repair, undo, clean,
 * and the application's startup check requireSchemaVersion.
 */
import { GhostwrightError, RefusedError } from '../errors.js';
import { applyFile } from './apply.js';
import { ChangeLog, checkInterrupted } from './guard.js';
import { resolved, withEngine, withLock, withSession, type LedgerOptions, type LedgerRun } from './context.js';
import { dropObjects, ledgerDialect, listCleanObjects } from './dialect-sql.js';
import { loadMigrations, type MigrationSet } from './files.js';
import { computeInfo, validateInfo, type InfoEntry, type LedgerInfo, type ValidateProblem } from './info.js';
import { loadParsers } from './parsers.js';
import { applyContext, prepare } from './migrate.js';
import { compareVersions, parseVersion } from './version.js';

const EMPTY: MigrationSet = { versioned: [], undo: [], repeatable: [], callbacks: [], unrecognised: [] };

export interface InfoResult {
  current: string | null;
  entries: InfoEntry[];
  unrecognised: string[];
}

/** Attaches the recorded progress of partly applied (failed) files. */
async function withProgress(run: LedgerRun, result: LedgerInfo): Promise<LedgerInfo> {
  for (const e of result.entries) {
    if (e.state !== 'failed') continue;
    const p = await run.store.progress(e.script).catch(() => null);
    if (p) e.progress = { statementsDone: p.statementsDone, statementsTotal: p.statementsTotal, error: p.error };
  }
  return result;
}

export async function info(opts: LedgerOptions): Promise<InfoResult> {
  const files = loadMigrations(resolved(opts).dir);
  return withEngine(opts, async (run) => {
    const result = await withProgress(run, computeInfo(files, await run.store.list(), { target: opts.target, outOfOrder: opts.outOfOrder ?? false }));
    return { current: result.current?.text ?? null, entries: result.entries, unrecognised: files.unrecognised };
  });
}

export interface ValidateResult {
  valid: boolean;
  problems: ValidateProblem[];
}

export async function validate(opts: LedgerOptions): Promise<ValidateResult> {
  const files = loadMigrations(resolved(opts).dir);
  return withEngine(opts, async (run) => {
    const state = await withProgress(run, computeInfo(files, await run.store.list(), { outOfOrder: opts.outOfOrder ?? false }));
    const problems = validateInfo(state, { outOfOrder: opts.outOfOrder ?? false });
    return { valid: problems.length === 0, problems };
  });
}

export async function baseline(opts: LedgerOptions): Promise<{ version: string; created: boolean }> {
  const r = resolved(opts);
  const version = parseVersion(r.baselineVersion).text;
  return withLock(opts, async (run) => {
    const rows = await run.store.list();
    const existing = rows.find((row) => row.type === 'BASELINE');
    if (existing && existing.version !== null && parseVersion(existing.version).text === version) return { version, created: false };
    if (rows.length > 0) {
      throw new RefusedError('E_BASELINE_NOT_EMPTY', `the history table ${run.store.tableName} already has ${rows.length} row(s); a baseline only starts an empty history`, {
        hint: 'baseline is for an existing schema that was never migrated by ghostwright; use `info` to see the history',
      });
    }
    await run.store.create();
    await run.store.append({ version, description: r.baselineDescription, type: 'BASELINE', script: r.baselineDescription, checksum: null, installedBy: opts.installedBy ?? run.spec.user, executionTime: 0, success: true });
    return { version, created: true };
  });
}

export interface RepairResult {
  removedFailed: string[];
  realigned: string[];
  markedDeleted: string[];
}

/**
 * Flyway's repair: failed rows go (the partly applied file's progress stays,
 * so the next migrate resumes it), checksums and descriptions of applied
 * migrations are realigned with the files, and applied migrations whose file
 * is gone are marked deleted (a DELETE row) instead of reported missing.
 */
export async function repair(opts: LedgerOptions): Promise<RepairResult> {
  const files = loadMigrations(resolved(opts).dir);
  return withLock(opts, async (run) => {
    const result: RepairResult = { removedFailed: [], realigned: [], markedDeleted: [] };
    const rows = await run.store.list();
    const name = (v: string | null, s: string) => (v ? `${v} (${s})` : s);
    for (const row of rows) {
      if (!row.success && (row.type === 'SQL' || row.type === 'UNDO_SQL')) {
        await run.store.remove(row.installedRank);
        result.removedFailed.push(name(row.version, row.script));
      }
    }
    const info = computeInfo(files, await run.store.list(), {});
    const byVersion = new Map(files.versioned.map((f) => [f.version!.text, f]));
    for (const e of info.entries) {
      if (e.category !== 'versioned' || e.installedRank === null) continue;
      const file = e.version ? byVersion.get(e.version) : undefined;
      if (file && (e.state === 'success' || e.state === 'out-of-order') && (e.appliedChecksum !== file.checksum || e.description !== file.description)) {
        await run.store.realign(e.installedRank, { checksum: file.checksum, description: file.description });
        result.realigned.push(name(e.version, file.script));
      }
      if (e.state === 'missing') {
        await run.store.append({ version: e.version, description: e.description, type: 'DELETE', script: e.script, checksum: e.appliedChecksum, installedBy: opts.installedBy ?? run.spec.user, executionTime: 0, success: true });
        result.markedDeleted.push(name(e.version, e.script));
      }
    }
    return result;
  });
}

export interface UndoResult {
  undone: { version: string; script: string; executionTime: number }[];
  current: string | null;
}

/**
 * Runs U files in reverse version order and records each as UNDO_SQL.
 * Without --target: the latest applied version only. With --target V: every
 * applied version above V, leaving the schema at V. All U files must exist
 * before anything runs.
 */
export async function undo(opts: LedgerOptions): Promise<UndoResult> {
  const files = loadMigrations(resolved(opts).dir);
  await loadParsers();
  return withLock(opts, async (run) => {
    const before = computeInfo(files, await run.store.list(), {});
    const live = before.entries
      .filter((e) => e.category === 'versioned' && e.installedRank !== null && (e.state === 'success' || e.state === 'out-of-order' || e.state === 'future' || e.state === 'missing'))
      .map((e) => parseVersion(e.version!))
      .sort((a, b) => compareVersions(b, a));
    const target = opts.target ? parseVersion(opts.target) : null;
    const toUndo = target ? live.filter((v) => compareVersions(v, target) > 0) : live.slice(0, 1);
    if (toUndo.length === 0) return { undone: [], current: before.current?.text ?? null };
    const undoFiles = new Map(files.undo.map((f) => [f.version!.text, f]));
    const missing = toUndo.filter((v) => !undoFiles.has(v.text));
    if (missing.length) {
      throw new RefusedError('E_NO_UNDO', `no undo file for version(s) ${missing.map((v) => v.text).join(', ')}`, { hint: 'add U<version>__<description>.sql files; nothing was undone' });
    }
    const undone: UndoResult['undone'] = [];
    const changes = new ChangeLog();
    await withSession(run.engine, async (session) => {
      const ctx = applyContext(opts, run, session);
      for (const v of toUndo) {
        const file = undoFiles.get(v.text)!;
        checkInterrupted(opts.signal, `before ${file.script}`, `${undone.length ? `undone: ${undone.map((u) => u.version).join(', ')}; ` : ''}run \`ghostwright undo\` again for the rest`);
        run.log.info({ script: file.script }, `undoing version ${v.text}`);
        const res = await applyFile(ctx, { script: file.script, version: v.text, description: file.description, checksum: file.checksum, type: 'UNDO_SQL' }, await prepare(opts, run, file)).catch((err: unknown) => {
          throw changes.outcome(err);
        });
        undone.push({ version: v.text, script: file.script, executionTime: res.executionTime });
        changes.note(`undid ${file.script}`);
      }
    });
    const after = computeInfo(files, await run.store.list(), {});
    return { undone, current: after.current?.text ?? null };
  });
}

/** Drops every table, view, sequence, type and routine of the schema. Refused unless cleanEnabled. */
export async function clean(opts: LedgerOptions): Promise<{ dropped: string[] }> {
  if (!opts.cleanEnabled) {
    throw new RefusedError('E_CLEAN_DISABLED', 'clean drops every object in the schema and is disabled', { hint: 'pass --clean-enabled (never in production)' });
  }
  return withLock(opts, async (run) => {
    const q = listCleanObjects(run.store.names);
    const { rows } = await run.engine.execute(q.sql, q.params);
    const objects = rows.map((r) => ({ name: String(r.name), kind: String(r.kind) }));
    const statements = dropObjects(run.store.names, objects);
    await withSession(run.engine, async (session) => {
      // MySQL: foreign keys between the tables would otherwise dictate the order.
      for (const sql of ledgerDialect(run.engine.dialect).beforeClean) await session.query(sql);
      for (const sql of statements) {
        checkInterrupted(opts.signal, 'while cleaning', 'some objects were dropped; run `ghostwright clean` again to drop the rest');
        await session.query(sql);
      }
    });
    return { dropped: objects.map((o) => `${o.kind} ${o.name}`) };
  });
}

/**
 * The seed's startup check: throws when the schema is older than the
 * application needs. Returns the current version.
 */
export async function requireSchemaVersion(url: string, min: string, opts: Omit<LedgerOptions, 'url'> = {}): Promise<string> {
  const need = parseVersion(min);
  return withEngine({ ...opts, url }, async (run) => {
    const current = computeInfo(EMPTY, await run.store.list()).current;
    if (!current || compareVersions(current, need) < 0) {
      throw new GhostwrightError('E_SCHEMA_TOO_OLD', `schema version ${current?.text ?? '(none)'} is below the minimum ${need.text} this application requires`, {
        hint: 'run `ghostwright migrate` before starting the application',
      });
    }
    return current.text;
  });
}
