import { describe, expect, it } from 'vitest';
import { applyFile, isInstantRefusal, withInstant, type ApplyContext, type OnlineRunner } from '../../src/ledger/apply.js';
import { MemoryHistoryStore } from '../../src/ledger/history.js';
import type { PlannedStatement } from '../../src/ledger/plan.js';
import { silentLogger } from '../../src/log.js';
import type { AlterReport } from '../../src/core/report.js';

function fakeSession(failOn: (sql: string) => Error | null) {
  const log: string[] = [];
  return {
    log,
    session: {
      async query(sql: string) {
        log.push(sql);
        const err = failOn(sql);
        if (err) throw err;
        return { rows: [], affectedRows: 0 };
      },
      async close() {},
    },
  };
}

function plan(sqls: string[], path: PlannedStatement['path'] = 'direct'): PlannedStatement[] {
  return sqls.map((sql, i) => ({ index: i + 1, sql, line: i + 1, path, why: '' }));
}

function ctx(dialect: 'mysql' | 'postgres', session: ApplyContext['session'], store: MemoryHistoryStore, online?: OnlineRunner): ApplyContext {
  return {
    engine: { dialect, capabilities: { transactionalDdl: dialect === 'postgres', instantAddColumn: true, maxIdentifierBytes: 64, identifierLimit: { max: 64, unit: 'characters' as const }, schemas: dialect === 'postgres' } },
    session, store, log: silentLogger, url: 'mysql://x@h/db', installedBy: 'ci', onlineOptions: {},
    online: online ?? (async () => { throw new Error('no online engine in this test'); }),
  };
}

const target = { script: 'V2__five.sql', version: '2', description: 'five', checksum: 7, type: 'SQL' as const };

describe('MySQL: statement-by-statement with progress', () => {
  it('records a failed row and "2 of 5 done"; after repair it resumes at statement 3', async () => {
    const store = new MemoryHistoryStore();
    const stmts = plan(['S1', 'S2', 'S3 bad', 'S4', 'S5']);
    const first = fakeSession((sql) => (sql === 'S3 bad' ? new Error('Duplicate column name') : null));
    await expect(applyFile(ctx('mysql', first.session, store), target, stmts)).rejects.toThrow('V2__five.sql: statement 3 of 5 (line 3) failed: Duplicate column name');
    expect(first.log).toEqual(['S1', 'S2', 'S3 bad']);
    const rows = await store.list();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ version: '2', success: false, type: 'SQL' });
    expect(await store.progress('V2__five.sql')).toMatchObject({ statementsDone: 2, statementsTotal: 5, error: 'Duplicate column name' });

    // repair removes the failed row; the fixed file keeps statements 1-2 and changes 3.
    await store.remove(rows[0]!.installedRank);
    const fixed = plan(['S1', 'S2', 'S3 fixed', 'S4', 'S5']);
    const second = fakeSession(() => null);
    const res = await applyFile(ctx('mysql', second.session, store), target, fixed);
    expect(second.log).toEqual(['S3 fixed', 'S4', 'S5']);
    expect(res.resumedAt).toBe(3);
    expect(await store.list()).toMatchObject([{ version: '2', success: true }]);
    expect(await store.progress('V2__five.sql')).toBeNull();
  });

  it('refuses to resume when an applied statement changed', async () => {
    const store = new MemoryHistoryStore();
    await expect(applyFile(ctx('mysql', fakeSession((s) => (s === 'S2' ? new Error('x') : null)).session, store), target, plan(['S1', 'S2']))).rejects.toThrow();
    await expect(applyFile(ctx('mysql', fakeSession(() => null).session, store), target, plan(['S1 changed', 'S2']))).rejects.toThrow(/no longer starts with them/);
  });
});

