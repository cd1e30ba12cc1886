/**
 * One online ALTER of one PostgreSQL table: the OnlineAlter handle (see
 * online-alter-contract.ts). It owns the run's connections and everything
 * the run creates (ghost, changelog, publication, slot, replica identity),
 * and drops exactly those on abort. The ghost's startStream() creates the
 * publication and slot and hands the running migration to migration.ts.
 */
import type pg from 'pg';
import type { ConnectionSpec } from '../../connection.js';
import type { CopyPlan } from '../../core/columns.js';
import { publicationName, SLOT_PREFIX, slotName } from '../../core/names.js';
import { DEFAULT_THROTTLE } from '../../core/options.js';
import { GhostwrightError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Checkpoint } from '../../core/checkpoint.js';
import { checkResumable, readPgCheckpoint, readRunRecord, writeRunRecord, type PgRunRecord } from './resume.js';
import { createSlot, dropSlot, slotState } from './slot.js';
import type { AlterRequest, CheckResult, Ghost, HelperTables, OnlineAlter, ProbedGhost, TableInfo, TableRef } from '../engine.js';
import { PgLoadProbe } from './measure.js';
import { catalog, createPool } from './connect.js';
import { createGhost, probeGhost, type GhostFk } from './ghost.js';
import { qualified, quoteIdent } from './ident.js';
import { inspectTable } from './inspect.js';
import { preflightChecks } from './preflight.js';
import { ensureReplicaIdentity, restoreReplicaIdentity } from './identity.js';
import { CopySessions, dropRunOrigins, decideOriginFilter, originCheck, originFacts, subscriptionCheck, type OriginDecision } from './origin.js';
import { PgMigration } from './migration.js';
import { pgCopyPlan, type PgCopyPlan } from './plan.js';
import { windowKeptOn } from './revert-point.js';
import { helperTables } from '../helper-tables.js';
import { buildIndexes, deferGhostIndexes, deferrableIndexNames, markKeyIndex, missingIndexes, safeToBuild, type DeferredIndex } from './deferred-indexes.js';

export interface PgAlterDeps {
  spec: ConnectionSpec;
  request: AlterRequest;
  replicas: ConnectionSpec[];
  /** False with `--replica none`: pg_stat_replication is not read, no standby lag watched. */
  discoverReplicas: boolean;
  log: Logger;
}

export class PgOnlineAlter implements OnlineAlter {
  private readonly pool: pg.Pool;
  private readonly log: Logger;
  readonly original: TableRef;
  readonly ghost: TableRef;
  readonly old: TableRef;
  readonly changelog: TableRef;
  readonly tables: HelperTables;
  /** `ghostwright_<hash>_<pid>`; a resumed run goes on with the slot of the run it continues. */
  private slotName: string;
  readonly publication: string;
  readonly probe: PgLoadProbe;
  private originalInfo: TableInfo | null = null;
  private ghostFks: GhostFk[] = [];
  /** The ghost's indexes left for after the copy (deferred-indexes.ts). */
  private deferredIndexes: DeferredIndex[] = [];
  /** The copy's sessions; under a replication origin when the filter is on (origin.ts). */
  private copySessions: CopySessions | null = null;
  private origin: OriginDecision | null = null;
  private migration: PgMigration | null = null;
  /** The run record found in the changelog (resume.ts), and whether this run continues it (attach). */
  private found: PgRunRecord | null = null;
  private adopted = false;
  /** Replica identity we changed on the original to get keys in the stream: restored on every exit. */
  private identityChanged: string | null = null;
  /** What THIS run created: abort never drops another run's objects of the same names. */
  private slotCreated = false;
  private ghostCreated = false;
  private publicationCreated = false;
  private closed = false;

  constructor(private readonly deps: PgAlterDeps) {
    this.log = deps.log;
    this.pool = createPool(deps.spec, 6, { application_name: 'ghostwright' });
    const t = deps.request.table;
    this.original = t;
    this.tables = helperTables('postgres', t, deps.request.oldTableStamp);
    this.ghost = this.tables.ghost;
    this.old = this.tables.old;
    this.changelog = this.tables.changelog;
    this.slotName = slotName(t.schema, t.name);
    this.publication = publicationName(t.schema, t.name);
    this.probe = new PgLoadProbe({ pool: this.pool, slot: () => this.slotName, changelog: this.changelog, replicas: deps.replicas, discoverReplicas: deps.discoverReplicas, log: this.log });
  }

  get slot(): string {
    return this.slotName;
  }

