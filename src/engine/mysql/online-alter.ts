/**
 * One online ALTER of one MySQL/MariaDB table: the OnlineAlter handle (see
 * online-alter-contract.ts). Ghost `_t_gho` created LIKE the original and
 * ALTERed, changelog `_t_ghc`; only what this run created is ever dropped.
 * The ghost's startStream() hands the running migration to migration.ts
 * (binlog stream, copy, apply, cut-over).
 */
import type { Pool } from 'mysql2/promise';
import type { ConnectionSpec } from '../../connection.js';
import type { Logger } from '../../log.js';
import { RefusedError } from '../../errors.js';
import type { CopyPlan } from '../../core/columns.js';
import type { AlterRequest, CheckResult, Ghost, HelperTables, OnlineAlter, ProbedGhost, ServerInfo, TableInfo, TableRef } from '../engine.js';
import { createPool, openConnection, queryExec, queryRows, ROW_SESSION_SETUP } from './connect.js';
import { alterPreflight } from './preflight.js';
import { inspectTable } from './inspect.js';
import { qualified } from './ident.js';
import { buildCreateChangelog } from './sql.js';
import { proveAlterPrivately, type ProvedGhost } from './dry-run.js';
import type { Checkpoint } from '../../core/checkpoint.js';
import { checkBinlogAvailable, parsePosition, readMysqlCheckpoint } from './resume.js';
import { MysqlLoadProbe } from './measure.js';
import { MysqlMigration } from './migration.js';
import { mysqlCopyPlan } from './plan.js';
import { helperTables } from '../helper-tables.js';
import { chooseDeferred, deferIndexes, GhostIndexes, readDeferredIndexes } from './deferred-indexes.js';

export interface MysqlAlterContext {
  spec: ConnectionSpec;
  info: ServerInfo;
  request: AlterRequest;
  replicas: ConnectionSpec[];
  /** False with `--replica none`: no SHOW SLAVE HOSTS, no lag watched. */
  discoverReplicas: boolean;
  log: Logger;
}

export class MysqlOnlineAlter implements OnlineAlter {
  private readonly pool: Pool;
  readonly ghost: TableRef;
  readonly oldTable: TableRef;
  readonly changelog: TableRef;
  readonly tables: HelperTables;
  readonly probe: MysqlLoadProbe;
  private original: TableInfo | null = null;
  private migration: MysqlMigration | null = null;
  /**
   * Helper tables this run created. Only these are ever dropped: a refusal
   * because `_t_gho` already exists (another run's, maybe live) must leave it.
   */
  private ghostCreated = false;
  private changelogCreated = false;
  private closed = false;

  constructor(private readonly ctx: MysqlAlterContext) {
    const t = ctx.request.table;
    this.tables = helperTables('mysql', t, ctx.request.oldTableStamp);
    this.ghost = this.tables.ghost;
    this.oldTable = this.tables.old;
    this.changelog = this.tables.changelog;
    this.pool = createPool(ctx.spec, 6, ROW_SESSION_SETUP);
    this.probe = new MysqlLoadProbe({ primary: ctx.spec, pool: this.pool, changelog: this.changelog, replicas: ctx.replicas, discoverReplicas: ctx.discoverReplicas, log: ctx.log });
  }

  // ---------------------------------------------------------------- preflight

  async preflight(original: TableInfo): Promise<CheckResult[]> {
    this.original = original;
    return alterPreflight({ pool: this.pool, info: this.ctx.info, alter: this.ctx.request.alter, original, helpers: [this.ghost, this.oldTable, this.changelog], oldTableStamped: this.ctx.request.oldTableStamp !== undefined });
  }

  // ---------------------------------------------------------------- resume (see resume.ts)

  readCheckpoint(): Promise<Checkpoint | null> {
    return readMysqlCheckpoint(this.pool, this.changelog, this.ctx.request.table);
  }

