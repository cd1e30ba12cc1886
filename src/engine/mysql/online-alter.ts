/**
 * One online ALTER of one MySQL/MariaDB table (the OnlineAlter contract):
 * ghost `_t_gho` created LIKE the original and ALTERed, changelog `_t_ghc`,
 * a binlog stream started before the first chunk, keyset chunk copies on
 * READ COMMITTED sessions, key-based apply, and the sentry cut-over.
 */
import type { Pool, PoolConnection } from 'mysql2/promise';
import type { ConnectionSpec } from '../../connection.js';
import type { Logger } from '../../log.js';
import { GhostwrightError, RefusedError } from '../../errors.js';
import { CopyWindow, keyOrder } from '../../core/copy-window.js';
import { mysqlKeyKind, refuseZoneDependentConversions } from './key-types.js';
import { ChangeApplier } from '../../core/change-applier.js';
import type { CopyPlan } from '../../core/columns.js';
import { helperNames, MYSQL_IDENTIFIER_LIMIT } from '../../core/names.js';
import type { AlterRequest, CheckResult, ChunkResult, CopyRange, CutOverResult, Ghost, HelperTables, KeyTuple, LoadMeasurement, LoadProbe, Migration, OnlineAlter, ProbedGhost, RowCopy, ServerInfo, StreamStats, TableInfo, TableRef, VerifyPoint } from '../engine.js';
import { openMysqlVerifyPoint, recopyMysqlRange } from './verify.js';
import { BENIGN_WARNINGS, comparePositions, createPool, currentBinlogPosition, formatPosition, openConnection, queryExec, queryRows, ROW_SESSION_SETUP, type BinlogPosition } from './connect.js';
import { alterPreflight, unsupportedKeyColumns } from './preflight.js';
import { inspectTable } from './inspect.js';
import { qualified } from './ident.js';
import { buildChangelogWrite, buildCopyChunk, buildCreateChangelog, buildKeyAtOffset, buildKeyBound, buildLastKeyInRange, buildMissingKeys } from './sql.js';
import { BinlogStream } from './stream.js';
import { ReplicaLagMonitor } from './replicas.js';
import { MysqlApplySql } from './apply.js';
import { cutOverTables } from './cutover.js';
import { proveAlterPrivately } from './dry-run.js';
import { serializeCheckpoint, type Checkpoint, type RangeProgress } from '../../core/checkpoint.js';
import { ReconnectBudget } from '../../core/reconnect.js';
import { checkBinlogAvailable, parsePosition, readMysqlCheckpoint, trimGhost } from './resume.js';
import { keepRevertPoint } from './revert-point.js';
import { integerSplitPoints, rowsToSplit } from './split.js';

export interface MysqlAlterContext {
  spec: ConnectionSpec;
  info: ServerInfo;
  request: AlterRequest;
  replicas: ConnectionSpec[];
  /** False with `--replica none`: no SHOW SLAVE HOSTS, no lag watched. */
  discoverReplicas: boolean;
  log: Logger;
}

export class MysqlOnlineAlter implements OnlineAlter, Migration, RowCopy {
  private readonly pool: Pool;
  /** Where the copy is; set by usePlan (it needs the key's types to order keys). */
  private window = new CopyWindow(null);
  readonly ghost: TableRef;
  readonly oldTable: TableRef;
  readonly changelog: TableRef;
  readonly tables: HelperTables;
  readonly probe: LoadProbe = { measure: (names) => this.measure(names), heartbeat: () => this.heartbeat() };
  private original: TableInfo | null = null;
  private ghostInfo: TableInfo | null = null;
  private plan: CopyPlan | null = null;
  private ghostKeyName: string | null = null;
  private stream: BinlogStream | null = null;
  private applier: ChangeApplier<BinlogPosition> | null = null;
  private applySql: MysqlApplySql | null = null;
  /** The copy key has a TIMESTAMP column: row sessions compare in UTC (see rowSession). */
  private utcKey = false;
  /** The copy key is one integer column: split points by value (split.ts). */
  private integerKey = false;
  private readonly utcSessions = new WeakSet<object>();
  private swapped = false;
  /**
   * Helper tables this run created. Only these are ever dropped: a refusal
   * because `_t_gho` already exists (another run's, maybe live) must leave it.
   */
  private ghostCreated = false;
  private changelogCreated = false;
  /** Explicit --replica list, or the replicas the primary knows of (see replicas.ts). */
  private readonly replicas: ReplicaLagMonitor;
  private closed = false;
  /** A short loss of the server is ridden out by the copy (core/reconnect.ts). */
  private readonly lost = new ReconnectBudget();

