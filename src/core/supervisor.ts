/**
 * Everything that watches or steers a running migration, started together
 * and stopped together: live state, throttler, control socket, hooks,
 * progress, heartbeat and status lines. The copier and the cut-over only ask
 * it "may I go on?"; they never look at load or flags themselves.
 */
import type { ConnectionSpec } from '../connection.js';
import type { Engine, HelperTables, LoadProbe, Migration } from '../engine/engine.js';
import { GhostwrightError } from '../errors.js';
import type { Logger } from '../log.js';
import { countRowsInBackground } from './exact-count.js';
import { newLiveMigration, type LiveMigration, type MigrationState } from './live.js';
import { nullObservers, type HookName, type HookSink, type MigrationObservers, type ProgressView, type RunFacts } from './observers.js';
import type { AlterOptions } from './options.js';
import { assertLoadNamesKnown } from './load-spec.js';
import { restAfterChunk } from './share.js';
import { RunState, stateAfterDecision } from './run-state.js';
import { Throttler } from './throttle.js';
import { abortError, type ThrottleDecision } from './throttle-decide.js';
import { ServerProbe } from './server-probe.js';
import { migrationStatus } from './status.js';

export interface SupervisorInit {
  options: AlterOptions;
  engine: Engine;
  /** Load, lag and heartbeat (OnlineAlter.probe). */
  probe: LoadProbe;
  /** The run's helper tables, as the engine named them. */
  tables: HelperTables;
  table: string;
  spec: ConnectionSpec;
  live: LiveMigration | undefined;
  signal: AbortSignal | undefined;
  log: Logger;
  estimatedRows: number;
  /** Progress, hooks and control socket; none when absent. */
  observers?: MigrationObservers | undefined;
}

export class MigrationSupervisor {
  readonly live: LiveMigration;
  /** Epoch ms when the run's states began (the report's timeline starts here). */
  readonly startedAt = Date.now();
  /** The one place a state change is recorded (core/run-state.ts). */
  private readonly state: RunState;
  private readonly abort = new AbortController();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly closers: Array<() => Promise<void> | void> = [];
  private heartbeatBusy = false;
  private copyDone = false;
  /** The running migration, from the copy's start on (beginCopy). */
  private migration: Migration | null = null;

  private constructor(
    private readonly init: SupervisorInit,
    live: LiveMigration,
    private readonly throttler: Throttler,
    private readonly hooks: HookSink,
    private readonly progress: ProgressView,
    private readonly probe: ServerProbe,
  ) {
    this.live = live;
    this.state = new RunState(live.progress);
    throttler.onDecision((d) => this.followThrottle(d));
  }

