import { describe, expect, it } from 'vitest';
import type { ColumnInfo, TableInfo } from '../../src/engine/engine.js';
import { narrowing, revertShapeProblems } from '../../src/engine/revert-shape.js';

const col = (name: string, type: string, more: Partial<ColumnInfo> = {}): ColumnInfo => ({ name, type, nullable: true, default: null, generated: null, generationExpression: null, identity: null, collation: null, ...more });
const table = (columns: ColumnInfo[]) => ({ columns }) as TableInfo;

describe('narrowing (can the old shape hold the new type?)', () => {
  it.each([
    ['int', 'bigint'],
    ['int(11)', 'int'],
    ['int unsigned', 'bigint'],
    ['smallint', 'integer'],
    ['varchar(60)', 'varchar(200)'],
    ['varchar(60)', 'text'],
    ['character varying(60)', 'text'],
    ['decimal(10,2)', 'decimal(12,4)'],
    ['numeric(10,2)', 'numeric'],
    ['timestamp(6) without time zone', 'timestamp(6) without time zone'],
  ])('%s fits in %s', (from, to) => expect(narrowing(from, to)).toBeNull());

  it.each([
    ['bigint', 'int'],
    ['int', 'int unsigned'],
    ['int unsigned', 'int'],
    ['varchar(200)', 'varchar(60)'],
    ['text', 'varchar(60)'],
    ['decimal(12,4)', 'decimal(10,2)'],
    ['decimal(12,2)', 'decimal(12,4)'],
    ['datetime(6)', 'datetime'],
    ['json', 'text'],
  ])('%s does not fit in %s', (from, to) => expect(narrowing(from, to)).toMatch(/narrowed type/));
});

describe('revertShapeProblems', () => {
  const fold = (n: string) => n.toLowerCase();
  it('names an old NOT NULL column without a default that the new shape lacks, not one with a default or nullable', () => {
    const oldShape = table([col('id', 'bigint', { nullable: false }), col('n', 'int', { nullable: false }), col('d', 'int', { nullable: false, default: '0' }), col('z', 'int')]);
    const newShape = table([col('id', 'bigint', { nullable: false })]);
    expect(revertShapeProblems(newShape, oldShape, fold).map((p) => p.column)).toEqual(['n']);
  });
  it('names a column NOT NULL in the old shape and nullable in the new; ignores generated columns', () => {
    const oldShape = table([col('id', 'bigint', { nullable: false }), col('v', 'int', { nullable: false }), col('g', 'int', { generated: 'stored', nullable: false })]);
    const newShape = table([col('ID', 'bigint', { nullable: false }), col('v', 'int')]);
    expect(revertShapeProblems(newShape, oldShape, fold).map((p) => p.column)).toEqual(['v']);
  });
});