  constructor(private readonly ctx: MysqlAlterContext) {
    const t = ctx.request.table;
    const names = helperNames('mysql', t.name, MYSQL_IDENTIFIER_LIMIT, ctx.request.oldTableStamp);
    this.ghost = { schema: t.schema, name: names.ghost };
    this.oldTable = { schema: t.schema, name: names.old };
    this.changelog = { schema: t.schema, name: names.changelog };
    this.tables = { ghost: this.ghost, old: this.oldTable, changelog: this.changelog };
    this.pool = createPool(ctx.spec, 6, ROW_SESSION_SETUP);
    this.replicas = new ReplicaLagMonitor({ primary: ctx.spec, pool: this.pool, explicit: ctx.replicas, discover: ctx.discoverReplicas, changelog: this.changelog, log: ctx.log });
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
    this.ghostInfo = await inspectTable(this.pool, this.ghost, this.ctx.info.flavor);
    return this.asGhost(this.ghostInfo, cp);
  }

  private async trimToCheckpoint(ranges: readonly RangeProgress[]): Promise<void> {
    const conn = await this.rowSession(await this.pool.getConnection());
    try {
      const removed = await trimGhost(conn, this.ghost, this.needPlan().targetKey, ranges);
      this.ctx.log.info({ removed }, 'ghost rows past the copy progress removed; the copy reads them again');
    } finally {
      conn.release();
    }
  }

  /**
   * The backlog's low-water mark; none while a key the copy skipped waits
   * (no commit covers it, so no position would replay it).
   */
  restartPosition(): string | null {
    const q = this.stream?.queue;
    if (!q || q.externalPending > 0) return null;
    return formatPosition(q.applied);
  }

  // ---------------------------------------------------------------- ghost

  async createGhost(): Promise<Ghost> {
    return this.asGhost(await this.makeGhost());
  }

  /** A ghost of this run (created, or attached with `resumeFrom`): its stream starts with core's plan. */
  private asGhost(shape: TableInfo, resumeFrom?: Checkpoint): Ghost {
    return {
      shape,
      checkPlan: (plan) => this.usePlan(plan),
      startStream: async (plan) => {
        this.usePlan(plan);
        await this.startStream(resumeFrom?.streamPosition);
        if (resumeFrom) await this.trimToCheckpoint(resumeFrom.ranges);
        return this;
      },
    };
  }

  private async makeGhost(): Promise<TableInfo> {
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
    this.ghostInfo = await inspectTable(this.pool, this.ghost, this.ctx.info.flavor);
    return this.ghostInfo;
  }

  /**
   * Dry run: the ALTER is proved on a TEMPORARY copy (dry-run.ts), which no
   * other session sees and the binary log does not record. No changelog.
   */
  async probeGhost(): Promise<ProbedGhost> {
    const shape = await this.proveGhost();
    return { shape, checkPlan: (plan) => this.usePlan(plan), drop: () => this.dropGhost() };
  }

  private async proveGhost(): Promise<TableInfo> {
    const session = await openConnection(this.ctx.spec, { multipleStatements: false });
    try {
      this.ghostInfo = await proveAlterPrivately({ session, original: this.ctx.request.table, ghost: this.ghost, alter: this.ctx.request.alter, flavor: this.ctx.info.flavor });
      return this.ghostInfo;
    } finally {
      await session.end().catch(() => undefined);
    }
  }