describe('PostgreSQL: one transaction per file, split around non-transactional statements', () => {
  it('all-transactional file: BEGIN, statements, COMMIT; nothing recorded on failure', async () => {
    const store = new MemoryHistoryStore();
    const ok = fakeSession(() => null);
    await applyFile(ctx('postgres', ok.session, store), target, plan(['A', 'B']));
    expect(ok.log).toEqual(['BEGIN', 'A', 'B', 'COMMIT']);
    expect(await store.list()).toMatchObject([{ version: '2', success: true, checksum: 7, installedBy: 'ci' }]);

    const empty = new MemoryHistoryStore();
    const bad = fakeSession((s) => (s === 'B' ? new Error('syntax error') : null));
    await expect(applyFile(ctx('postgres', bad.session, empty), target, plan(['A', 'B']))).rejects.toThrow(/nothing|statement 2 of 2/);
    expect(bad.log).toEqual(['BEGIN', 'A', 'B', 'ROLLBACK']);
    expect(await empty.list()).toEqual([]);
    expect(await empty.progress(target.script)).toBeNull();
  });

  it('CREATE INDEX CONCURRENTLY runs alone between committed segments; a later failure resumes after it', async () => {
    const store = new MemoryHistoryStore();
    const stmts: PlannedStatement[] = [...plan(['A']), { index: 2, sql: 'CIC', line: 2, path: 'no-transaction', why: '' }, { index: 3, sql: 'C', line: 3, path: 'direct', why: '' }];
    const s = fakeSession((sql) => (sql === 'C' ? new Error('boom') : null));
    await expect(applyFile(ctx('postgres', s.session, store), target, stmts)).rejects.toThrow(/statement 3 of 3/);
    expect(s.log).toEqual(['BEGIN', 'A', 'COMMIT', 'CIC', 'BEGIN', 'C', 'ROLLBACK']);
    expect(await store.progress(target.script)).toMatchObject({ statementsDone: 2 });
    expect((await store.list())[0]).toMatchObject({ success: false });
  });
});

describe('INSTANT and online paths', () => {
  const report = (status: AlterReport['status']): AlterReport => ({ status, engine: 'mysql', table: 't', rowsCopied: 0, eventsApplied: 0, durationMs: 0, copyMs: 0, cutOverStallMs: 0, cutOverAttempts: 0, oldTable: null, ...(status === 'done' ? {} : { error: { code: 'E_X', message: 'nope' } }) });
  const instant = (fallback: 'direct' | 'online'): PlannedStatement => ({
    index: 1, sql: 'ALTER TABLE t ADD COLUMN c int -- note', line: 1, path: 'instant', why: '', fallback,
    alter: { table: 't', ref: { schema: 'app', name: 't' }, clauses: 'ADD COLUMN c int', estimatedRows: 10 },
  });
  it('appends ALGORITHM=INSTANT on its own line and falls back when the server refuses', async () => {
    expect(withInstant('ALTER TABLE t ADD c int -- x')).toBe('ALTER TABLE t ADD c int -- x\n, ALGORITHM=INSTANT');
    const refusal = Object.assign(new Error('ALGORITHM=INSTANT is not supported for this operation. Try ALGORITHM=COPY'), { errno: 1845 });
    expect(isInstantRefusal(new Error('wrapped', { cause: refusal }))).toBe(true);
    expect(isInstantRefusal(new Error('Duplicate column'))).toBe(false);
    const s = fakeSession((sql) => (sql.includes('INSTANT') ? refusal : null));
    await applyFile(ctx('mysql', s.session, new MemoryHistoryStore()), target, [instant('direct')]);
    expect(s.log).toEqual(['ALTER TABLE t ADD COLUMN c int -- note\n, ALGORITHM=INSTANT', 'ALTER TABLE t ADD COLUMN c int -- note']);

    const calls: unknown[] = [];
    const s2 = fakeSession((sql) => (sql.includes('INSTANT') ? refusal : null));
    await applyFile(ctx('mysql', s2.session, new MemoryHistoryStore(), async (o) => { calls.push(o); return report('done'); }), target, [instant('online')]);
    expect(calls).toMatchObject([{ url: 'mysql://x@h/db', table: 't', alter: 'ADD COLUMN c int', execute: true }]);
  });
  it('a refused online ALTER fails the migration with its error', async () => {
    const store = new MemoryHistoryStore();
    const p: PlannedStatement = { ...instant('online'), path: 'online' };
    await expect(applyFile(ctx('mysql', fakeSession(() => null).session, store, async () => report('refused')), target, [p])).rejects.toThrow(/online ALTER of t refused: nope/);
  });
});
