/**
 * Applies one migration file, statement by statement, and records it.
 *
 * Where DDL is transactional (PostgreSQL) the statements of the file run in
 * one transaction together with their history row: either all of it is
 * applied and recorded, or nothing. Statements that can't run in a
 * transaction, and ALTERs handed to the online engine, split the file: what
 * came before is committed with a progress row, they run alone, and progress
 * is recorded after them.
 *
 * Where DDL is not transactional (MySQL: every DDL commits implicitly), each
 * statement is applied and its progress recorded in turn. A failure at
 * statement k records a failed history row and "k-1 of n done", so `info`
 * says exactly what is applied, and after `repair` the next migrate resumes
 * at statement k, provided statements 1..k-1 are unchanged in the file.
 */
import type { Engine, SqlSession } from '../engine/engine.js';
import { exitForStatus, GhostwrightError, isGhostwrightError, RefusedError } from '../errors.js';
import type { Logger } from '../log.js';
import { alterOptions, type AlterOptions } from '../core/options.js';
import type { AlterReport } from '../core/report.js';
import { crc32 } from './checksum.js';
import type { HistoryStore, HistoryType } from './history.js';
import { checkInterrupted, leftoversHint, nothingChangedCode } from './guard.js';
import { runsInTransaction, type PlannedStatement } from './plan.js';

export type OnlineRunner = (options: AlterOptions, deps: { log: Logger; signal?: AbortSignal }) => Promise<AlterReport>;

export interface ApplyContext {
  engine: Pick<Engine, 'capabilities' | 'dialect'>;
  session: SqlSession;
  store: HistoryStore;
  log: Logger;
  url: string;
  online: OnlineRunner;
  /** Throttle and copy settings for delegated ALTERs. */
  onlineOptions: Partial<AlterOptions>;
  installedBy: string;
  /** SIGINT/SIGTERM: stop at the next statement; a delegated ALTER aborts and cleans up. */
  signal?: AbortSignal;
}

export interface ApplyTarget {
  script: string;
  version: string | null;
  description: string;
  checksum: number;
  type: Extract<HistoryType, 'SQL' | 'UNDO_SQL'>;
}

export interface ApplyResult {
  executionTime: number;
  statements: number;
  resumedAt: number | null;
}

/** CRC32 of the statements already applied, to check a resumed file starts the same. */
export function statementsChecksum(planned: readonly Pick<PlannedStatement, 'sql'>[]): number {
  return crc32(Buffer.from(planned.map((p) => p.sql).join('\n;\n'), 'utf8')) | 0;
}