  private usePlan(plan: CopyPlan): void {
    const bad = unsupportedKeyColumns(this.original, plan.sourceKey);
    if (bad) throw bad;
    this.plan = plan;
    const types = plan.sourceKey.map((k) => this.original?.columns.find((c) => c.name.toLowerCase() === k.toLowerCase())?.type ?? '');
    this.window = new CopyWindow(keyOrder(types.map(mysqlKeyKind)));
    this.utcKey = types.some((t) => /^timestamp\b/i.test(t));
    this.integerKey = types.length === 1 && mysqlKeyKind(types[0]!) === 'integer';
    if (this.utcKey) refuseZoneDependentConversions(plan, this.original, this.ghostInfo);
    // A duplicate on this key while copying is a row the stream wrote first (see checkCopyWarnings).
    // The apply deletes a key's ghost rows and inserts its current row, so a widened key
    // (plan.targetKeyUnique false) needs nothing else here.
    this.ghostKeyName = plan.ghostKey.name;
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

  private needPlan(): CopyPlan {
    if (!this.plan) throw new GhostwrightError('E_INTERNAL', 'usePlan() must be called before the stream and the copy');
    return this.plan;
  }

  failure(): Error | null {
    return this.stream?.error ?? this.applier?.error ?? null;
  }

  private throwIfFailed(): void {
    const err = this.failure();
    if (err) throw err;
  }

  // ---------------------------------------------------------------- stream

  private async startStream(from?: string): Promise<void> {
    const plan = this.needPlan();
    const original = this.original ?? (await inspectTable(this.pool, this.ctx.request.table, this.ctx.info.flavor));
    this.original = original;
    const key = plan.sourceKey.map((name) => ({ name, type: original.columns.find((c) => c.name === name)?.type ?? '' }));
    // The position is read BEFORE the first chunk: every change committed
    // after it reaches the ghost through the stream.
    try {
      const start = from ? parsePosition(from) : await currentBinlogPosition(this.pool);
      this.stream = new BinlogStream({ spec: this.ctx.spec, table: this.ctx.request.table, key, start, maxBacklog: this.ctx.request.maxBacklogEvents, log: this.ctx.log });
      await this.stream.start();
      this.ctx.log.debug({ start: formatPosition(start) }, 'binlog stream started');
    } catch (err) {
      if (err instanceof GhostwrightError) throw err;
      throw new GhostwrightError('E_STREAM', `cannot read the binary log: ${(err as Error).message}`, {
        cause: err,
        hint: 'the user needs REPLICATION SLAVE (and REPLICATION CLIENT / BINLOG MONITOR) on *.*, and the binlog file must still exist',
      });
    }
    const stream = this.stream;
    this.applySql = new MysqlApplySql({ pool: this.pool, session: (c) => this.rowSession(c), stream, source: this.ctx.request.table, ghost: this.ghost, plan, log: this.ctx.log });
    this.applier = new ChangeApplier({ backlog: stream.queue, window: this.window, sql: this.applySql, log: this.ctx.log, idle: (ms) => stream.waitForActivity(ms) });
    this.applier.start();
  }

  streamStats(): StreamStats {
    const q = this.stream?.queue;
    const apply = this.applier && this.applySql ? { ...this.applier.stats, ...this.applySql.retries } : undefined;
    return { eventsApplied: q?.eventsApplied ?? 0, backlog: q?.backlog ?? 0, appliedPosition: q ? formatPosition(q.applied) : '', ...(apply ? { apply } : {}) };
  }

  async waitCaughtUp(timeoutMs: number): Promise<void> {
    const target = await this.lost.run(() => currentBinlogPosition(this.pool));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.throwIfFailed();
      const q = this.stream?.queue;
      if (!q) throw new GhostwrightError('E_INTERNAL', 'waitCaughtUp() before startStream()');
      if (comparePositions(q.applied, target) >= 0 && q.externalPending === 0) return;
      if (Date.now() > deadline) {
        throw new GhostwrightError('E_CATCHUP_TIMEOUT', `the stream did not catch up within ${timeoutMs} ms (applied ${formatPosition(q.applied)}, target ${formatPosition(target)}, backlog ${q.backlog})`, {
          hint: 'the write load outpaces the apply; throttle the application or retry later',
        });
      }
      await this.stream!.waitForActivity(20);
    }
  }

