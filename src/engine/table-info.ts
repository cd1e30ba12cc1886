/**
 * The engine contract, part 1: what inspecting a table yields (columns,
 * keys, indexes, foreign keys, triggers) and the copy plan core derives from
 * two such shapes (original and ghost). Plain data, no behaviour.
 */
/** A table named by the user: `orders` or `schema.orders`. */
export interface TableRef {
  /** MySQL: the database from the URL unless given. PostgreSQL: `public` (search_path) unless given. */
  schema: string;
  name: string;
}

export interface ColumnInfo {
  name: string;
  /** Exact type as the server prints it (MySQL COLUMN_TYPE, PG format_type()). */
  type: string;
  nullable: boolean;
  /** Default expression text as the server stores it, or null. */
  default: string | null;
  /** Generated columns are never written by the copy or the apply. */
  generated: 'virtual' | 'stored' | null;
  generationExpression: string | null;
  /** PG identity ('always' | 'by default') / MySQL auto_increment ('auto_increment'). */
  identity: string | null;
  /** Character set / collation where the engine has them. */
  collation: string | null;
}

export interface KeyInfo {
  name: string;
  columns: string[];
  primary: boolean;
  unique: boolean;
  /** True when any key column is nullable (then it can't drive the copy). */
  hasNullableColumn: boolean;
  /** PG: partial (WHERE ...) or deferrable or expression indexes can't drive the copy. */
  usableForCopy: boolean;
  /** Why not usable, when usableForCopy is false. */
  reason?: string;
}

export interface IndexInfo {
  name: string;
  columns: string[];
  unique: boolean;
  definition?: string;
}

export interface ForeignKeyInfo {
  name: string;
  /** The table holding the constraint. */
  table: TableRef;
  columns: string[];
  referencedTable: TableRef;
  referencedColumns: string[];
  onUpdate: string;
  onDelete: string;
}

export interface TriggerInfo {
  name: string;
  timing: string;
  events: string[];
  definition?: string;
}

export interface TableInfo {
  ref: TableRef;
  columns: ColumnInfo[];
  primaryKey: KeyInfo | null;
  uniqueKeys: KeyInfo[];
  indexes: IndexInfo[];
  /** The key the copy and the apply would use (primary first, else the best usable unique key). */
  copyKey: KeyInfo | null;
  /** Constraints on this table pointing at others. */
  foreignKeys: ForeignKeyInfo[];
  /** Constraints on other tables pointing at this one. */
  referencedBy: ForeignKeyInfo[];
  triggers: TriggerInfo[];
  partitioned: boolean;
  partitions: string[];
  /** Views that depend on this table (PG) / that mention it (MySQL). */
  dependentViews: string[];
  /** Sequences owned by columns of this table (PG). */
  ownedSequences: string[];
  estimatedRows: number;
  estimatedBytes: number;
  /** Engine-specific facts worth showing (storage engine, charset, rules, replica identity, ...). */
  extra: Record<string, unknown>;
}

// ---------------------------------------------------------------- copy plan (chosen by core/columns.ts)

export interface ColumnPair {
  source: string;
  target: string;
}

export interface ColumnMapping {
  /** Written by copy and apply, in ghost column order. */
  pairs: ColumnPair[];
  /** Source columns with no ghost counterpart. */
  dropped: string[];
  /** Ghost columns with no source: they take their default. */
  added: string[];
}

export interface CopyPlan {
  mapping: ColumnMapping;
  /** Key columns in the original, in key order; they drive copy and apply. */
  sourceKey: string[];
  /** The same key's columns in the ghost (renames followed). */
  targetKey: string[];
  keyName: string;
  /**
   * The ghost's unique key over targetKey, or (a widened key) over a superset
   * of it: `DROP PRIMARY KEY, ADD PRIMARY KEY (id, i)` on `PRIMARY KEY (id)`.
   */
  ghostKey: { name: string; columns: string[] };
  /**
   * False for a widened key: no ghost index makes targetKey unique, so the
   * apply must delete a key's ghost rows and insert its current row (never
   * upsert on targetKey). Each targetKey value still matches at most one row
   * once its changes are applied: the ghost only receives rows of the
   * original, where the old key is unique, and every apply replaces ALL ghost
   * rows of its keys. A ghost index leads with targetKey, so those lookups
   * are index lookups.
   */
  targetKeyUnique: boolean;
}
