/**
 * The copy's writes, kept out of logical decoding (PostgreSQL 16+).
 *
 * A logical slot's walsender decodes every WAL record of the database, the
 * ghost's copy included, although the ghost is not published: on PostgreSQL
 * 15 that decoding (~2.35 s of one core per 1M copied rows) bounds the whole
 * migration. A session that called `pg_replication_origin_session_setup(name)`
 * stamps its transactions with that replication origin, and pgoutput's
 * `origin 'none'` option (PostgreSQL 16+) makes the walsender skip stamped
 * transactions before decoding them (0.27 s per 1M rows measured on 17).
 *
 * What that costs us, and what it must never touch:
 * - An origin is active in ONE session at a time ("already active for PID"),
 *   so each copy connection gets its own: the run's slot name, then
 *   `<slot>_2`, `<slot>_3`, ... (prefix ghostwright_, found by leftover sweeps).
 * - Only the copy sessions carry one. The application's writes, the
 *   applier's re-reads, the changelog heartbeats and the catch-up markers
 *   (pg_logical_emit_message) run on sessions without an origin: a marker
 *   sent under an origin would be filtered away too, and the cut-over would
 *   wait for it forever.
 * - Writes that arrive through logical replication (a subscription applying
 *   into the table) carry the subscription's origin and would be dropped:
 *   such a table takes the unfiltered path (decideOriginFilter).
 * - pg_replication_origin_create/_session_setup/_drop are superuser-only
 *   unless granted (EXECUTE, PostgreSQL 14+); without them: unfiltered, with
 *   a warning and the exact GRANT.
 * - Origins live in a shared catalog and survive the session: dropped on every
 *   exit path with the slot, after the copy sessions ended (an origin in use
 *   cannot be dropped).
 */
import pg from 'pg';
import type { ConnectionSpec } from '../../connection.js';
import type { CheckResult } from '../engine.js';
import { catalog, clientConfig, DURABLE, survivingLostConnections, whileInUse } from './connect.js';
import { quoteIdent } from './ident.js';

/** First server version whose pgoutput accepts `origin` (and protocol version 4). */
export const ORIGIN_FILTER_VERSION_NUM = 160000;

export const ORIGIN_FUNCTIONS = ['pg_replication_origin_create(text)', 'pg_replication_origin_session_setup(text)', 'pg_replication_origin_drop(text)'] as const;

export interface OriginFacts {
  versionNum: number;
  /** EXECUTE on every ORIGIN_FUNCTIONS (superusers have it). */
  canUseOrigins: boolean;
  user: string;
  /** Subscriptions that write into the table (pg_subscription_rel). */
  subscriptions: string[];
  /** Replication origins neither ours nor a native subscription's: some other replication tool may write with them. */
  foreignOrigins: string[];
}

export interface OriginDecision {
  filter: boolean;
  /** Subscriptions writing into the table (refused by preflight: subscriptionCheck). */
  subscriptions: string[];
  /** One line for the preflight report. */
  detail: string;
  /** Set when the filter is off only for want of the grant. */
  grant?: string;
}

export function originGrantSql(user: string): string {
  return `GRANT EXECUTE ON FUNCTION ${ORIGIN_FUNCTIONS.join(', ')} TO ${quoteIdent(user)};`;
}

/** Pure: whether this run may read its slot with origin 'none'. */
export function decideOriginFilter(f: OriginFacts): OriginDecision {
  const d = decide(f);
  return { ...d, subscriptions: f.subscriptions };
}

function decide(f: OriginFacts): Omit<OriginDecision, 'subscriptions'> {
  if (f.versionNum < ORIGIN_FILTER_VERSION_NUM) return { filter: false, detail: 'PostgreSQL 15 or older: pgoutput has no origin option; the copy is decoded and discarded (unfiltered stream)' };
  if (f.subscriptions.length) {
    return { filter: false, detail: `the table is written by logical replication (subscription ${f.subscriptions.join(', ')}): its changes carry an origin, so the stream stays unfiltered` };
  }
  if (f.foreignOrigins.length) {
    return { filter: false, detail: `replication origins of another tool exist (${f.foreignOrigins.join(', ')}): writes they stamp would be filtered, so the stream stays unfiltered` };
  }
  if (!f.canUseOrigins) {
    return {
      filter: false,
      detail: `user ${f.user} may not use replication origins: the copy's writes are decoded and discarded (unfiltered stream, about 2.3 s of one core per 1M copied rows)`,
      grant: originGrantSql(f.user),
    };
  }
  return { filter: true, detail: "copy sessions run under a replication origin, and the slot is read with origin 'none': the copy's writes are never decoded" };
}