  // ---------------------------------------------------------------- copy

  private scan() {
    const plan = this.needPlan();
    return { table: this.ctx.request.table, index: plan.keyName, key: plan.sourceKey };
  }

  /**
   * A TIMESTAMP key travels as UTC text (the binlog's, read with timezone
   * 'Z'): every session that reads or binds key values then runs in UTC, so
   * no DST fold or session zone can make two instants compare equal. Other
   * tables keep the server's zone (a TIMESTAMP -> DATETIME conversion in the
   * ALTER depends on it, as in a blocking ALTER).
   */
  private async rowSession(conn: PoolConnection): Promise<PoolConnection> {
    const id = conn.connection as object;
    if (this.utcKey && !this.utcSessions.has(id)) {
      await conn.query("SET SESSION time_zone = '+00:00'");
      this.utcSessions.add(id);
    }
    return conn;
  }

  private async keyRow(sql: { sql: string; params: unknown[] }): Promise<KeyTuple | null> {
    const conn = await this.rowSession(await this.pool.getConnection());
    try {
      const [rows] = await conn.query({ sql: sql.sql, rowsAsArray: true }, sql.params);
      const r = (rows as unknown[][])[0];
      return r ? (r as KeyTuple) : null;
    } finally {
      conn.release();
    }
  }

  async keyBounds(): Promise<{ min: KeyTuple; max: KeyTuple } | null> {
    const min = await this.keyRow(buildKeyBound({ ...this.scan(), desc: false }));
    const max = await this.keyRow(buildKeyBound({ ...this.scan(), desc: true }));
    return min && max ? { min, max } : null;
  }

  async splitPoints(n: number): Promise<KeyTuple[]> {
    if (n <= 1) return [];
    const t = this.ctx.request.table;
    if (this.integerKey) {
      const bounds = await this.keyBounds();
      return bounds ? integerSplitPoints(bounds.min, bounds.max, n) : [];
    }
    const step = Math.floor((await rowsToSplit(this.pool, t)) / n);
    if (step < 1) return [];
    const out: KeyTuple[] = [];
    for (let i = 1; i < n; i++) {
      const k = await this.keyRow(buildKeyAtOffset({ ...this.scan(), after: null, upTo: null, offset: i * step }));
      if (k) out.push(k);
    }
    return out;
  }

  /** From here on the applier places changed keys against the copy's ranges (core/copy-window.ts). */
  beginCopy(ranges: readonly CopyRange[], progress?: readonly RangeProgress[]): RowCopy {
    this.window.begin(ranges, progress);
    return this;
  }

  /**
   * A chunk that fails on a lost connection (server restart, KILL) is copied
   * again once the server answers, within the reconnect window. Its INSERT
   * may have committed unseen: the ghost's rows of the range beyond its
   * progress go first (nothing but chunks writes there: the stream leaves
   * those keys to the copy), so no stale row of that attempt survives.
   */
  async copyChunk(range: CopyRange, limit: number): Promise<ChunkResult> {
    return this.lost.run(
      () => this.copyChunkOnce(range, limit),
      async (err) => {
        this.ctx.log.warn({ err }, 'copy: connection lost; copying the chunk again');
        await this.trimToCheckpoint([{ after: range.after, upTo: range.upTo, through: null, done: false }]);
      },
    );
  }

