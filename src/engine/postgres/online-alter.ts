/**
 * One online ALTER of one PostgreSQL table (see engine.ts OnlineAlter for the
 * call order). The stream (stream.ts) collects changed keys from a pgoutput
 * slot created before the copy; the applier (applier.ts) re-reads those keys
 * from the original into the ghost; the cut-over (cutover.ts) swaps the
 * tables in one transaction.
 */
import type pg from 'pg';
import { redactedUrl, type ConnectionSpec } from '../../connection.js';
import type { CopyPlan } from '../../core/columns.js';
import { CopyGate } from '../../core/copy-gate.js';
import { helperNames, publicationName, SLOT_PREFIX, slotName } from '../../core/names.js';
import { DEFAULT_THROTTLE } from '../../core/options.js';
import { GhostwrightError, RefusedError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { AlterRequest, CheckResult, ChunkResult, CopyRange, CutOverResult, KeyTuple, LoadMeasurement, OnlineAlter, StreamStats, TableInfo, TableRef, VerifyPoint } from '../engine.js';
import { openPgVerifyPoint, recopyPgRange } from './verify.js';
import { Applier } from './applier.js';
import { catalog, createPool, inTransaction, sqlState } from './connect.js';
import { cutOver, type CutOverContext } from './cutover.js';
import { createGhost, probeGhost, type GhostFk } from './ghost.js';
import { PG_MAX_IDENTIFIER_BYTES, qualified, quoteIdent } from './ident.js';
import { inspectTable } from './inspect.js';
import { preflightChecks } from './preflight.js';
import { chunkEndSql, copyRangeSql, keyBoundSql, missingKeysSql, sampleKeysSql, uniqueIndexesKept, type CopiedSpans, type CopySpec } from './sql.js';
import { ChangeStream, MARKER_PREFIX } from './stream.js';
import { STANDBY_LAG_SQL, standbyLags, type StandbyRow } from './standbys.js';
import { parseUsing } from './using.js';
import { ensureReplicaIdentity, restoreReplicaIdentity } from './identity.js';
import { CopySessions, decideOriginFilter, originCheck, originFacts, subscriptionCheck, type OriginDecision } from './origin.js';
import { leftoverOriginCheck, materializedViewCheck } from './checks.js';

export interface PgAlterDeps {
  spec: ConnectionSpec;
  request: AlterRequest;
  replicas: ConnectionSpec[];
  /** False with `--replica none`: pg_stat_replication is not read, no standby lag watched. */
  discoverReplicas: boolean;
  log: Logger;
}

interface CopyProgress {
  after: KeyTuple | null;
  upTo: KeyTuple | null;
  /** Last key copied; null before the first chunk. */
  through: KeyTuple | null;
  done: boolean;
}

/** A unique violation while copying is retried this often, each time after the stream caught up. */
const COPY_UNIQUE_RETRIES = 3;

const sameKey = (a: KeyTuple | null, b: KeyTuple | null): boolean => JSON.stringify(a) === JSON.stringify(b);

const keyRow = (row: Record<string, unknown>, n: number): string[] => Array.from({ length: n }, (_, i) => String(row[`k${i}`]));

export class PgOnlineAlter implements OnlineAlter {
  private readonly pool: pg.Pool;
  private readonly log: Logger;
  readonly original: TableRef;
  readonly ghost: TableRef;
  readonly old: TableRef;
  readonly changelog: TableRef;
  readonly slot: string;
  readonly publication: string;
  private readonly gate = new CopyGate();
  private originalInfo: TableInfo | null = null;
  private plan: CopyPlan | null = null;
  private spec: CopySpec | null = null;
  private ghostFks: GhostFk[] = [];
  private ghostInfo: TableInfo | null = null;
  private stream: ChangeStream | null = null;
  /** The copy's sessions; under a replication origin when the filter is on (origin.ts). */
  private copySessions: CopySessions | null = null;
  private origin: OriginDecision | null = null;
  private applier: Applier | null = null;
  private replicaPools = new Map<string, pg.Pool>();
  private markerSeq = 0;
  /** The copy's ranges and how far each got (see beginCopy); null before the copy begins. */
  private copyRanges: CopyProgress[] | null = null;
  /** ANALYZE of the ghost, run once the copy is done, while the stream catches up (see waitCaughtUp). */
  private ghostAnalyzed: Promise<boolean> | null = null;
  private warnedHiddenStandbys = false;
  /** Replica identity we changed on the original to get keys in the stream: restored on every exit. */
  private identityChanged: string | null = null;
  /** What THIS run created: abort never drops another run's objects of the same names. */
  private slotCreated = false;
  private ghostCreated = false;
  private publicationCreated = false;
  private swapped = false;
  private closed = false;

  constructor(private readonly deps: PgAlterDeps) {
    this.log = deps.log;
    this.pool = createPool(deps.spec, 6, { application_name: 'ghostwright' });
    const t = deps.request.table;
    this.original = t;
    const names = helperNames('postgres', t.name, PG_MAX_IDENTIFIER_BYTES, deps.request.oldTableStamp);
    this.ghost = { schema: t.schema, name: names.ghost };
    this.old = { schema: t.schema, name: names.old };
    this.changelog = { schema: t.schema, name: names.changelog };
    this.slot = slotName(t.schema, t.name);
    this.publication = publicationName(t.schema, t.name);
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

  async createGhost(): Promise<TableInfo> {
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

  async probeGhost(): Promise<TableInfo> {
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

  usePlan(plan: CopyPlan): void {
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
    this.spec = { original: this.original, ghost: this.ghost, pairs, sourceKey: plan.sourceKey, targetKey: plan.targetKey, keyTypes, onlyTransientConflicts, conflictKey: plan.ghostKey.columns };
  }

  /** Dry run: drops what createGhost made; this OnlineAlter is finished afterwards. */
  async dropGhost(): Promise<void> {
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

  async startStream(): Promise<void> {
    const spec = this.copySpec();
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
    const lsn = await this.createSlot(this.deps.request.streamStartTimeoutMs ?? 60_000);
    this.slotCreated = true;
    this.copySessions = new CopySessions(this.deps.spec, 4, filter ? this.slot : null);
    const stream = new ChangeStream({ spec: this.deps.spec, slot: this.slot, publication: this.publication, originNone: filter, keyColumns: spec.sourceKey, ignoreTable: this.changelog, maxBacklog: this.deps.request.maxBacklogEvents, startLsn: lsn, log: this.log });
    this.stream = stream;
    await stream.start();
    this.applier = new Applier(this.pool, stream, spec, this.gate, this.log, () => this.copiedSpans());
    // Held until beginCopy: whether a change is the copy's or the stream's depends on the copy's ranges.
    this.applier.start(true);
  }

  /**
   * Creates the slot, which waits until every transaction that holds an xid
   * now has ended. One left open (an idle session in a transaction) would
   * hold the migration forever: after timeoutMs it fails, naming them.
   */
  private async createSlot(timeoutMs: number): Promise<string> {
    const client = await this.pool.connect();
    try {
      await client.query(`SELECT set_config('statement_timeout', $1, false)`, [`${timeoutMs}ms`]);
      const res = await client.query<{ lsn: string }>(`SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')`, [this.slot]);
      return res.rows[0]!.lsn;
    } catch (err) {
      if (sqlState(err) !== '57014') throw err;
      const open = await catalog<{ pid: number; since: string; state: string }>(
        this.pool,
        `SELECT pid, xact_start::text AS since, state FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() ORDER BY xact_start LIMIT 5`,
      );
      const who = open.map((o) => `pid ${o.pid} (${o.state}, in a transaction since ${o.since})`).join(', ');
      throw new GhostwrightError('E_STREAM_START', `the replication slot could not be created within ${timeoutMs / 1000} s: it waits for transactions already running to end${who ? `: ${who}` : ''}`, {
        cause: err,
        hint: 'end or commit those transactions (pg_terminate_backend(pid) if they are abandoned) and rerun, or raise --stream-start-timeout',
      });
    } finally {
      await client.query(`SELECT set_config('statement_timeout', '0', false)`).catch(() => undefined);
      client.release();
    }
  }

  streamStats(): StreamStats {
    return { eventsApplied: this.stream?.eventsApplied ?? 0, backlog: this.stream?.backlog ?? 0, appliedPosition: this.stream?.position ?? '' };
  }

  failure(): Error | null {
    return this.stream?.error ?? null;
  }

  private throwIfStreamFailed(): void {
    const err = this.failure();
    if (err) throw err;
  }

  async keyBounds(): Promise<{ min: KeyTuple; max: KeyTuple } | null> {
    const spec = this.copySpec();
    const min = await this.pool.query(keyBoundSql(spec, 'ASC').sql);
    const max = await this.pool.query(keyBoundSql(spec, 'DESC').sql);
    if (!min.rows[0] || !max.rows[0]) return null;
    return { min: keyRow(min.rows[0], spec.sourceKey.length), max: keyRow(max.rows[0], spec.sourceKey.length) };
  }

  async splitPoints(n: number): Promise<KeyTuple[]> {
    if (n <= 1) return [];
    const spec = this.copySpec();
    const [est] = await catalog<{ n: number }>(this.pool, `SELECT greatest(reltuples, 0)::float8 AS n FROM pg_class WHERE oid = $1::regclass`, [qualified(this.original)]);
    const wanted = 200 * n;
    const percent = !est || est.n <= wanted * 2 ? 100 : Math.max(0.01, Math.min(100, (100 * wanted) / est.n));
    const q = sampleKeysSql(spec, percent);
    const rows = (await this.pool.query(q.sql, q.params)).rows.map((r) => keyRow(r, spec.sourceKey.length));
    const points: KeyTuple[] = [];
    for (let i = 1; i < n; i++) {
      const p = rows[Math.floor((i * rows.length) / n)];
      if (p && JSON.stringify(p) !== JSON.stringify(points[points.length - 1])) points.push(p);
    }
    return points;
  }

  /**
   * The copy covers these ranges, from (null, ..] on, contiguous; a closed
   * last range leaves keys above it to the stream. From here on the applier
   * leaves each range's uncopied rest to the copy (CopiedSpans).
   */
  beginCopy(ranges: readonly CopyRange[]): void {
    const contiguous = ranges.every((r, i) => (i === 0 ? r.after === null : sameKey(r.after, ranges[i - 1]!.upTo)));
    if (!contiguous) throw new GhostwrightError('E_STATE', 'the copy ranges must start at the first key and be contiguous');
    this.copyRanges = ranges.map((r) => ({ after: r.after, upTo: r.upTo, through: null, done: false }));
    this.applier?.resume();
  }

  private copiedSpans(): CopiedSpans | null {
    const ranges = this.copyRanges ?? [];
    if (ranges.every((r) => r.done)) return null;
    const spans = ranges.filter((r) => r.done || r.through !== null).map((r) => ({ after: r.after, through: r.done ? r.upTo : r.through }));
    return { spans, above: ranges.length ? ranges[ranges.length - 1]!.upTo : null };
  }

  /**
   * One chunk in two statements: find the key `limit` rows ahead (an index
   * scan of keys only), then one plain INSERT ... SELECT over (after, end].
   * The range's progress moves inside the copy gate, before any apply can
   * run: a change committed after this chunk's snapshot is then applied.
   * Measured ~17% faster than a single statement that materializes the
   * chunk to learn its last key.
   */
  async copyChunk(range: CopyRange, limit: number): Promise<ChunkResult> {
    this.throwIfStreamFailed();
    const spec = this.copySpec();
    const progress = this.copyRanges?.find((r) => sameKey(r.upTo, range.upTo) && !r.done);
    if (!progress) throw new GhostwrightError('E_STATE', 'copyChunk outside the ranges given to beginCopy');
    const n = spec.sourceKey.length;
    const run = async (): Promise<ChunkResult> => {
      const e = chunkEndSql(spec, range.after, range.upTo, limit);
      const endRow = (await this.copier().query(e.sql, e.params)).rows[0];
      const end = endRow ? keyRow(endRow, n) : null;
      const through = end ?? range.upTo;
      const q = copyRangeSql(spec, range.after, through);
      const res = await this.copier().query(q.sql, q.params).catch(async (err: unknown) => {
        if (sqlState(err) !== '23505' || !spec.onlyTransientConflicts) throw err;
        // A ghost row whose change is still queued holds a unique value a
        // row of this range has now (rows swapped values). Skip such rows and
        // queue their keys: once the chunk is done they are in the copied
        // span, so the applier inserts them after the stale row is fixed.
        const skip = copyRangeSql(spec, range.after, through, true);
        const inserted = await this.copier().query(skip.sql, skip.params);
        const m = missingKeysSql(spec, range.after, through);
        const missing = (await this.pool.query(m.sql, m.params)).rows.map((r) => keyRow(r, n));
        this.stream?.addKeys(missing);
        this.log.debug({ skipped: missing.length }, 'copy: rows skipped on a transient unique conflict, queued for the applier');
        return inserted;
      });
      if (end) progress.through = end;
      else progress.done = true;
      // Fewer than `limit` rows were left: the range is exhausted.
      return { rows: res.rowCount ?? 0, last: end };
    };
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.gate.copy(run);
      } catch (err) {
        if (sqlState(err) !== '23505') throw err;
        // Another unique index met a ghost row whose change is still queued:
        // once the stream has caught up it is gone, unless the data really
        // breaks a unique constraint the ALTER adds.
        if (attempt > COPY_UNIQUE_RETRIES) {
          throw new GhostwrightError('E_COPY_UNIQUE', `copying rows violates a unique constraint of the new table: ${(err as Error).message}`, {
            cause: err,
            hint: 'the data breaks a unique constraint the ALTER adds; remove the duplicates first (the original table is unchanged)',
          });
        }
        this.log.debug({ err, attempt }, 'copy: unique violation on another key; letting the stream catch up, then retrying the chunk');
        await this.waitCaughtUp(60_000);
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
    if (!this.ghostAnalyzed && this.copyRanges?.every((r) => r.done)) {
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
    return openPgVerifyPoint({ pool: this.pool, gate: this.gate, spec: this.copySpec(), ghost: this.ghostInfo, lockTimeoutMs: this.deps.request.cutOverLockTimeoutMs, waitCaughtUp: (ms) => this.waitCaughtUp(ms) });
  }

  async recopyRange(after: KeyTuple | null, through: KeyTuple): Promise<void> {
    this.throwIfStreamFailed();
    await recopyPgRange({ pool: this.pool, gate: this.gate, spec: this.copySpec() }, after, through);
  }

  async measure(loadNames: string[]): Promise<LoadMeasurement> {
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
    const [load] = await catalog<Record<string, number>>(
      this.pool,
      // Names usable in --max-load / --critical-load on PostgreSQL.
      `SELECT count(*) FILTER (WHERE state = 'active' AND backend_type = 'client backend')::int AS active_sessions,
              count(*) FILTER (WHERE wait_event_type = 'Lock')::int AS waiting_sessions,
              count(*) FILTER (WHERE state LIKE 'idle in transaction%')::int AS idle_in_transaction,
              count(*) FILTER (WHERE backend_type = 'client backend')::int AS total_sessions,
              coalesce(extract(epoch FROM max(clock_timestamp() - xact_start) FILTER (WHERE backend_type = 'client backend')), 0)::float8 AS longest_transaction_seconds
         FROM pg_stat_activity`,
    );
    const [slot] = await catalog<{ b: number | null }>(this.pool, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 AS b FROM pg_replication_slots WHERE slot_name = $1`, [this.slot]);
    // Physical standbys from pg_stat_replication (see standbys.ts), plus each
    // --replica URL by heartbeat, as before.
    const discover = this.deps.discoverReplicas;
    const standbys = discover ? standbyLags(await catalog<StandbyRow>(this.pool, STANDBY_LAG_SQL)) : { replicas: [], hidden: 0 };
    if (standbys.hidden && !this.warnedHiddenStandbys) {
      this.warnedHiddenStandbys = true;
      this.log.warn({ hidden: standbys.hidden }, 'cannot see standby replication details: their lag is not checked; GRANT pg_monitor TO the migration user, or name them with --replica');
    }
    const replicas: LoadMeasurement['replicas'] = [...standbys.replicas];
    for (const r of this.deps.replicas) replicas.push({ name: redactedUrl(r), lagMs: await this.replicaLag(r) });
    const all = load ?? {};
    const picked = loadNames.length ? Object.fromEntries(Object.entries(all).filter(([k]) => loadNames.includes(k))) : all;
    const out: LoadMeasurement = { load: picked, replicas };
    if (slot?.b != null) out.retainedWalBytes = slot.b;
    return out;
  }

  /** Replica lag from the heartbeat row the primary writes into the changelog (sub-second resolution). */
  private async replicaLag(spec: ConnectionSpec): Promise<number | null> {
    const key = redactedUrl(spec);
    let pool = this.replicaPools.get(key);
    if (!pool) {
      pool = createPool(spec, 1, { connectionTimeoutMillis: 2000 });
      this.replicaPools.set(key, pool);
    }
    try {
      const [r] = await catalog<{ lag: number | null }>(pool, `SELECT (extract(epoch FROM clock_timestamp() - heartbeat) * 1000)::float8 AS lag FROM ${qualified(this.changelog)} WHERE id = 1`);
      return r?.lag ?? null;
    } catch {
      return null;
    }
  }

  async heartbeat(): Promise<void> {
    if (this.closed) return;
    await this.pool.query(`INSERT INTO ${qualified(this.changelog)} (id, heartbeat) VALUES (1, clock_timestamp()) ON CONFLICT (id) DO UPDATE SET heartbeat = EXCLUDED.heartbeat, updated_at = clock_timestamp()`);
  }

  async checkpoint(state: Record<string, unknown>): Promise<void> {
    if (this.closed) return;
    const full = { ...state, streamPosition: this.stream?.position ?? null, slot: this.slot };
    await this.pool.query(`INSERT INTO ${qualified(this.changelog)} (id, state) VALUES (2, $1::jsonb) ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, updated_at = clock_timestamp()`, [JSON.stringify(full)]);
  }

  private context(): CutOverContext {
    if (!this.stream || !this.applier || !this.plan) throw new GhostwrightError('E_STATE', 'cut-over before the stream started');
    return {
      pool: this.pool,
      stream: this.stream,
      applier: this.applier,
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
      log: this.log,
    };
  }

  async cutOver(): Promise<CutOverResult> {
    this.throwIfStreamFailed();
    const result = await cutOver(this.context());
    this.swapped = true;
    return result;
  }

  /** Stops the stream, then drops slot (it can't be dropped while in use) and publication. */
  private async dropStream(): Promise<void> {
    await this.applier?.stop();
    await this.stream?.stop();
    this.applier = null;
    this.stream = null;
    try {
      await this.dropSlotAndPublication();
    } finally {
      // The copy's sessions end first: an origin in use cannot be dropped.
      await this.copySessions?.close(this.pool);
    }
  }

  private async dropSlotAndPublication(): Promise<void> {
    if (this.slotCreated) {
      for (let attempt = 0; ; attempt++) {
        try {
          await this.pool.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, [this.slot]);
          break;
        } catch (err) {
          // 55006: the walsender has not released the slot yet.
          if ((err as { code?: string }).code !== '55006' || attempt > 100) throw err;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      this.slotCreated = false;
    }
    if (this.publicationCreated) {
      await this.pool.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(this.publication)}`);
      this.publicationCreated = false;
    }
  }

  async cleanup(): Promise<void> {
    try {
      await this.dropStream();
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

  async abort(): Promise<void> {
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
    for (const p of this.replicaPools.values()) await p.end().catch(() => undefined);
    this.replicaPools.clear();
    await this.pool.end().catch(() => undefined);
  }
}