export async function applyFile(ctx: ApplyContext, target: ApplyTarget, planned: PlannedStatement[]): Promise<ApplyResult> {
  const total = planned.length;
  const tx = ctx.engine.capabilities.transactionalDdl;
  let done = 0;
  const previous = await ctx.store.progress(target.script);
  if (previous && previous.statementsDone > 0) {
    const prefix = planned.slice(0, previous.statementsDone);
    if (prefix.length < previous.statementsDone || statementsChecksum(prefix) !== previous.doneChecksum) {
      throw new RefusedError('E_RESUME_MISMATCH', `${target.script}: statements 1..${previous.statementsDone} were applied by an earlier run, but the file no longer starts with them`, {
        hint: `restore those statements in the file (fix only statement ${previous.statementsDone + 1} onwards), or, after reverting them by hand, delete the row of ${target.script} from the progress table`,
      });
    }
    done = previous.statementsDone;
    ctx.log.info({ script: target.script, statement: done + 1, total }, 'resuming a partly applied migration');
  }
  const doneAtStart = done;
  const resumedAt = done > 0 ? done + 1 : null;
  const stopHere = (n: number) => checkInterrupted(ctx.signal, `before statement ${n + 1} of ${target.script}`, `statements 1..${n} of ${target.script} are applied and recorded; run \`ghostwright migrate\` again: it resumes at statement ${n + 1}`);
  const started = Date.now();
  const progress = (n: number, error: string | null) => ({
    script: target.script,
    version: target.version,
    statementsDone: n,
    statementsTotal: total,
    doneChecksum: statementsChecksum(planned.slice(0, n)),
    error,
  });
  const history = (success: boolean) => ({
    version: target.version,
    description: target.description,
    type: target.type,
    script: target.script,
    checksum: target.checksum,
    installedBy: ctx.installedBy,
    executionTime: Date.now() - started,
    success,
  });

  let current = done;
  try {
    while (done < total) {
      stopHere(done);
      if (runsInTransaction(planned[done]!, tx)) {
        let end = done;
        while (end < total && runsInTransaction(planned[end]!, tx)) end++;
        await ctx.session.query('BEGIN');
        try {
          for (current = done; current < end; current++) {
            if (current > done) stopHere(done);
            await runStatement(ctx, planned[current]!);
          }
          if (end === total) {
            await ctx.store.append(history(true), ctx.session);
            await ctx.store.clearProgress(target.script, ctx.session);
          } else await ctx.store.saveProgress(progress(end, null), ctx.session);
          await ctx.session.query('COMMIT');
        } catch (err) {
          await ctx.session.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
        done = end;
        if (done === total) return { executionTime: Date.now() - started, statements: total, resumedAt };
      } else {
        current = done;
        await runStatement(ctx, planned[done]!);
        done++;
        if (done < total) await ctx.store.saveProgress(progress(done, null));
      }
    }
    await ctx.store.append(history(true));
    await ctx.store.clearProgress(target.script);
    return { executionTime: Date.now() - started, statements: total, resumedAt };
  } catch (err) {
    const failed = planned[current];
    const message = err instanceof Error ? err.message : String(err);
    const where = failed ? `statement ${failed.index} of ${total} (line ${failed.line})` : 'recording';
    if (ctx.signal?.aborted) {
      if (done > 0) {
        await ctx.store.saveProgress(progress(done, `interrupted by ${String(ctx.signal.reason)}`)).catch((e: unknown) => ctx.log.error({ err: e }, 'could not record progress'));
      }
      throw new GhostwrightError('E_INTERRUPTED', `${target.script}: interrupted by ${String(ctx.signal.reason)} at ${where}`, { hint: interruptedHint(ctx.url, target.script, done, failed, err), cause: err });
    }
    // A refused delegated ALTER changed nothing; when nothing else of the file ran in this run, the refusal stands (exit 2).
    if (isGhostwrightError(err) && nothingChangedCode(err.exitCode) && done === doneAtStart) throw err;
    // Something stayed applied: say so in the history (Flyway's failed row) and remember where.
    const partial = !tx || done > 0;
    if (partial) {
      await ctx.store.append(history(false)).catch((e: unknown) => ctx.log.error({ err: e }, 'could not record the failed migration'));
      await ctx.store.saveProgress(progress(done, message)).catch((e: unknown) => ctx.log.error({ err: e }, 'could not record progress'));
    }
    const inner = isGhostwrightError(err) && err.hint ? ` (${err.hint})` : '';
    const hint = partial
      ? `statements 1..${done} stay applied; fix statement ${done + 1} in ${target.script}${inner}, run \`ghostwright repair\`, and migrate resumes at statement ${done + 1}`
      : `nothing of this file was applied (the transaction rolled back); fix it and migrate again${inner}`;
    throw new GhostwrightError('E_MIGRATION_FAILED', `${target.script}: ${where} failed: ${message}`, { hint, cause: err });
  }
}

/** What an interrupted file left and what to run next. */
function interruptedHint(url: string, script: string, done: number, failed: PlannedStatement | undefined, err: unknown): string {
  const applied = done > 0 ? `statements 1..${done} of ${script} are applied and recorded` : `nothing of ${script} was applied`;
  const rerun = `run \`ghostwright migrate\` again: it resumes at statement ${done + 1}`;
  const online = failed?.alter && (failed.path === 'online' || (failed.path === 'instant' && failed.fallback === 'online'));
  if (!online) return `${applied}; ${rerun}`;
  const table = failed.alter!.table;
  // E_INTERRUPTED from the online engine means its own abort ran: helpers dropped, original untouched.
  if (isGhostwrightError(err) && err.code === 'E_INTERRUPTED') {
    return `${applied}; the online ALTER of ${table} (statement ${failed.index}) was stopped and rolled back (its ghost, changelog, replication slot, publication and socket are gone; ${table} is as it was); ${rerun}`;
  }
  // The engine kept its ghost and checkpoint (the server went away): the rerun resumes it.
  if (isGhostwrightError(err) && err.hint?.includes('--resume')) {
    return `${applied}; the online ALTER of ${table} (statement ${failed.index}) kept its ghost and checkpoint: run \`ghostwright migrate\` again and it resumes that ALTER from the checkpoint (to start it over instead: ${leftoversHint(url, table)})`;
  }
  return `${applied}; the online ALTER of ${table} (statement ${failed.index}) may have left its helpers behind: ${leftoversHint(url, table)}`;
}

// ---------------------------------------------------------------- one statement

/** The server refused ALGORITHM=INSTANT for this change (nothing was done). */
export function isInstantRefusal(err: unknown): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    const errno = (e as { errno?: number }).errno;
    if (errno === 1845 || errno === 1846 || errno === 1800) return true;
    if (/ALGORITHM=INSTANT is not supported|Unknown ALGORITHM 'INSTANT'/i.test((e as Error).message ?? '')) return true;
  }
  return false;
}

