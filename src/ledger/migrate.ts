/**
 * `migrate`, as the runbook a release engineer would follow:
 *   lock -> history table (or baseline an existing schema) -> validate ->
 *   beforeMigrate -> each pending versioned file in order -> changed
 *   repeatables -> afterMigrate   (afterMigrateError when something failed)
 * Everything after the lock is read fresh, so a second runner that waited
 * for the lock finds nothing left to do: each migration applies exactly once.
 */
import { RefusedError, withPartial } from '../errors.js';
import { runOnlineAlter } from '../alter.js';
import { applyFile, statementsChecksum, type ApplyContext } from './apply.js';
import { ChangeLog, checkInterrupted } from './guard.js';
import type { AppliedMigration, NewHistoryRow } from './history.js';
import { resolved, withEngine, withLock, withSession, type LedgerOptions, type LedgerRun } from './context.js';
import { listTables, PROGRESS_SUFFIX } from './dialect-sql.js';
import { loadMigrations, type CallbackEvent, type MigrationFile, type MigrationSet } from './files.js';
import { computeInfo, validateInfo, type LedgerInfo } from './info.js';
import { loadParsers } from './parsers.js';
import { replacePlaceholders, type BuiltinPlaceholders } from './placeholders.js';
import { planStatements, type PlannedStatement } from './plan.js';
import { splitStatements } from './splitter.js';
import type { SqlSession } from '../engine/engine.js';

export interface AppliedFile {
  version: string | null;
  description: string;
  script: string;
  executionTime: number;
  statements: number;
  resumedAt: number | null;
}

export interface DryRunFile {
  version: string | null;
  script: string;
  statements: Pick<PlannedStatement, 'index' | 'line' | 'path' | 'why' | 'sql'>[];
}

export interface MigrateResult {
  applied: AppliedFile[];
  /** Schema version after the run. */
  current: string | null;
  baselined: string | null;
  dryRun?: DryRunFile[];
}

export function builtins(run: LedgerRun, table: string, script: string): BuiltinPlaceholders {
  return {
    defaultSchema: run.engine.tableRef(table).schema,
    user: run.spec.user,
    database: run.spec.database,
    table,
    filename: script.slice(script.lastIndexOf('/') + 1),
    timestamp: new Date().toISOString(),
  };
}

/** Placeholders replaced, split, and planned: what will run for this file. */
export async function prepare(opts: LedgerOptions, run: LedgerRun, file: { text: string; script: string }): Promise<PlannedStatement[]> {
  const r = resolved(opts);
  const text = opts.placeholderReplacement === false ? file.text : replacePlaceholders(file.text, opts.placeholders ?? {}, file.script, builtins(run, r.table, file.script));
  const statements = splitStatements(text, run.engine.dialect);
  return planStatements({ engine: run.engine, serverVersion: run.serverVersion, onlineThreshold: r.onlineThreshold }, statements);
}

/** Runs the callbacks of one event; true when any ran. */
export async function runCallbacks(opts: LedgerOptions, run: LedgerRun, session: SqlSession, files: MigrationSet, event: CallbackEvent): Promise<boolean> {
  const callbacks = files.callbacks.filter((c) => c.event === event);
  for (const cb of callbacks) {
    run.log.info({ callback: cb.script }, `running ${event} callback`);
    const planned = await prepare(opts, run, cb);
    for (const p of planned) await session.query(p.sql);
  }
  return callbacks.length > 0;
}

/**
 * The history as migrate will find it, read without writing anything: an
 * existing schema without a history table needs a baseline first (Flyway's
 * rule), which --baseline-on-migrate supplies. Nothing is created here, so a
 * refusal leaves the database as it was.
 */
async function readHistory(opts: LedgerOptions, run: LedgerRun): Promise<{ rows: AppliedMigration[]; exists: boolean; baseline: NewHistoryRow | null }> {
  const r = resolved(opts);
  if (await run.store.exists()) return { rows: await run.store.list(), exists: true, baseline: null };
  const q = listTables(run.store.names);
  const { rows } = await run.engine.execute(q.sql, q.params);
  const others = rows.map((row) => String(row.name)).filter((n) => n !== r.table && n !== r.table + PROGRESS_SUFFIX);
  if (others.length === 0) return { rows: [], exists: false, baseline: null };
  if (!opts.baselineOnMigrate) {
    throw new RefusedError('E_NON_EMPTY_SCHEMA', `found a non-empty schema (${others.slice(0, 5).join(', ')}${others.length > 5 ? ', ...' : ''}) without a history table`, {
      hint: 'run `ghostwright baseline --baseline-version <version>` first, or pass --baseline-on-migrate',
    });
  }
  const baseline: NewHistoryRow = {
    version: r.baselineVersion,
    description: r.baselineDescription,
    type: 'BASELINE',
    script: r.baselineDescription,
    checksum: null,
    installedBy: opts.installedBy ?? run.spec.user,
    executionTime: 0,
    success: true,
  };
  return { rows: [{ ...baseline, installedRank: 1, installedOn: '' }], exists: false, baseline };
}

/**
 * Refusals that need no server work, for every pending file before the first
 * one runs: unknown placeholders, and a partly applied file that no longer
 * starts with the statements already applied.
 */
