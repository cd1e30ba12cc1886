import { describe, expect, it } from 'vitest';
import { sortAndCheck, type MigrationFile, type MigrationSet } from '../../src/ledger/files.js';
import type { AppliedMigration } from '../../src/ledger/history.js';
import { computeInfo, validateInfo } from '../../src/ledger/info.js';
import { parseVersion } from '../../src/ledger/version.js';

function v(version: string, checksum = 100, kind: 'versioned' | 'undo' = 'versioned'): MigrationFile {
  const p = kind === 'versioned' ? 'V' : 'U';
  return { kind, version: parseVersion(version), description: `d${version}`, script: `${p}${version}__d${version}.sql`, path: '', text: '', checksum };
}
function r(description: string, checksum: number): MigrationFile {
  return { kind: 'repeatable', version: null, description, script: `R__${description}.sql`, path: '', text: '', checksum };
}
function set(versioned: MigrationFile[], repeatable: MigrationFile[] = []): MigrationSet {
  return sortAndCheck({ versioned, undo: [], repeatable, callbacks: [], unrecognised: [] });
}
let rank = 0;
function row(version: string | null, fields: Partial<AppliedMigration> = {}): AppliedMigration {
  rank++;
  return {
    installedRank: rank, version, description: version ? `d${version}` : 'views', type: 'SQL', script: version ? `V${version}__d${version}.sql` : 'R__views.sql',
    checksum: 100, installedBy: 'u', installedOn: 'now', executionTime: 1, success: true, ...fields,
  };
}
const states = (info: ReturnType<typeof computeInfo>) => info.entries.map((e) => `${e.version ?? e.description}:${e.state}`);

describe('info states', () => {
  it('pending, success, current version', () => {
    rank = 0;
    const info = computeInfo(set([v('1'), v('2'), v('1.10')]), [row('1')]);
    expect(states(info)).toEqual(['1:success', '1.10:pending', '2:pending']);
    expect(info.current?.text).toBe('1');
    expect(info.pendingVersioned.map((f) => f.version!.text)).toEqual(['1.10', '2']);
  });

  it('failed, missing, future, out-of-order, ignored, above-target', () => {
    rank = 0;
    const files = set([v('1'), v('3'), v('4'), v('5'), v('6')]);
    const rows = [row('1'), row('2'), row('4'), row('3'), row('5', { success: false }), row('9')];
    const info = computeInfo(files, rows, { target: '5' });
    expect(states(info)).toEqual(['1:success', '2:missing', '4:success', '3:out-of-order', '5:failed', '9:future', '6:above-target']);
    const ignored = computeInfo(set([v('1'), v('2'), v('3')]), [row('1'), row('3', { script: 'V3__d3.sql' })]);
    expect(states(ignored)).toContain('2:ignored');
    const allowed = computeInfo(set([v('1'), v('2'), v('3')]), [row('1'), row('3')], { outOfOrder: true });
    expect(states(allowed)).toContain('2:pending');
    expect(allowed.pendingVersioned.map((f) => f.version!.text)).toEqual(['2']);
  });

  it('baseline and below-baseline', () => {
    rank = 0;
    const info = computeInfo(set([v('1'), v('2'), v('3')]), [row('2', { type: 'BASELINE', description: '<< b >>', checksum: null })]);
    expect(states(info)).toEqual(['2:baseline', '1:below-baseline', '2:below-baseline', '3:pending']);
    expect(info.current?.text).toBe('2');
  });

  it('undone (file pending again) and deleted', () => {
    rank = 0;
    const info = computeInfo(set([v('1'), v('2')]), [row('1'), row('2'), row('2', { type: 'UNDO_SQL', script: 'U2__d2.sql' })]);
    expect(states(info)).toEqual(['1:success', '2:undone', '2:success', '2:pending']);
    expect(info.entries[2]!.category).toBe('undo');
    expect(info.current?.text).toBe('1');
    rank = 0;
    const del = computeInfo(set([v('1'), v('3')]), [row('1'), row('2'), row('3'), row('2', { type: 'DELETE' })]);
    expect(states(del)).toEqual(['1:success', '2:deleted', '3:success']);
    expect(validateInfo(del)).toEqual([]);
  });

  it('repeatables: pending, success, outdated, superseded, missing', () => {
    rank = 0;
    const files = set([], [r('views', 200), r('procs', 5), r('fresh', 7)]);
    const rows = [row(null, { checksum: 100 }), row(null, { checksum: 200 }), row(null, { description: 'procs', script: 'R__procs.sql', checksum: 4 }), row(null, { description: 'gone', script: 'R__gone.sql' })];
    const info = computeInfo(files, rows);
    expect(states(info)).toEqual(['views:superseded', 'views:success', 'procs:outdated', 'gone:missing', 'fresh:pending', 'procs:pending']);
    expect(info.pendingRepeatable.map((f) => f.description)).toEqual(['fresh', 'procs']);
  });
});

describe('validate', () => {
  it('reports checksum mismatch, failed, missing file and older pending versions, one line each', () => {
    rank = 0;
    const files = set([v('1', 111), v('1.5'), v('3'), v('4')]);
    const rows = [row('1'), row('2'), row('3'), row('4', { success: false })];
    const problems = validateInfo(computeInfo(files, rows));
    expect(problems).toHaveLength(4);
    expect(problems.map((p) => [p.kind, p.version, p.script])).toEqual([
      ['checksum-mismatch', '1', 'V1__d1.sql'],
      ['missing', '2', 'V2__d2.sql'],
      ['failed', '4', 'V4__d4.sql'],
      ['out-of-order', '1.5', 'V1.5__d1.5.sql'],
    ]);
    expect(problems[0]!.message).toBe('version 1 (V1__d1.sql) checksum mismatch: applied 100, file 111');
    expect(problems[1]!.message).toMatch(/^version 2 \(V2__d2.sql\) is applied but its file is missing/);
    expect(problems[2]!.message).toMatch(/^version 4 \(V4__d4.sql\) failed/);
    expect(problems[3]!.message).toMatch(/^version 1.5 \(V1.5__d1.5.sql\) is not applied and older than the current version 3/);
    expect(validateInfo(computeInfo(files, rows, { outOfOrder: true }), { outOfOrder: true })).toHaveLength(3);
  });
  it('is empty for a consistent ledger; future versions are fine', () => {
    rank = 0;
    expect(validateInfo(computeInfo(set([v('1'), v('2')]), [row('1'), row('2')]))).toEqual([]);
    rank = 0;
    expect(validateInfo(computeInfo(set([v('1')]), [row('1'), row('7')]))).toEqual([]);
  });
});