  static async start(init: SupervisorInit): Promise<MigrationSupervisor> {
    const { options, engine, probe: load, log } = init;
    const live =
      init.live ??
      newLiveMigration(
        {
          chunkSize: options.chunkSize,
          maxLagMs: options.throttle.maxLagMs,
          maxLoad: { ...options.throttle.maxLoad },
          criticalLoad: { ...options.throttle.criticalLoad },
          maxSharePercent: options.throttle.maxSharePercent,
        },
        { table: init.table, engine: engine.dialect },
      );
    live.progress.rowsEstimated = init.estimatedRows;
    const throttleQuery = options.throttle.throttleQuery;
    const probe = new ServerProbe(() => engine.openSession());
    const throttler = new Throttler({
      serverSilentMs: () => probe.silentMs(),
      options: options.throttle,
      live,
      measure: (names) => load.measure(names),
      throttleQuery: throttleQuery
        ? async () => {
            const { rows } = await engine.execute(throttleQuery);
            const first = rows[0] ? Object.values(rows[0])[0] : 0;
            return Number(first ?? 0);
          }
        : null,
      log,
    });
    const ref = engine.tableRef(options.table);
    const facts: RunFacts = {
      database: init.spec.database,
      table: { schema: ref.schema, name: ref.name },
      databaseScoped: engine.capabilities.schemas,
      ghostTable: init.tables.ghost.name,
      oldTable: init.tables.old.name,
      alter: options.alter,
      engine: engine.dialect,
      host: init.spec.host,
      port: String(init.spec.port),
      secrets: init.spec.password !== undefined ? [init.spec.password] : [],
    };
    const observers = init.observers ?? nullObservers;
    const hooks = observers.hooks(options.hooksPath, facts, log);
    const progress = observers.progress(options.progress);
    const sup = new MigrationSupervisor(init, live, throttler, hooks, progress, probe);
    if (init.signal) {
      if (init.signal.aborted) sup.abort.abort();
      else init.signal.addEventListener('abort', () => sup.abort.abort(), { once: true });
    }
    const names = [...Object.keys(options.throttle.maxLoad), ...Object.keys(options.throttle.criticalLoad)];
    if (options.execute && names.length > 0) {
      // A misspelt --max-load name would throttle forever: refuse it before anything is written.
      const first = await load.measure(names);
      assertLoadNamesKnown(Object.fromEntries(names.map((n) => [n, 0])), first.load);
    }
    if (options.execute) {
      const control = await observers.control(options.socketPath, options.postponeCutOverFlagFile, { facts, live, status: () => sup.status(), log });
      sup.closers.push(() => control.close());
    }
    return sup;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Copy starts: the throttler, heartbeat, progress and status lines run from now on. */
  beginCopy(migration: Migration): void {
    const { options, probe: load, log } = this.init;
    this.migration = migration;
    this.live.progress.copyStartedAt = Date.now();
    this.setState('copying');
    if (options.exactRowcount) {
      const stopCount = countRowsInBackground(this.init.engine, options.table, log, (n) => {
        const p = this.live.progress;
        if (!this.copyDone) p.rowsEstimated = Math.max(n, p.rowsCopied);
      });
      this.closers.push(stopCount);
    }
    this.throttler.start();
    this.closers.push(() => this.throttler.stop());
    this.closers.push(() => this.probe.close());
    let wasSilent = false;
    this.every(1000, async () => {
      await this.probe.tick();
      const silent = this.probe.silentMs();
      if ((silent !== null) !== wasSilent) {
        if (silent !== null) log.warn({ silentMs: silent }, 'the server does not answer: it is down, frozen or unreachable');
        else log.info('the server answers again');
      }
      wasSilent = silent !== null;
    });
    this.every(options.throttle.heartbeatIntervalMs, async () => {
      if (this.heartbeatBusy) return;
      this.heartbeatBusy = true;
      try {
        await load.heartbeat();
      } catch (err) {
        log.warn({ err }, 'heartbeat failed');
      } finally {
        this.heartbeatBusy = false;
      }
    });
    this.every(250, () => {
      this.refreshStream();
      this.progress.update(this.live);
      if (this.live.settings.panic) this.abort.abort();
    });
    this.every(options.statusIntervalMs, async () => {
      log.info(this.status(), 'status');
      await this.hook('on-status');
    });
    let wasThrottled = false;
    this.throttler.onChange((decision) => {
      if (decision.throttled && !wasThrottled) void this.hook('on-throttled', { GHOSTWRIGHT_THROTTLE_REASON: decision.reason ?? '' });
      wasThrottled = decision.throttled;
    });
  }

  /** The copy is over: the total is what was copied, so progress ends at exactly 100%. */
  copyFinished(): void {
    this.copyDone = true;
    this.live.progress.rowsEstimated = this.live.progress.rowsCopied;
  }

  /** Seconds spent in each state so far (core/run-state.ts). */
  timeline(): Partial<Record<MigrationState, number>> {
    return this.state.timeline();
  }

  setState(state: MigrationState): void {
    this.state.enter(state);
    this.refreshStream();
    this.progress.update(this.live);
  }

  private followThrottle(d: ThrottleDecision): void {
    const next = stateAfterDecision(this.state.current, d.throttled);
    if (next) this.state.enter(next);
  }

  /** Throws when the migration must stop (signal, panic, critical load, a dead stream or applier). */
  checkAborted(): void {
    const failed = this.migration?.failure();
    if (failed) throw failed;
    // Critical load counts in every phase (catch-up, postponed, cut-over), not only while copying.
    const abort = this.throttler.current().abort;
    if (abort) throw abortError(abort);
    if (this.abort.signal.aborted || this.live.settings.panic) {
      throw new GhostwrightError(this.live.settings.panic ? 'E_PANIC' : 'E_INTERRUPTED', this.live.settings.panic ? 'panic requested: migration aborted' : 'interrupted: migration aborted', {
        hint: 'the original table is untouched; run again when ready',
      });
    }
  }

  /** Resolves when copying may go on; rejects on abort. */
  async waitUntilClear(): Promise<void> {
    this.checkAborted();
    try {
      await this.throttler.waitUntilClear(this.abort.signal);
    } catch (err) {
      // The throttler rejects with a bare AbortError on our signal: say why.
      this.checkAborted();
      throw err;
    }
    this.checkAborted();
  }

  /**
   * `max-share`: after a chunk that kept a worker busy `busyMs`, rest so the
   * worker is busy at most that share of the time. Re-read every 100 ms so a
   * DBA raising the share on the socket ends a long rest at once.
   */
  async restAfterChunk(busyMs: number): Promise<void> {
    const started = Date.now();
    for (;;) {
      this.checkAborted();
      const left = restAfterChunk(busyMs, this.live.settings.maxSharePercent) - (Date.now() - started);
      if (left <= 0) return;
      await new Promise((r) => setTimeout(r, Math.min(100, left)));
    }
  }

  async hook(name: HookName, extra?: Record<string, string>): Promise<{ ok: boolean }> {
    return this.hooks.run(name, this.live, extra);
  }

  status(): Record<string, unknown> {
    return migrationStatus(this.live, this.probe.silentMs(), this.init.options.postponeCutOverFlagFile);
  }

  /** After the swap: no more heartbeats or status hooks (the changelog is about to go). */
  quiesce(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }

  async stop(): Promise<void> {
    this.quiesce();
    this.refreshStream();
    this.progress.update(this.live);
    this.progress.stop();
    for (const close of this.closers.splice(0).reverse()) {
      try {
        await close();
      } catch (err) {
        this.init.log.warn({ err }, 'closing a migration helper failed');
      }
    }
  }

  private refreshStream(): void {
    const s = this.migration?.streamStats();
    if (!s) return;
    this.live.progress.eventsApplied = s.eventsApplied;
    this.live.progress.backlog = s.backlog;
  }

  private every(ms: number, fn: () => unknown): void {
    const t = setInterval(() => {
      void Promise.resolve()
        .then(fn)
        .catch((err: unknown) => this.init.log.warn({ err }, 'periodic task failed'));
    }, Math.max(10, ms));
    t.unref();
    this.timers.push(t);
  }
}
