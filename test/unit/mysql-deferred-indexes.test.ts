import { describe, expect, it } from 'vitest';
import { buildAddIndexes, buildDropIndexes, chooseDeferred, keyLines } from '../../src/engine/mysql/deferred-indexes.js';
import type { ColumnInfo, IndexInfo, TableInfo } from '../../src/engine/engine.js';

const col = (name: string, extra: Partial<ColumnInfo> = {}): ColumnInfo => ({ name, type: 'int', nullable: false, default: null, generated: null, generationExpression: null, identity: null, collation: null, ...extra });
const ix = (name: string, columns: string[], unique = false): IndexInfo => ({ name, columns, unique });
const ghost = (indexes: IndexInfo[], extra: Partial<TableInfo> = {}): TableInfo => ({
  ref: { schema: 's', name: 't_gho' }, columns: [col('id'), col('k'), col('c'), col('pad'), col('v', { generated: 'virtual' })], primaryKey: null, uniqueKeys: [], indexes, copyKey: null,
  foreignKeys: [], referencedBy: [], triggers: [], partitioned: false, partitions: [], dependentViews: [], ownedSequences: [], estimatedRows: 0, estimatedBytes: 0, extra: {}, ...extra,
});

const CREATE = [
  'CREATE TABLE `t_gho` (',
  '  `id` int(11) NOT NULL,',
  '  `k` int(11) NOT NULL DEFAULT 0,',
  "  `c` char(120) NOT NULL DEFAULT '' COMMENT 'KEY `x` (`c`)',",
  '  `pad` char(60) NOT NULL,',
  '  `v` int(11) GENERATED ALWAYS AS (`k` * 2) VIRTUAL,',
  '  PRIMARY KEY (`id`),',
  '  UNIQUE KEY `u_c` (`c`),',
  '  KEY `k_1` (`k`),',
  "  KEY `c``pad` (`c`(10),`pad` DESC) COMMENT 'two, parts' IGNORED",
  ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
  ' PARTITION BY KEY (`id`)',
].join('\n');
const SHAPE = ghost([ix('PRIMARY', ['id'], true), ix('u_c', ['c'], true), ix('k_1', ['k']), ix('c`pad', ['c', 'pad'])]);

describe('deferred secondary indexes (MySQL)', () => {
  it("reads the server's key lines, names unquoted, definitions verbatim", () => {
    expect(keyLines(CREATE)).toEqual([
      { kind: 'primary', name: null, definition: 'PRIMARY KEY (`id`)' },
      { kind: 'unique', name: 'u_c', definition: 'UNIQUE KEY `u_c` (`c`)' },
      { kind: 'plain', name: 'k_1', definition: 'KEY `k_1` (`k`)' },
      { kind: 'plain', name: 'c`pad', definition: "KEY `c``pad` (`c`(10),`pad` DESC) COMMENT 'two, parts' IGNORED" },
    ]);
  });

  it('defers the plain keys only, in order; builds one DROP and one online ADD', () => {
    const d = chooseDeferred(CREATE, SHAPE, 'InnoDB', { targetKey: ['id'] });
    expect(d.map((x) => x.name)).toEqual(['k_1', 'c`pad']);
    expect(buildDropIndexes({ schema: 's', name: 't_gho' }, d).sql).toBe('ALTER TABLE `s`.`t_gho` DROP INDEX `k_1`, DROP INDEX `c``pad`');
    expect(buildAddIndexes({ schema: 's', name: 't_gho' }, d).sql).toBe(
      "ALTER TABLE `s`.`t_gho` ADD KEY `k_1` (`k`), ADD KEY `c``pad` (`c`(10),`pad` DESC) COMMENT 'two, parts' IGNORED, ALGORITHM=INPLACE, LOCK=NONE",
    );
  });

  it('keeps everything on other engines, with a foreign key, FULLTEXT or SPATIAL', () => {
    expect(chooseDeferred(CREATE, SHAPE, 'MyISAM', { targetKey: ['id'] })).toEqual([]);
    const fk = { name: 'fk', table: { schema: 's', name: 't_gho' }, columns: ['k'], referencedTable: { schema: 's', name: 'p' }, referencedColumns: ['id'], onUpdate: 'RESTRICT', onDelete: 'RESTRICT' };
    expect(chooseDeferred(CREATE, ghost(SHAPE.indexes, { foreignKeys: [fk] }), 'InnoDB', { targetKey: ['id'] })).toEqual([]);
    const ft = CREATE.replace('  KEY `k_1`', '  FULLTEXT KEY `f` (`pad`),\n  KEY `k_1`');
    expect(chooseDeferred(ft, ghost([...SHAPE.indexes, ix('f', ['pad'])]), 'InnoDB', { targetKey: ['id'] })).toEqual([]);
  });

  it('a key that must stay (the copy key leads it, a virtual column, an expression) keeps the keys before it too', () => {
    // The widened copy key's lookups use k_1: k_1 stays, and so would anything before it.
    expect(chooseDeferred(CREATE, SHAPE, 'InnoDB', { targetKey: ['k'] }).map((x) => x.name)).toEqual(['c`pad']);
    const virt = CREATE.replace("  KEY `c``pad`", '  KEY `on_v` (`v`),\n  KEY `c``pad`');
    expect(chooseDeferred(virt, ghost([...SHAPE.indexes, ix('on_v', ['v'])]), 'InnoDB', { targetKey: ['id'] }).map((x) => x.name)).toEqual(['c`pad']);
    const expr = CREATE.replace("  KEY `c``pad`", '  KEY `fx` ((`k` + 1)),\n  KEY `c``pad`');
    expect(chooseDeferred(expr, ghost([...SHAPE.indexes, ix('fx', ['(expression)'])]), 'InnoDB', { targetKey: ['id'] }).map((x) => x.name)).toEqual(['c`pad']);
    // A line whose name the inspection does not know is not touched.
    expect(chooseDeferred(CREATE, ghost([ix('PRIMARY', ['id'], true), ix('c`pad', ['c', 'pad'])]), 'InnoDB', { targetKey: ['id'] }).map((x) => x.name)).toEqual(['c`pad']);
  });
});
