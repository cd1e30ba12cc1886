/**
 * One online ALTER of one PostgreSQL table (see engine.ts OnlineAlter for the
 * call order). The stream (stream.ts) collects changed keys from a pgoutput
 * slot created before the copy into the engine-neutral backlog; the applier
 * (core/change-applier.ts with apply.ts's SQL) re-reads those keys from the
 * original into the ghost beside the copy (copy.ts), placed against it by the
 * copy window (core/copy-window.ts); the cut-over (cutover.ts) swaps the
 * tables in one transaction.
 */
import type pg from 'pg';
import type { ConnectionSpec } from '../../connection.js';
import type { CopyPlan } from '../../core/columns.js';
import { ChangeApplier } from '../../core/change-applier.js';
import { CopyWindow, keyOrder, type KeyKind } from '../../core/copy-window.js';
import { helperNames, publicationName, SLOT_PREFIX, slotName } from '../../core/names.js';
import { DEFAULT_THROTTLE } from '../../core/options.js';
import { GhostwrightError, RefusedError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { serializeCheckpoint, type Checkpoint } from '../../core/checkpoint.js';
import { checkResumable, readPgCheckpoint, readRunRecord, trimGhost, writeCheckpointRow, writeRunRecord, type PgRunRecord } from './resume.js';
import { createSlot, dropSlot, slotState } from './slot.js';
import type { AlterRequest, CheckResult, ChunkResult, CopyRange, CutOverResult, Ghost, HelperTables, RangeProgress, KeyTuple, LoadMeasurement, LoadProbe, Migration, OnlineAlter, ProbedGhost, RowCopy, StreamStats, TableInfo, TableRef, VerifyPoint } from '../engine.js';
import { openPgVerifyPoint, recopyPgRange } from './verify.js';
import { PgApplySql } from './apply.js';
import { copyChunk, keyBounds, splitPoints } from './copy.js';
import { PgLoadProbe } from './measure.js';
import { catalog, createPool, inTransaction, serverStartTime, SESSION_LOSS_RETRIES, sessionLostServerUp, sqlState } from './connect.js';
import { cutOver, type CutOverContext } from './cutover.js';
import { createGhost, probeGhost, type GhostFk } from './ghost.js';
import { PG_MAX_IDENTIFIER_BYTES, qualified, quoteIdent } from './ident.js';
import { inspectTable } from './inspect.js';
import { preflightChecks } from './preflight.js';
import { uniqueIndexesKept, type CopySpec } from './sql.js';
import { ChangeStream, MARKER_PREFIX } from './stream.js';
import { parseUsing } from './using.js';
import { ensureReplicaIdentity, restoreReplicaIdentity } from './identity.js';
import { CopySessions, dropRunOrigins, decideOriginFilter, originCheck, originFacts, subscriptionCheck, type OriginDecision } from './origin.js';
import { leftoverOriginCheck, materializedViewCheck } from './checks.js';
import { keepRevertWindow, windowKeptOn } from './revert-point.js';

export interface PgAlterDeps {
  spec: ConnectionSpec;
  request: AlterRequest;
  replicas: ConnectionSpec[];
  /** False with `--replica none`: pg_stat_replication is not read, no standby lag watched. */
  discoverReplicas: boolean;
  log: Logger;
}

/**
 * Key types JavaScript orders exactly as the btree does, from their text
 * (pgoutput's and ::text): integers, and uuid (canonical lowercase hex,
 * compared as bytes). Others (collated text, numeric, temporal types whose
 * text depends on DateStyle) leave the window inexact: batches run between
 * chunks and the SQL keeps keys the copy has not passed (CopiedSpans).
 */
export function pgKeyKind(formatType: string): KeyKind | null {
  if (/^(smallint|integer|bigint)$/.test(formatType)) return 'integer';
  if (formatType === 'uuid') return 'uuid';
  return null;
}

export class PgOnlineAlter implements OnlineAlter, Migration, RowCopy {
  private readonly pool: pg.Pool;
  private readonly log: Logger;
  readonly original: TableRef;
  readonly ghost: TableRef;
  readonly old: TableRef;
  readonly changelog: TableRef;
  /** `ghostwright_<hash>_<pid>`; a resumed run goes on with the slot of the run it continues. */
  private slotName: string;
  readonly publication: string;
  /** Where the copy is; exact once usePlan knows the key types. */
  private window = new CopyWindow(null);
  private originalInfo: TableInfo | null = null;
  private plan: CopyPlan | null = null;
  private spec: CopySpec | null = null;
  private ghostFks: GhostFk[] = [];
  private ghostInfo: TableInfo | null = null;
  private stream: ChangeStream | null = null;
  /** The copy's sessions; under a replication origin when the filter is on (origin.ts). */
  private copySessions: CopySessions | null = null;
  private origin: OriginDecision | null = null;
  private applier: ChangeApplier<string> | null = null;
  private applySql: PgApplySql | null = null;
  private loadProbe: PgLoadProbe;
  readonly tables: HelperTables;
  readonly probe: LoadProbe = { measure: (names) => this.measure(names), heartbeat: () => this.heartbeat() };
  /** The run record found in the changelog (resume.ts), and whether this run continues it (attach). */
  private found: PgRunRecord | null = null;
  private resuming = false;
  private adopted = false;
  private markerSeq = 0;
  /** ANALYZE of the ghost, run once the copy is done, while the stream catches up (see waitCaughtUp). */
  private ghostAnalyzed: Promise<boolean> | null = null;
  /** Replica identity we changed on the original to get keys in the stream: restored on every exit. */
  private identityChanged: string | null = null;
  /** What THIS run created: abort never drops another run's objects of the same names. */
  private slotCreated = false;
  private ghostCreated = false;
  private publicationCreated = false;
  private swapped = false;
  private closed = false;
  /** When the server started, read as the stream starts: a lost session after a restart is not ridden out. */
  private serverStart: string | null = null;

  constructor(private readonly deps: PgAlterDeps) {
    this.log = deps.log;
    this.pool = createPool(deps.spec, 6, { application_name: 'ghostwright' });
    const t = deps.request.table;
    this.original = t;
    const names = helperNames('postgres', t.name, PG_MAX_IDENTIFIER_BYTES, deps.request.oldTableStamp);
    this.ghost = { schema: t.schema, name: names.ghost };
    this.old = { schema: t.schema, name: names.old };
    this.changelog = { schema: t.schema, name: names.changelog };
    this.tables = { ghost: this.ghost, old: this.old, changelog: this.changelog };
    this.slotName = slotName(t.schema, t.name);
    this.publication = publicationName(t.schema, t.name);
    this.loadProbe = this.newProbe();
  }

  private newProbe(): PgLoadProbe {
    return new PgLoadProbe({ pool: this.pool, slot: this.slotName, changelog: this.changelog, replicas: this.deps.replicas, discoverReplicas: this.deps.discoverReplicas, log: this.log });
  }

  get slot(): string {
    return this.slotName;
  }

  async preflight(original: TableInfo): Promise<CheckResult[]> {
    this.originalInfo = original;
    const maxRetainedWalBytes = this.deps.request.maxRetainedWalBytes ?? DEFAULT_THROTTLE.maxRetainedWalBytes;
    const checks = await preflightChecks(this.pool, original, { ghost: this.ghost, old: this.old, changelog: this.changelog, slot: this.slot, publication: this.publication, maxRetainedWalBytes, log: this.log, oldTableStamped: this.deps.request.oldTableStamp !== undefined });
    const origin = await this.originDecision();
    return [...checks, await materializedViewCheck(this.pool, original.ref), subscriptionCheck(origin.subscriptions), originCheck(origin), await leftoverOriginCheck(this.pool)];
  }

  /** Whether the copy's writes are kept out of decoding (origin.ts); decided once, before the stream starts. */
  private async originDecision(): Promise<OriginDecision> {
    if (!this.origin) {
      const [rel] = await catalog<{ oid: number }>(this.pool, `SELECT $1::regclass::oid::int8 AS oid`, [qualified(this.original)]);
      this.origin = decideOriginFilter(await originFacts(this.pool, rel!.oid, SLOT_PREFIX));
      this.log.info({ originFilter: this.origin.filter, detail: this.origin.detail }, 'copy and stream: origin filter decided');
    }
    return this.origin;
  }

  private copier(): CopySessions {
    if (!this.copySessions) throw new GhostwrightError('E_STATE', 'copy before the stream started');
    return this.copySessions;
  }

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
    const client = await this.pool.connect();
    try {
      this.ghostFks = await createGhost(client, { original: this.original, ghost: this.ghost, changelog: this.changelog }, this.deps.request.alter, this.deps.request.cutOverLockTimeoutMs);
      this.ghostCreated = true;
    } finally {
      client.release();
    }
    this.originalInfo ??= await inspectTable(this.pool, this.original);
    this.ghostInfo = await inspectTable(this.pool, this.ghost);
    return this.ghostInfo;
  }

  async probeGhost(): Promise<ProbedGhost> {
    const shape = await this.proveGhost();
    return { shape, checkPlan: (plan) => this.usePlan(plan), drop: () => this.dropGhost() };
  }

  private async proveGhost(): Promise<TableInfo> {
    const client = await this.pool.connect();
    try {
      this.ghostInfo = await probeGhost(client, { original: this.original, ghost: this.ghost, changelog: this.changelog }, this.deps.request.alter, this.deps.request.cutOverLockTimeoutMs, async (c) => {
        this.originalInfo ??= await inspectTable(c, this.original);
        return inspectTable(c, this.ghost);
      });
    } finally {
      client.release();
    }
    return this.ghostInfo;
  }

  private usePlan(plan: CopyPlan): void {
    const info = this.originalInfo;
    if (!info) throw new GhostwrightError('E_STATE', 'usePlan before createGhost');
    const keyTypes = plan.sourceKey.map((k) => {
      const col = info.columns.find((c) => c.name === k);
      if (!col) throw new GhostwrightError('E_STATE', `key column ${k} not in the original`);
      return col.type;
    });
    const using = parseUsing(this.deps.request.alter);
    for (const k of plan.sourceKey) {
      if (using.has(k)) throw new RefusedError('E_BAD_ALTER', `the ALTER converts key column ${k} with USING: the copy key must keep its values`, { hint: 'change the key column in a separate migration, or pick a table key the ALTER leaves alone' });
    }
    const pairs = plan.mapping.pairs.map((p) => {
      const expression = using.get(p.source);
      return expression ? { ...p, expression } : { ...p };
    });
    this.plan = plan;
    const onlyTransientConflicts = this.ghostInfo !== null && uniqueIndexesKept(info, this.ghostInfo);
    this.spec = { original: this.original, ghost: this.ghost, pairs, sourceKey: plan.sourceKey, targetKey: plan.targetKey, keyTypes, onlyTransientConflicts };
    this.window = new CopyWindow(keyOrder(keyTypes.map(pgKeyKind)));
  }

  /** Dry run: drops what createGhost made; this OnlineAlter is finished afterwards. */
  private async dropGhost(): Promise<void> {
    try {
      if (this.ghostCreated) {
        await this.pool.query(`DROP TABLE IF EXISTS ${qualified(this.ghost)}`);
        await this.pool.query(`DROP TABLE IF EXISTS ${qualified(this.changelog)}`);
        this.ghostCreated = false;
      }
    } finally {
      await this.closePools();
    }
  }

  private copySpec(): CopySpec {
    if (!this.spec) throw new GhostwrightError('E_STATE', 'no copy plan: call usePlan first');
    return this.spec;
  }

  /** See identity.ts: the stream must carry the copy key's old values. */
  private async ensureReplicaIdentity(): Promise<void> {
    const spec = this.copySpec();
    this.identityChanged = await ensureReplicaIdentity(this.pool, this.original, spec.sourceKey, this.plan!.keyName, this.deps.request.cutOverLockTimeoutMs, this.log);
  }

  private async restoreReplicaIdentity(table: TableRef): Promise<void> {
    if (this.identityChanged === null) return;
    if (await restoreReplicaIdentity(this.pool, table, this.identityChanged, this.deps.request.cutOverLockTimeoutMs, this.log)) this.identityChanged = null;
  }

  /** `from` (resume): informational; the slot's confirmed position is where the server restarts (resume.ts). */
  private async startStream(from?: string): Promise<void> {
    const spec = this.copySpec();
    const lsn = this.resuming ? await this.resumePosition(from) : await this.createStream();
    const filter = (await this.originDecision()).filter;
    this.copySessions = new CopySessions(this.deps.spec, 4, filter ? this.slot : null);
    const stream = new ChangeStream({ spec: this.deps.spec, slot: this.slot, publication: this.publication, originNone: filter, keyColumns: spec.sourceKey, ignoreTable: this.changelog, maxBacklog: this.deps.request.maxBacklogEvents, startLsn: lsn, log: this.log });
    this.stream = stream;
    await stream.start();
    this.serverStart = await serverStartTime(this.pool);
    this.applySql = new PgApplySql(this.pool, spec, this.log, this.serverStart);
    // Nothing is taken until beginCopy: whether a change is the copy's or the stream's depends on the copy's ranges.
    this.applier = new ChangeApplier({ backlog: stream.queue, window: this.window, sql: this.applySql, log: this.log, idle: (ms) => stream.waitForActivity(ms), onError: () => stream.wake() });
    this.applier.start();
  }

  /** A fresh run: replica identity, publication, slot, and the run record a resume needs. Returns the slot's consistent point. */
  private async createStream(): Promise<string> {
    await this.ensureReplicaIdentity();
    // The changelog is published too: its heartbeat commits (every ~100 ms)
    // give the stream positions to acknowledge while the table itself is
    // quiet, so the slot does not retain the whole database's WAL meanwhile.
    await this.pool.query(`CREATE PUBLICATION ${quoteIdent(this.publication)} FOR TABLE ${qualified(this.original)}, ${qualified(this.changelog)}`);
    this.publicationCreated = true;
    // Creating the logical slot waits for transactions running now to end;
    // every commit after its consistent point is decoded, and every chunk's
    // snapshot is taken after it: nothing can fall between copy and stream.
    const filter = (await this.originDecision()).filter;
    const lsn = await createSlot(this.pool, this.slotName, this.deps.request.streamStartTimeoutMs ?? 60_000);
    this.slotCreated = true;
    await writeRunRecord(this.pool, this.changelog, { slot: this.slotName, publication: this.publication, originFilter: filter, identityChanged: this.identityChanged, ghostFks: this.ghostFks });
    return lsn;
  }

  /** A resumed run restarts where the slot confirmed (the server never sends from before it); `from` is the checkpoint's, at or before it. */
  private async resumePosition(from: string | undefined): Promise<string> {
    const slot = await slotState(this.pool, this.slotName);
    if (!slot?.confirmedFlushLsn) throw new GhostwrightError('E_RESUME_STREAM_GONE', `the replication slot ${this.slotName} disappeared`, { hint: 'run ghostwright cleanup, then start over without --resume' });
    this.log.info({ slot: this.slotName, checkpoint: from, confirmed: slot.confirmedFlushLsn }, 'resume: the stream restarts from the slot');
    return slot.confirmedFlushLsn;
  }

  streamStats(): StreamStats {
    const apply = this.applier && this.applySql ? { ...this.applier.stats, ...this.applySql.retries } : undefined;
    return { eventsApplied: this.stream?.eventsApplied ?? 0, backlog: this.stream?.backlog ?? 0, appliedPosition: this.stream?.position ?? '', ...(apply ? { apply } : {}) };
  }

  failure(): Error | null {
    return this.stream?.error ?? this.applier?.error ?? null;
  }

  private throwIfStreamFailed(): void {
    const err = this.failure();
    if (err) throw err;
  }

  async keyBounds(): Promise<{ min: KeyTuple; max: KeyTuple } | null> {
    return keyBounds(this.pool, this.copySpec());
  }

  async splitPoints(n: number): Promise<KeyTuple[]> {
    return splitPoints(this.pool, this.copySpec(), this.original, n);
  }

  /**
   * The copy covers these ranges, from (null, ..] on, contiguous; a closed
   * last range leaves keys above it to the stream. From here on the applier
   * places each changed key against the copy (core/copy-window.ts).
   */
  beginCopy(ranges: readonly CopyRange[], progress?: readonly RangeProgress[]): RowCopy {
    try {
      this.window.begin(ranges, progress);
    } catch (err) {
      throw new GhostwrightError('E_STATE', (err as Error).message);
    }
    return this;
  }

  /**
   * A chunk whose session was ended (pg_terminate_backend) while the server
   * stays up is copied again (connect.ts sessionLostServerUp; a restart
   * fails the run, kept for --resume). Its INSERT may have committed unseen:
   * the ghost's rows of the range beyond its progress go first (only chunks
   * write there: the applier leaves those keys to the copy; the trim's lock
   * waits out a write still running), so no stale row of that attempt survives.
   */
  async copyChunk(range: CopyRange, limit: number): Promise<ChunkResult> {
    this.throwIfStreamFailed();
    const stream = this.stream;
    const parts = { pool: this.pool, sessions: this.copier(), window: this.window, spec: this.copySpec(), queueKeys: (keys: string[][]) => stream?.addKeys(keys), waitCaughtUp: (ms: number) => this.waitCaughtUp(ms), log: this.log };
    for (let attempt = 1; ; attempt++) {
      try {
        return await copyChunk(parts, range, limit);
      } catch (err) {
        if (attempt > SESSION_LOSS_RETRIES || this.serverStart === null || !(await sessionLostServerUp(this.pool, err, this.serverStart))) throw err;
        this.throwIfStreamFailed();
        this.log.warn({ err }, 'copy: connection lost; copying the chunk again');
        await trimGhost(this.pool, this.copySpec(), [{ after: range.after, upTo: range.upTo, through: null, done: false }], 60_000);
      }
    }
  }

  /** Emits a marker into the WAL from an autocommit connection; returns its id. */
  async emitMarker(): Promise<string> {
    const id = `${this.slot}:${++this.markerSeq}`;
    // A walsender only sends FLUSHED WAL: with synchronous_commit=off the
    // marker could wait up to wal_writer_delay (or longer) in memory. A
    // synchronous commit flushes it and everything before it.
    await inTransaction(this.pool, async (client) => {
      await client.query(`SELECT set_config('synchronous_commit', 'on', true)`);
      await client.query(`SELECT pg_logical_emit_message(true, $1, $2)`, [MARKER_PREFIX, id]);
    });
    return id;
  }

  async waitCaughtUp(timeoutMs: number): Promise<void> {
    const stream = this.stream;
    if (!stream) throw new GhostwrightError('E_STATE', 'stream not started');
    this.throwIfStreamFailed();
    // Decoding the copy's WAL keeps one core busy for a while yet: the
    // planner statistics the new table needs are gathered meanwhile.
    if (!this.ghostAnalyzed && this.window.copyDone) {
      this.ghostAnalyzed = this.pool.query(`ANALYZE ${qualified(this.ghost)}`).then(
        () => true,
        (err: unknown) => {
          this.log.warn({ err }, 'ANALYZE of the ghost failed; the table is analyzed after the swap');
          return false;
        },
      );
    }
    const id = await this.emitMarker();
    await stream.waitFor(() => stream.markerApplied(id) || stream.error !== null, timeoutMs);
    this.throwIfStreamFailed();
    const ok = stream.markerApplied(id);
    stream.forgetMarker(id);
    if (!ok) throw new GhostwrightError('E_CATCHUP_TIMEOUT', `the stream did not catch up within ${timeoutMs} ms (backlog ${stream.backlog})`, { hint: 'the write load is higher than the apply rate; retry, or lower the load' });
  }

  async openVerifyPoint(): Promise<VerifyPoint> {
    if (!this.ghostInfo) throw new GhostwrightError('E_STATE', 'openVerifyPoint before createGhost');
    const { stream, applier, applySql } = this.context();
    return openPgVerifyPoint({ pool: this.pool, window: this.window, spec: this.copySpec(), ghost: this.ghostInfo, stream, applier, applySql, markerTimeoutMs: 60_000, emitMarker: () => this.emitMarker(), waitCaughtUp: (ms) => this.waitCaughtUp(ms) });
  }

  async recopyRange(after: KeyTuple | null, through: KeyTuple): Promise<void> {
    this.throwIfStreamFailed();
    await recopyPgRange({ pool: this.pool, window: this.window, spec: this.copySpec() }, after, through);
  }

  private async measure(loadNames: string[]): Promise<LoadMeasurement> {
    try {
      return await this.measureNow(loadNames);
    } catch (err) {
      // The run ended while a measurement was in flight: nothing to throttle any more.
      if (this.closed) return { load: {}, replicas: [] };
      throw err;
    }
  }

  private async measureNow(loadNames: string[]): Promise<LoadMeasurement> {
    if (this.closed) return { load: {}, replicas: [] };
    return this.loadProbe.measure(loadNames);
  }

  private async heartbeat(): Promise<void> {
    if (this.closed) return;
    await this.pool.query(`INSERT INTO ${qualified(this.changelog)} (id, heartbeat) VALUES (1, clock_timestamp()) ON CONFLICT (id) DO UPDATE SET heartbeat = EXCLUDED.heartbeat, updated_at = clock_timestamp()`);
  }

  async checkpoint(state: Checkpoint): Promise<void> {
    if (this.closed) return;
    await writeCheckpointRow(this.pool, this.changelog, serializeCheckpoint(state));
  }

  /**
   * The acknowledged position: every commit before it is in the ghost or left
   * to the copy (stream.ts). None while a key the copy skipped waits: it is
   * held in memory only, no commit the slot would send again stands for it,
   * and the chunk that skipped it already counts as copied; a checkpoint
   * written then would lose the row on kill -9 (pg-resume-skipped.test.ts).
   */
  restartPosition(): string | null {
    if (!this.stream || this.stream.queue.externalPending > 0) return null;
    return this.stream.position || null;
  }

  async readCheckpoint(): Promise<Checkpoint | null> {
    this.found = await readRunRecord(this.pool, this.changelog);
    return readPgCheckpoint(this.pool, this.changelog, this.original);
  }

  /** Resume: checks the run can go on (resume.ts), then takes its ghost, changelog, slot, publication and origins as this run's own. */
  async attach(cp: Checkpoint): Promise<Ghost> {
    const record = await checkResumable(this.pool, { table: this.original, ghost: this.ghost, record: this.found, checkpoint: cp });
    this.adopt(record);
    this.resuming = true;
    this.originalInfo ??= await inspectTable(this.pool, this.original);
    this.ghostInfo = await inspectTable(this.pool, this.ghost);
    return this.asGhost(this.ghostInfo, cp);
  }

  private adopt(record: PgRunRecord): void {
    this.slotName = record.slot;
    this.loadProbe = this.newProbe();
    this.adopted = true;
    this.slotCreated = this.publicationCreated = this.ghostCreated = true;
    this.identityChanged = record.identityChanged;
    this.ghostFks = record.ghostFks;
    this.origin = { filter: record.originFilter, subscriptions: [], detail: 'as the interrupted run decided' };
  }

  private async trimToCheckpoint(ranges: readonly RangeProgress[]): Promise<void> {
    const removed = await trimGhost(this.pool, this.copySpec(), ranges, 60_000);
    this.log.info({ removed }, 'resume: ghost rows beyond the checkpoint removed; the copy reads them again');
  }

  private context(): CutOverContext {
    if (!this.stream || !this.applier || !this.applySql || !this.plan) throw new GhostwrightError('E_STATE', 'cut-over before the stream started');
    return {
      pool: this.pool,
      stream: this.stream,
      applier: this.applier,
      applySql: this.applySql,
      window: this.window,
      request: this.deps.request,
      original: this.original,
      ghost: this.ghost,
      old: this.old,
      publication: this.publication,
      ghostFks: this.ghostFks,
      columnMap: new Map(this.plan.mapping.pairs.map((p) => [p.source, p.target])),
      identityOverride: this.identityChanged,
      emitMarker: () => this.emitMarker(),
      ghostAnalyzed: this.ghostAnalyzed,
      ...(this.deps.request.revertWindowMs ? { afterSwap: (a: pg.ClientBase) => this.keepRevertWindow(a, this.deps.request.revertWindowMs!) } : {}),
      log: this.log,
    };
  }

  /** --revert-window, inside the swap's transaction (revert-point.ts). */
  private keepRevertWindow(a: pg.ClientBase, windowMs: number): Promise<void> {
    const columns = this.plan!.mapping.pairs.map((p) => p.target);
    return keepRevertWindow(a, { original: this.original, old: this.old, slot: this.slotName, publication: this.publication, windowMs, columns, key: this.plan!.targetKey, identityChanged: this.identityChanged });
  }

  async cutOver(): Promise<CutOverResult> {
    this.throwIfStreamFailed();
    const result = await cutOver(this.context());
    this.swapped = true;
    return result;
  }

  /** Stops the stream, then drops slot (it can't be dropped while in use) and publication; keepSlot: both stay (a revert window). */
  private async dropStream(keep = false, keepSlot = false): Promise<void> {
    await this.applier?.stop();
    await this.stream?.stop();
    this.applier = null;
    this.applySql = null;
    this.stream = null;
    if (keep) return this.copySessions?.close(this.pool, true);
    try {
      if (!keepSlot) await this.dropSlotAndPublication();
    } finally {
      // The copy's sessions end first: an origin in use cannot be dropped.
      await this.copySessions?.close(this.pool);
    }
    // The origins of a run taken over were made by its sessions: dropped by name.
    if (this.adopted) await dropRunOrigins(this.pool, this.slotName);
  }

  private async dropSlotAndPublication(): Promise<void> {
    if (this.slotCreated) {
      await dropSlot(this.pool, this.slotName);
      this.slotCreated = false;
    }
    if (this.publicationCreated) {
      await this.pool.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(this.publication)}`);
      this.publicationCreated = false;
    }
  }

  async cleanup(): Promise<void> {
    // A run whose swap had committed when it was killed (core/resume.ts): only its stream objects and changelog are left.
    if (this.found && !this.resuming) this.adopt(this.found);
    try {
      // --revert-window: the swap recorded a revert point on the old table; its slot and publication stay for `alter --revert`.
      const window = await windowKeptOn(this.pool, this.old, this.slotName);
      await this.dropStream(false, window !== null);
      if (window) this.log.info({ slot: this.slotName, until: window.expires }, `revert window kept until ${window.expires}: the slot retains WAL until alter --revert, cleanup, or the window's end`);
      await this.pool.query(`DROP TABLE IF EXISTS ${qualified(this.changelog)}`);
      if (this.identityChanged !== null) {
        // The original now lives on as _t_del (if kept): give it its identity back.
        const exists = await catalog<{ n: number }>(this.pool, `SELECT 1 AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`, [this.old.schema, this.old.name]);
        if (exists.length) await this.restoreReplicaIdentity(this.old);
      }
    } finally {
      await this.closePools();
    }
  }

  /** keepForResume: stop and close, drop nothing (ghost, changelog, slot, publication, origins, replica identity stay). */
  async abort(options: { keepForResume?: boolean } = {}): Promise<void> {
    if (options.keepForResume) {
      try {
        await this.dropStream(true);
      } catch (err) {
        this.log.warn({ err }, 'abort: stopping the stream failed');
      }
      await this.closePools();
      return;
    }
    const step = async (what: string, fn: () => Promise<void>): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        this.log.warn({ err, step: what }, 'abort step failed');
      }
    };
    await step('stream', () => this.dropStream());
    if (!this.swapped) {
      if (this.ghostCreated) await step('ghost', () => this.pool.query(`DROP TABLE IF EXISTS ${qualified(this.ghost)}`).then(() => undefined));
      await step('identity', () => this.restoreReplicaIdentity(this.original));
    }
    if (this.ghostCreated) await step('changelog', () => this.pool.query(`DROP TABLE IF EXISTS ${qualified(this.changelog)}`).then(() => undefined));
    this.ghostCreated = false;
    await step('pools', () => this.closePools());
  }

  private async closePools(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.loadProbe.close();
    await this.pool.end().catch(() => undefined);
  }
}