async function precheck(opts: LedgerOptions, run: LedgerRun, files: MigrationSet, pending: MigrationFile[], historyExists: boolean): Promise<void> {
  const r = resolved(opts);
  for (const file of [...pending, ...files.callbacks]) {
    const text = opts.placeholderReplacement === false ? file.text : replacePlaceholders(file.text, opts.placeholders ?? {}, file.script, builtins(run, r.table, file.script));
    if (!historyExists || !('version' in file)) continue;
    const previous = await run.store.progress(file.script).catch(() => null);
    if (!previous || previous.statementsDone === 0) continue;
    const prefix = splitStatements(text, run.engine.dialect).slice(0, previous.statementsDone);
    if (prefix.length < previous.statementsDone || statementsChecksum(prefix) !== previous.doneChecksum) {
      throw new RefusedError('E_RESUME_MISMATCH', `${file.script}: statements 1..${previous.statementsDone} were applied by an earlier run, but the file no longer starts with them`, {
        hint: `restore those statements in the file (fix only statement ${previous.statementsDone + 1} onwards), or, after reverting them by hand, delete the row of ${file.script} from the progress table`,
      });
    }
  }
}

function refuseInvalid(info: LedgerInfo, opts: LedgerOptions): void {
  const problems = validateInfo(info, { outOfOrder: opts.outOfOrder ?? false });
  if (problems.length > 0) {
    throw new RefusedError('E_VALIDATE', `validation failed before migrating:\n  ${problems.map((p) => p.message).join('\n  ')}`, {
      hint: 'fix the files, or run `ghostwright repair` for failed migrations and realigned checksums',
    });
  }
}

async function dryRun(opts: LedgerOptions, run: LedgerRun, files: MigrationSet): Promise<MigrateResult> {
  const rows = await run.store.list();
  const info = computeInfo(files, rows, { target: opts.target, outOfOrder: opts.outOfOrder ?? false });
  const out: DryRunFile[] = [];
  for (const file of [...info.pendingVersioned, ...info.pendingRepeatable]) {
    const planned = await prepare(opts, run, file);
    out.push({ version: file.version?.text ?? null, script: file.script, statements: planned.map(({ index, line, path, why, sql }) => ({ index, line, path, why, sql })) });
  }
  return { applied: [], current: info.current?.text ?? null, baselined: null, dryRun: out };
}

export async function migrate(opts: LedgerOptions): Promise<MigrateResult> {
  const files = loadMigrations(resolved(opts).dir);
  await loadParsers();
  if (opts.dryRun) return withEngine(opts, (run) => dryRun(opts, run, files));
  return withLock(opts, async (run) => {
    // Read and check everything first: a refusal (exit 2) must leave the database as it was.
    const found = await readHistory(opts, run);
    const info = computeInfo(files, found.rows, { target: opts.target, outOfOrder: opts.outOfOrder ?? false });
    if (opts.validateOnMigrate !== false) refuseInvalid(info, opts);
    const pending = [...info.pendingVersioned, ...info.pendingRepeatable];
    await precheck(opts, run, files, pending, found.exists);
    checkInterrupted(opts.signal, 'before anything was changed', 'nothing was applied; run `ghostwright migrate` again');

    const changes = new ChangeLog();
    const applied: AppliedFile[] = [];
    try {
      // The progress table of older installs is added here too (IF NOT EXISTS).
      await run.store.create();
      if (!found.exists) changes.note(`created ${run.store.tableName}`);
      if (found.baseline) {
        await run.store.append(found.baseline);
        changes.note(`baselined at ${found.baseline.version}`);
        run.log.info({ version: found.baseline.version }, 'baselined the existing schema');
      }
      await withSession(run.engine, async (session) => {
        const ctx = applyContext(opts, run, session);
        try {
          if (await runCallbacks(opts, run, session, files, 'beforeMigrate')) changes.note('ran beforeMigrate');
          for (const file of pending) {
            checkInterrupted(opts.signal, `before ${file.script}`, `${applied.length ? `applied ${applied.map((a) => a.script).join(', ')}; ` : ''}run \`ghostwright migrate\` again to apply the rest`);
            applied.push(await applyOne(opts, run, ctx, files, file));
            changes.note(`applied ${file.script}`);
          }
          await runCallbacks(opts, run, session, files, 'afterMigrate');
        } catch (err) {
          await runCallbacks(opts, run, session, files, 'afterMigrateError').catch((e: unknown) => run.log.error({ err: e }, 'afterMigrateError callback failed'));
          throw err;
        }
      });
    } catch (err) {
      // The error carries what this run applied before it (--json prints it as "applied").
      throw withPartial(changes.outcome(err), { applied, baselined: found.baseline?.version ?? null });
    }
    const after = computeInfo(files, await run.store.list(), { target: opts.target });
    return { applied, current: after.current?.text ?? null, baselined: found.baseline?.version ?? null };
  });
}

/** What applying a file needs, for migrate and undo alike. */
export function applyContext(opts: LedgerOptions, run: LedgerRun, session: SqlSession): ApplyContext {
  return {
    engine: run.engine,
    session,
    store: run.store,
    log: run.log,
    url: opts.url,
    online: opts.online ?? runOnlineAlter,
    onlineOptions: { ...(opts.onlineOptions ?? {}), ...(opts.password !== undefined ? { password: opts.password } : {}) },
    installedBy: opts.installedBy ?? run.spec.user,
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
}

async function applyOne(opts: LedgerOptions, run: LedgerRun, ctx: ApplyContext, files: MigrationSet, file: MigrationFile): Promise<AppliedFile> {
  const planned = await prepare(opts, run, file);
  await runCallbacks(opts, run, ctx.session, files, 'beforeEachMigrate');
  run.log.info({ script: file.script, statements: planned.length }, `migrating ${file.version ? `to version ${file.version.text}` : `repeatable "${file.description}"`}`);
  const result = await applyFile(ctx, { script: file.script, version: file.version?.text ?? null, description: file.description, checksum: file.checksum, type: 'SQL' }, planned);
  await runCallbacks(opts, run, ctx.session, files, 'afterEachMigrate');
  return { version: file.version?.text ?? null, description: file.description, script: file.script, ...result };
}