/** The clause goes on its own line: a trailing `-- comment` in the statement must not swallow it. */
export function withInstant(sql: string): string {
  return `${sql}\n, ALGORITHM=INSTANT`;
}

export async function runStatement(ctx: ApplyContext, p: PlannedStatement): Promise<void> {
  switch (p.path) {
    case 'direct':
    case 'no-transaction':
      await ctx.session.query(p.sql);
      return;
    case 'instant': {
      if (/\bALGORITHM\s*=/i.test(p.sql)) {
        await ctx.session.query(p.sql);
        return;
      }
      try {
        await ctx.session.query(withInstant(p.sql));
        ctx.log.info({ statement: p.index }, 'ALTER ran with ALGORITHM=INSTANT');
        return;
      } catch (err) {
        if (!isInstantRefusal(err)) throw err;
        ctx.log.info({ statement: p.index, fallback: p.fallback }, 'server refused ALGORITHM=INSTANT; falling back');
      }
      if (p.fallback === 'online') await runOnline(ctx, p);
      else await ctx.session.query(p.sql);
      return;
    }
    case 'online':
      await runOnline(ctx, p);
      return;
    default: {
      const never: never = p.path;
      throw new Error(`unknown path ${String(never)}`);
    }
  }
}

async function runOnline(ctx: ApplyContext, p: PlannedStatement): Promise<void> {
  if (!p.alter) throw new Error('online path without an ALTER');
  ctx.log.info({ table: p.alter.table, estimatedRows: p.alter.estimatedRows }, 'handing the ALTER to the online engine');
  // An earlier migrate killed during this ALTER left its checkpoint: the ALTER resumes from it.
  const options = alterOptions({ ...ctx.onlineOptions, url: ctx.url, table: p.alter.table, alter: p.alter.clauses, execute: true, resume: 'auto' });
  const report = await ctx.online(options, { log: ctx.log, ...(ctx.signal ? { signal: ctx.signal } : {}) });
  if (report.resumed) ctx.log.warn({ table: p.alter.table, ...report.resumed }, 'the online ALTER interrupted by an earlier migrate was resumed from its checkpoint, not started over');
  if (report.status !== 'done') {
    const e = report.error;
    throw new GhostwrightError(e?.code ?? 'E_ONLINE_ALTER', `online ALTER of ${p.alter.table} ${report.status}: ${e?.message ?? 'no detail'}`, {
      ...(e?.hint ? { hint: e.hint } : {}),
      exitCode: report.status === 'dry-run' ? 1 : exitForStatus(report.status),
      ...(e?.details ? { details: e.details } : {}),
    });
  }
}