  async preflight(original: TableInfo): Promise<CheckResult[]> {
    this.originalInfo = original;
    const maxRetainedWalBytes = this.deps.request.maxRetainedWalBytes ?? DEFAULT_THROTTLE.maxRetainedWalBytes;
    const checks = await preflightChecks(this.pool, original, { ghost: this.ghost, old: this.old, changelog: this.changelog, slot: this.slot, publication: this.publication, maxRetainedWalBytes, log: this.log, oldTableStamped: this.deps.request.oldTableStamp !== undefined });
    const origin = await this.originDecision();
    return [...checks, subscriptionCheck(origin.subscriptions), originCheck(origin)];
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

  async createGhost(): Promise<Ghost> {
    const client = await this.pool.connect();
    try {
      this.ghostFks = await createGhost(client, { original: this.original, ghost: this.ghost, changelog: this.changelog }, this.deps.request.alter, this.deps.request.cutOverLockTimeoutMs);
      this.ghostCreated = true;
    } finally {
      client.release();
    }
    // Read with its indexes (the copy plan takes its key from them), then without the ones built after the copy.
    const shapes = await this.inspectBoth();
    if (this.deps.request.deferIndexes !== false) this.deferredIndexes = await deferGhostIndexes(this.pool, this.original, this.ghost);
    if (this.deferredIndexes.length) this.log.info({ indexes: this.deferredIndexes.map((i) => i.name) }, 'ghost indexes deferred: built in one pass after the copy');
    return this.asGhost(shapes);
  }

  private async inspectBoth(): Promise<{ original: TableInfo; ghost: TableInfo }> {
    this.originalInfo ??= await inspectTable(this.pool, this.original);
    return { original: this.originalInfo, ghost: await inspectTable(this.pool, this.ghost) };
  }

  /** A ghost of this run (created, or attached with `resumeFrom`): its stream starts with core's plan. */
  private asGhost(shapes: { original: TableInfo; ghost: TableInfo }, resumeFrom?: Checkpoint): Ghost {
    const copyPlan = (plan: CopyPlan) => pgCopyPlan(plan, { ...shapes, alter: this.deps.request.alter, originalRef: this.original, ghostRef: this.ghost });
    return {
      shape: shapes.ghost,
      checkPlan: (plan) => void copyPlan(plan),
      startStream: async (plan) => {
        const m = await this.startStream(plan, copyPlan(plan), shapes.ghost, resumeFrom);
        if (resumeFrom) await m.trimToCheckpoint(resumeFrom.ranges);
        return m;
      },
    };
  }

  /** Dry run: the ALTER proved inside a transaction that is rolled back (ghost.ts); dropping it only closes the connections. */
  async probeGhost(): Promise<ProbedGhost> {
    const client = await this.pool.connect();
    let original: TableInfo | null = this.originalInfo;
    let ghost: TableInfo;
    let deferred: string[] = [];
    try {
      ghost = await probeGhost(client, { original: this.original, ghost: this.ghost, changelog: this.changelog }, this.deps.request.alter, this.deps.request.cutOverLockTimeoutMs, async (c) => {
        original ??= await inspectTable(c, this.original);
        // The run's rule (createGhost): nothing deferred with --no-defer-indexes.
        if (this.deps.request.deferIndexes !== false) deferred = await deferrableIndexNames(c, this.original, this.ghost);
        return inspectTable(c, this.ghost);
      });
    } finally {
      client.release();
    }
    const shapes = { original: original!, ghost };
    return {
      shape: ghost,
      checkPlan: (plan) => void pgCopyPlan(plan, { ...shapes, alter: this.deps.request.alter, originalRef: this.original, ghostRef: this.ghost }),
      deferredIndexes: () => deferred,
      drop: () => this.closePools(),
    };
  }

  private async startStream(plan: CopyPlan, copy: PgCopyPlan, ghostInfo: TableInfo, resumeFrom?: Checkpoint): Promise<PgMigration> {
    const lsn = resumeFrom ? await this.resumePosition(resumeFrom.streamPosition) : await this.createStream(plan, copy);
    const filter = (await this.originDecision()).filter;
    this.copySessions = new CopySessions(this.deps.spec, 4, filter ? this.slot : null);
    const { spec, pool, log } = { spec: this.deps.spec, pool: this.pool, log: this.log };
    this.migration = new PgMigration({ spec, pool, request: this.deps.request, plan, copySpec: copy.spec, window: copy.window, ghostInfo, old: this.old, changelog: this.changelog, slot: this.slot, publication: this.publication, copySessions: this.copySessions, originFilter: filter, startLsn: lsn, ghostFks: this.ghostFks, retainedWalBytes: () => this.probe.lastRetainedWalBytes, deferredIndexes: this.deferredIndexes, identityChanged: this.identityChanged, log });
    await this.migration.start();
    return this.migration;
  }

  /** A fresh run: replica identity, publication, slot, and the run record a resume needs. Returns the slot's consistent point. */
  private async createStream(plan: CopyPlan, copy: PgCopyPlan): Promise<string> {
    // See identity.ts: the stream must carry the copy key's old values.
    this.identityChanged = await ensureReplicaIdentity(this.pool, this.original, copy.spec.sourceKey, plan.keyName, this.deps.request.cutOverLockTimeoutMs, this.log);
    // The changelog is published too: its heartbeat commits (every ~100 ms)
    // give the stream positions to acknowledge while the table itself is
    // quiet, so the slot does not retain the whole database's WAL meanwhile.
    await this.pool.query(`CREATE PUBLICATION ${quoteIdent(this.publication)} FOR TABLE ${qualified(this.original)}, ${qualified(this.changelog)}`);
    this.publicationCreated = true;
    // Creating the logical slot waits for transactions running now to end;
    // every commit after its consistent point is decoded, and every chunk's
    // snapshot is taken after it: nothing can fall between copy and stream.
    const filter = (await this.originDecision()).filter;
    this.deferredIndexes = markKeyIndex(this.deferredIndexes, copy.spec.targetKey);
    const lsn = await createSlot(this.pool, this.slotName, this.deps.request.streamStartTimeoutMs ?? 60_000);
    this.slotCreated = true;
    await writeRunRecord(this.pool, this.changelog, { slot: this.slotName, publication: this.publication, originFilter: filter, identityChanged: this.identityChanged, ghostFks: this.ghostFks, deferredIndexes: this.deferredIndexes });
    return lsn;
  }

  /** A resumed run restarts where the slot confirmed (the server never sends from before it); `from` is the checkpoint's, at or before it. */
  private async resumePosition(from: string): Promise<string> {
    const slot = await slotState(this.pool, this.slotName);
    if (!slot?.confirmedFlushLsn) throw new GhostwrightError('E_RESUME_STREAM_GONE', `the replication slot ${this.slotName} disappeared`, { hint: 'run ghostwright cleanup, then start over without --resume' });
    this.log.info({ slot: this.slotName, checkpoint: from, confirmed: slot.confirmedFlushLsn }, 'resume: the stream restarts from the slot');
    return slot.confirmedFlushLsn;
  }

  private async restoreReplicaIdentity(table: TableRef): Promise<void> {
    if (this.identityChanged === null) return;
    if (await restoreReplicaIdentity(this.pool, table, this.identityChanged, this.deps.request.cutOverLockTimeoutMs, this.log)) this.identityChanged = null;
  }

  async readCheckpoint(): Promise<Checkpoint | null> {
    this.found = await readRunRecord(this.pool, this.changelog);
    return readPgCheckpoint(this.pool, this.changelog, this.original);
  }

  /** Resume: checks the run can go on (resume.ts), then takes its ghost, changelog, slot, publication and origins as this run's own. */
  async attach(cp: Checkpoint): Promise<Ghost> {
    const record = await checkResumable(this.pool, { table: this.original, ghost: this.ghost, record: this.found, checkpoint: cp });
    this.adopt(record);
    // The copy plan reads the ghost's key from its indexes: what the run deferred is built now (the rest of the copy maintains it).
    const missing = await missingIndexes(this.pool, this.ghost, record.deferredIndexes);
    await buildIndexes(this.pool, this.ghost, missing.filter(safeToBuild), { keyReady: () => undefined, catchUp: () => Promise.resolve(), log: this.log });
    this.deferredIndexes = missing.filter((ix) => !safeToBuild(ix));
    return this.asGhost(await this.inspectBoth(), cp);
  }

  private adopt(record: PgRunRecord): void {
    this.slotName = record.slot;
    this.adopted = true;
    this.slotCreated = this.publicationCreated = this.ghostCreated = true;
    this.identityChanged = record.identityChanged;
    this.ghostFks = record.ghostFks;
    this.origin = { filter: record.originFilter, subscriptions: [], detail: 'as the interrupted run decided' };
  }

  /** Stops the stream, then drops slot (it can't be dropped while in use) and publication; keepSlot: both stay (a revert window). */
  private async dropStream(keep = false, keepSlot = false): Promise<void> {
    await this.migration?.stop();
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
    if (this.found && !this.adopted) this.adopt(this.found);
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
    if (!this.migration?.swapped) {
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
    await this.probe.close();
    await this.pool.end().catch(() => undefined);
  }
}