  private async copyChunkOnce(range: CopyRange, limit: number): Promise<ChunkResult> {
    this.throwIfFailed();
    const plan = this.needPlan();
    const scan = this.scan();
    // The chunk is a closed range (after, through]: rows inserted later beyond it come through the stream.
    const t0 = Date.now();
    const through =
      (await this.keyRow(buildKeyAtOffset({ ...scan, after: range.after, upTo: range.upTo, offset: Math.max(0, limit - 1) }))) ??
      (await this.keyRow(buildLastKeyInRange({ ...scan, after: range.after, upTo: range.upTo })));
    const boundaryMs = Date.now() - t0;
    if (!through) {
      this.window.rangeDone(range);
      return { rows: 0, last: null, boundaryMs };
    }
    const spec = { source: this.ctx.request.table, ghost: this.ghost, pairs: plan.mapping.pairs, index: scan.index, key: scan.key, after: range.after, through };
    const t1 = Date.now();
    let windowWaitMs = 0;
    const rows = await this.window.chunk(range, through, async () => {
      windowWaitMs = Date.now() - t1;
      const conn = await this.rowSession(await this.pool.getConnection());
      try {
        const q = buildCopyChunk(spec);
        const res = await queryExec(conn, q.sql, q.params);
        if (res.warningStatus > 0) await this.checkCopyWarnings(conn, spec);
        return res.affectedRows;
      } finally {
        conn.release();
      }
    });
    return { rows, last: through, boundaryMs, windowWaitMs };
  }