  /** Adopts the interrupted run's ghost and changelog: from here on they are this run's (abort drops them). */
  async attach(cp: Checkpoint): Promise<Ghost> {
    await checkBinlogAvailable(this.pool, parsePosition(cp.streamPosition), this.ctx.request.table);
    const found = await queryRows(this.pool, 'SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [this.ghost.schema, this.ghost.name]);
    if (!found.some((r) => String(r.n) === this.ghost.name)) {
      throw new RefusedError('E_NO_CHECKPOINT', `--resume: the interrupted run's ghost table ${this.ghost.name} is gone`, {
        hint: `the run cannot be resumed: ghostwright cleanup --url <URL> --table ${this.ctx.request.table.schema}.${this.ctx.request.table.name} --execute, then run again`,
      });
    }
    this.ghostCreated = true;
    this.changelogCreated = true;
    return this.asGhost(await this.inspectBoth(), cp);
  }

  // ---------------------------------------------------------------- ghost

  async createGhost(): Promise<Ghost> {
    const t = this.ctx.request.table;
    // A session with the server's own sql_mode: the ALTER behaves as the user's would.
    // Never multi-statements: the server itself refuses a second statement in user text.
    const ddl = await openConnection(this.ctx.spec, { multipleStatements: false });
    try {
      await queryExec(ddl, `CREATE TABLE ${qualified(this.ghost)} LIKE ${qualified(t)}`);
      this.ghostCreated = true;
      await queryExec(ddl, `ALTER TABLE ${qualified(this.ghost)} ${this.ctx.request.alter}`);
    } catch (err) {
      await this.dropHelpers();
      throw new RefusedError('E_BAD_ALTER', `the server rejected the ALTER: ${(err as Error).message}`, {
        cause: err,
        hint: 'fix the ALTER clauses (they were tried on an empty copy made with CREATE TABLE ... LIKE, which has no foreign keys: DROP FOREIGN KEY fails there)',
      });
    } finally {
      await ddl.end().catch(() => undefined);
    }
    const c = buildCreateChangelog(this.changelog);
    await queryExec(this.pool, c.sql, c.params);
    this.changelogCreated = true;
    return this.asGhost(await this.inspectBoth());
  }

  private async inspectBoth(): Promise<{ original: TableInfo; ghost: TableInfo }> {
    const flavor = this.ctx.info.flavor;
    this.original ??= await inspectTable(this.pool, this.ctx.request.table, flavor);
    return { original: this.original, ghost: await inspectTable(this.pool, this.ghost, flavor) };
  }

  /** A ghost of this run (created, or attached with `resumeFrom`): its stream starts with core's plan. */
  private asGhost(shapes: { original: TableInfo; ghost: TableInfo }, resumeFrom?: Checkpoint): Ghost {
    const copyPlan = (plan: CopyPlan) => mysqlCopyPlan(plan, shapes.original, shapes.ghost);
    return {
      shape: shapes.ghost,
      checkPlan: (plan) => void copyPlan(plan),
      startStream: async (plan) => {
        const { spec, request, log } = this.ctx;
        const copy = copyPlan(plan);
        // The ghost is still empty here (a fresh run): its deferrable keys go now, and come back once the copy is done.
        const deferred = resumeFrom ? await readDeferredIndexes(this.pool, this.changelog) : request.deferIndexes === false ? [] : await deferIndexes({ pool: this.pool, ghost: this.ghost, ghostInfo: shapes.ghost, changelog: this.changelog, plan, log });
        const indexes = new GhostIndexes({ pool: this.pool, ghost: this.ghost, deferred, log });
        const m = new MysqlMigration({ spec, pool: this.pool, request, copy, original: shapes.original, ghostInfo: shapes.ghost, ghost: this.ghost, old: this.oldTable, changelog: this.changelog, indexes, server: this.ctx.info, closed: () => this.closed, log });
        this.migration = m;
        await m.start(resumeFrom?.streamPosition);
        if (resumeFrom) {
          await m.trimToCheckpoint(resumeFrom.ranges);
          // Correct, not fast: the rest of a resumed copy maintains the keys row by row.
          await indexes.restore();
        }
        return m;
      },
    };
  }

  /**
   * Dry run: the ALTER is proved on a TEMPORARY copy (dry-run.ts), which no
   * other session sees and the binary log does not record. No changelog.
   */
  async probeGhost(): Promise<ProbedGhost> {
    const session = await openConnection(this.ctx.spec, { multipleStatements: false });
    let proved: ProvedGhost;
    try {
      proved = await proveAlterPrivately({ session, original: this.ctx.request.table, ghost: this.ghost, alter: this.ctx.request.alter, flavor: this.ctx.info.flavor });
    } finally {
      await session.end().catch(() => undefined);
    }
    this.original ??= await inspectTable(this.pool, this.ctx.request.table, this.ctx.info.flavor);
    const original = this.original;
    const ghost = proved.shape;
    // The temporary table's engine, from its SHOW CREATE TABLE (LIKE keeps the original's).
    const engine = String(ghost.extra.engine ?? '');
    return {
      shape: ghost,
      checkPlan: (plan) => void mysqlCopyPlan(plan, original, ghost),
      // The run's rule (the ghost's startStream): nothing deferred with --no-defer-indexes, else chooseDeferred.
      deferredIndexes: (plan) => (this.ctx.request.deferIndexes === false ? [] : chooseDeferred(proved.createTable, ghost, engine, plan).map((i) => i.name)),
      drop: () => this.dropGhost(),
    };
  }

  /** Dry run: nothing follows, so the connections close too. */
  private async dropGhost(): Promise<void> {
    try {
      await this.dropHelpers();
    } finally {
      await this.close();
    }
  }

  private async dropHelpers(): Promise<void> {
    if (this.ghostCreated) await queryExec(this.pool, `DROP TABLE IF EXISTS ${qualified(this.ghost)}`);
    this.ghostCreated = false;
    if (this.changelogCreated) await queryExec(this.pool, `DROP TABLE IF EXISTS ${qualified(this.changelog)}`);
    this.changelogCreated = false;
  }

  // ---------------------------------------------------------------- end

  async cleanup(): Promise<void> {
    await this.migration?.stop();
    await queryExec(this.pool, `DROP TABLE IF EXISTS ${qualified(this.changelog)}`);
    await this.close();
  }

  async abort(options: { keepForResume?: boolean } = {}): Promise<void> {
    try {
      await this.migration?.stop();
      if (options.keepForResume) return;
      if (!this.migration?.swapped && this.ghostCreated) await queryExec(this.pool, `DROP TABLE IF EXISTS ${qualified(this.ghost)}`).catch(() => undefined);
      if (this.changelogCreated) await queryExec(this.pool, `DROP TABLE IF EXISTS ${qualified(this.changelog)}`).catch(() => undefined);
    } catch (err) {
      this.ctx.log.warn({ err }, 'abort: cleanup incomplete');
    } finally {
      await this.close().catch(() => undefined);
    }
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.probe.close();
    await this.pool.end();
  }
}