export async function originFacts(db: pg.Pool | pg.ClientBase, tableOid: number, ourPrefix: string): Promise<OriginFacts> {
  const [v] = await catalog<{ n: number; user: string; super: boolean }>(db, `SELECT current_setting('server_version_num')::int AS n, current_user AS user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS super`);
  const facts: OriginFacts = { versionNum: v!.n, canUseOrigins: v!.super, user: v!.user, subscriptions: [], foreignOrigins: [] };
  const subs = await catalog<{ name: string }>(db, `SELECT DISTINCT s.subname AS name FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid WHERE r.srrelid = $1 ORDER BY 1`, [tableOid]);
  facts.subscriptions = subs.map((s) => s.name);
  if (facts.versionNum < ORIGIN_FILTER_VERSION_NUM) return facts;
  if (!facts.canUseOrigins) {
    const [g] = await catalog<{ ok: boolean }>(db, `SELECT bool_and(has_function_privilege(f, 'EXECUTE')) AS ok FROM unnest($1::text[]) AS f`, [[...ORIGIN_FUNCTIONS]]);
    facts.canUseOrigins = g?.ok === true;
  }
  // Native subscriptions name theirs pg_<oid> (pg_<oid>_<relid> for table sync).
  const foreign = await catalog<{ name: string }>(db, `SELECT roname AS name FROM pg_replication_origin WHERE NOT starts_with(roname, $1) AND roname !~ '^pg_[0-9]+(_[0-9]+)?$' ORDER BY 1`, [ourPrefix]).catch(() => [{ name: '(pg_replication_origin is not readable)' }]);
  facts.foreignOrigins = foreign.map((o) => o.name);
  return facts;
}

/** doctor: on 16+, whether this user may run the copy under a replication origin. */
export async function originPrivilegeCheck(db: pg.Pool | pg.ClientBase): Promise<CheckResult> {
  const f = await originFacts(db, 0, '');
  const base = { id: 'origin-privilege', title: 'Replication origins (copy kept out of logical decoding, PostgreSQL 16+)', severity: 'warn' as const };
  if (f.versionNum < ORIGIN_FILTER_VERSION_NUM) return { ...base, ok: true, detail: 'not available before PostgreSQL 16: the copy is decoded' };
  if (f.canUseOrigins) return { ...base, ok: true, detail: `user ${f.user} may use replication origins` };
  return { ...base, ok: false, detail: `user ${f.user} may not use replication origins: the copy's writes are decoded (about 2.3 s of one core per 1M rows)`, fix: originGrantSql(f.user) };
}

export function originCheck(d: OriginDecision): CheckResult {
  const base = { id: 'origin-filter', title: 'Copy kept out of logical decoding (replication origin)', severity: 'warn' as const, detail: d.detail };
  // Not using the filter is only a finding when a grant would enable it.
  return d.grant ? { ...base, ok: false, fix: d.grant } : { ...base, ok: true };
}

/**
 * A table a subscription writes to cannot be swapped safely: the subscription
 * keeps the old table's OID in pg_subscription_rel, and its apply worker then
 * skips, without a word, every change to the new table of that name until
 * `ALTER SUBSCRIPTION ... REFRESH PUBLICATION` (measured on 17: a row inserted
 * on the publisher after the swap reached neither table).
 */
export function subscriptionCheck(subscriptions: string[]): CheckResult {
  const base = { id: 'subscription-target', title: 'Not written by a logical replication subscription', severity: 'error' as const };
  if (!subscriptions.length) return { ...base, ok: true, detail: 'none' };
  return {
    ...base,
    ok: false,
    detail: `subscription ${subscriptions.join(', ')} writes to the table: after the swap PostgreSQL would skip its changes to the new table (pg_subscription_rel keeps the old table), and lose them until a REFRESH PUBLICATION`,
    fix: `pause the subscription (ALTER SUBSCRIPTION ${subscriptions[0]} DISABLE;: the publisher keeps its changes meanwhile), change the table with a plain ALTER TABLE, then ALTER SUBSCRIPTION ${subscriptions[0]} ENABLE;`,
  };
}