  /**
   * INSERT IGNORE turns every error into a warning. A duplicate on the copy
   * key is expected (the stream already wrote a newer row); a duplicate on
   * another unique key may be transient, so those rows' keys go to the
   * backlog, whose strict INSERT decides; anything else would silently change
   * data: refuse.
   */
  private async checkCopyWarnings(conn: Parameters<typeof queryRows>[0], spec: Omit<Parameters<typeof buildMissingKeys>[0], 'targetKey'>): Promise<void> {
    const warnings = await queryRows(conn, 'SHOW WARNINGS');
    let otherDup = false;
    for (const w of warnings) {
      const code = Number(w.Code);
      const msg = String(w.Message);
      if (BENIGN_WARNINGS.has(code)) continue;
      if (code === 1062) {
        const key = /for key '(?:.*\.)?([^'.]*)'$/.exec(msg)?.[1];
        if (key !== this.ghostKeyName) otherDup = true;
        continue;
      }
      throw new GhostwrightError('E_COPY_DATA_LOSS', `copying rows would change data: ${msg}`, { hint: 'the new column types cannot hold the existing values; fix the data or the ALTER' });
    }
    if (!otherDup) return;
    const missing = buildMissingKeys({ ...spec, targetKey: this.needPlan().targetKey });
    const [rows] = await conn.query({ sql: missing.sql, rowsAsArray: true }, missing.params);
    for (const k of rows as unknown[][]) this.stream?.queue.addExternal(k);
  }

  // ---------------------------------------------------------------- verification (see verify.ts)

  async openVerifyPoint(): Promise<VerifyPoint> {
    this.throwIfFailed();
    return openMysqlVerifyPoint({ ...this.verifyContext(), spec: this.ctx.spec, waitCaughtUp: (ms) => this.waitCaughtUp(ms) });
  }

  async recopyRange(after: KeyTuple | null, through: KeyTuple): Promise<void> {
    this.throwIfFailed();
    await recopyMysqlRange(this.verifyContext(), after, through);
  }

  private verifyContext() {
    if (!this.original || !this.ghostInfo) throw new GhostwrightError('E_INTERNAL', 'verification before createGhost()');
    return { pool: this.pool, gate: this.window, original: this.original, ghost: this.ghostInfo, ghostRef: this.ghost, plan: this.needPlan(), lockTimeoutMs: this.ctx.request.cutOverLockTimeoutMs, log: this.ctx.log };
  }

  // ---------------------------------------------------------------- throttle inputs

  private async measure(loadNames: string[]): Promise<LoadMeasurement> {
    const load: Record<string, number> = {};
    if (loadNames.length) {
      const rows = await queryRows(this.pool, `SHOW GLOBAL STATUS WHERE Variable_name IN (${loadNames.map(() => '?').join(', ')})`, loadNames);
      for (const r of rows) load[String(r.Variable_name)] = Number(r.Value);
    }
    return { load, replicas: await this.replicas.measure() };
  }

  private async heartbeat(): Promise<void> {
    const q = buildChangelogWrite(this.changelog, 'heartbeat', new Date().toISOString());
    await queryExec(this.pool, q.sql, q.params);
  }

  async checkpoint(state: Checkpoint): Promise<void> {
    if (this.closed) return;
    const q = buildChangelogWrite(this.changelog, 'checkpoint', serializeCheckpoint(state));
    await queryExec(this.pool, q.sql, q.params);
  }

  // ---------------------------------------------------------------- swap

  async cutOver(): Promise<CutOverResult> {
    this.throwIfFailed();
    if (!this.stream || !this.applier || !this.applySql) throw new GhostwrightError('E_INTERNAL', 'cutOver() before startStream()');
    const ctx = { spec: this.ctx.spec, pool: this.pool, original: this.ctx.request.table, ghost: this.ghost, oldName: this.oldTable, stream: this.stream, applier: this.applier, applySql: this.applySql, utc: this.utcKey, window: this.window, lockTimeoutMs: this.ctx.request.cutOverLockTimeoutMs, log: this.ctx.log };
    let stallMs: number;
    // Before the lock: every write to the new table comes after this (see revert-point.ts).
    const revertFrom = await currentBinlogPosition(this.pool);
    try {
      ({ stallMs } = await cutOverTables(ctx));
    } catch (err) {
      await this.applier.hold(false);
      throw err;
    }
    // Events from now on belong to the new table: stop applying at once.
    this.swapped = true;
    await this.applier.stop();
    await this.stream.stop();
    this.stream.queue.clear();
    if (this.ctx.request.dropOldTable) {
      // The swap is done whatever happens here: a failed drop only leaves the old table behind.
      try {
        await queryExec(this.pool, `DROP TABLE IF EXISTS ${qualified(this.oldTable)}`);
        return { stallMs, oldTable: null };
      } catch (err) {
        this.ctx.log.warn({ err, table: this.oldTable.name }, 'cut-over done, but dropping the old table failed; drop it by hand');
      }
    }
    await keepRevertPoint(this.pool, this.oldTable, revertFrom, this.ctx.log);
    return { stallMs, oldTable: this.oldTable.name };
  }

  async cleanup(): Promise<void> {
    await this.stopStream();
    await queryExec(this.pool, `DROP TABLE IF EXISTS ${qualified(this.changelog)}`);
    await this.close();
  }

  async abort(options: { keepForResume?: boolean } = {}): Promise<void> {
    try {
      await this.stopStream();
      if (options.keepForResume) return;
      if (!this.swapped && this.ghostCreated) await queryExec(this.pool, `DROP TABLE IF EXISTS ${qualified(this.ghost)}`).catch(() => undefined);
      if (this.changelogCreated) await queryExec(this.pool, `DROP TABLE IF EXISTS ${qualified(this.changelog)}`).catch(() => undefined);
    } catch (err) {
      this.ctx.log.warn({ err }, 'abort: cleanup incomplete');
    } finally {
      await this.close().catch(() => undefined);
    }
  }

  private async stopStream(): Promise<void> {
    await this.applier?.stop().catch(() => undefined);
    await this.stream?.stop().catch(() => undefined);
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.replicas.close();
    await this.pool.end();
  }
}