/** Replication origins of this run: `<slot>`, `<slot>_2`, ... */
export function originName(slot: string, index: number): string {
  return index === 0 ? slot : `${slot}_${index + 1}`;
}

/**
 * The copy's connections. With `slot` set, each gets its own replication
 * origin before its first statement; otherwise they are plain sessions.
 */
export class CopySessions {
  private readonly pool: pg.Pool;
  private readonly setUp = new WeakSet<pg.PoolClient>();
  private readonly created: string[] = [];
  private next = 0;

  constructor(
    spec: ConnectionSpec,
    max: number,
    private readonly slot: string | null,
  ) {
    // Idle sessions are kept: a new one would need a new origin. They commit
    // synchronously like every pooled session (connect.ts DURABLE): a chunk
    // counts as copied once its COMMIT returns.
    this.pool = survivingLostConnections(new pg.Pool({ options: DURABLE, ...clientConfig(spec, { application_name: 'ghostwright_copy' }), max, idleTimeoutMillis: 0, allowExitOnIdle: true }));
  }

  get origins(): readonly string[] {
    return this.created;
  }

  get filtered(): boolean {
    return this.slot !== null;
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[]): Promise<pg.QueryResult<R>> {
    const client = await this.pool.connect();
    try {
      if (this.slot !== null && !this.setUp.has(client)) {
        const name = originName(this.slot, this.next++);
        // A leftover of the same name (same table, same pid) can only be a dead run's.
        await client.query(`SELECT pg_replication_origin_create($1) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_origin WHERE roname = $1)`, [name]);
        this.created.push(name);
        await setUpOrigin(client, name);
        this.setUp.add(client);
      }
      const res = await client.query<R>(text, params);
      client.release();
      return res;
    } catch (err) {
      // A session in an unknown state is not given back.
      client.release(err as Error);
      throw err;
    }
  }

  /** Ends the sessions (which releases their origins), then drops the origins unless kept for --resume. Safe to call twice. */
  async close(admin: pg.Pool, keepOrigins = false): Promise<void> {
    await this.pool.end().catch(() => undefined);
    if (keepOrigins) return;
    for (const name of [...this.created]) {
      await dropOrigin(admin, name);
      this.created.splice(this.created.indexOf(name), 1);
    }
  }
}

/**
 * Binds the session to the origin. On resume the origin may still be held for
 * a moment by a session of the killed run that is just ending (55006).
 */
async function setUpOrigin(client: pg.PoolClient, name: string): Promise<void> {
  await whileInUse(() => client.query(`SELECT pg_replication_origin_session_setup($1)`, [name]), 100, 100);
}

/** The origins of the run whose slot is `slot` (`<slot>`, `<slot>_<n>`), dropped: a resumed run's or one whose sessions are gone. */
export async function dropRunOrigins(db: pg.Pool, slot: string): Promise<void> {
  const rows = await catalog<{ name: string }>(db, `SELECT roname AS name FROM pg_replication_origin WHERE roname = $1 OR starts_with(roname, $1 || '_')`, [slot]).catch(() => []);
  for (const r of rows) await dropOrigin(db, r.name);
}

/** Drops an origin; waits while a session that just ended still holds it (55006). */
export async function dropOrigin(db: pg.Pool, name: string): Promise<void> {
  await whileInUse(() => db.query(`SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = $1`, [name]));
}

/** Origins of ours (prefix), for leftover reports: they only ever belong to a run's copy sessions. */
export async function ourOrigins(db: pg.Pool | pg.ClientBase, prefix: string): Promise<string[]> {
  const rows = await catalog<{ name: string }>(db, `SELECT roname AS name FROM pg_replication_origin WHERE starts_with(roname, $1) ORDER BY 1`, [prefix]).catch(() => []);
  return rows.map((r) => r.name);
}
