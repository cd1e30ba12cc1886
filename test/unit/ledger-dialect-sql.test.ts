import { describe, expect, it } from 'vitest';
import {
  acquireLock, createHistoryTables, deleteHistory, dropObjects, insertHistory, mysqlLockName, realignHistory, releaseLock, selectHistory, tableExists, upsertProgress, type HistoryNames,
} from '../../src/ledger/dialect-sql.js';

const my: HistoryNames = { dialect: 'mysql', quote: (n) => `\`${n.replace(/`/g, '``')}\``, schema: 'app', table: 'ghostwright_schema_history' };
const pg: HistoryNames = { dialect: 'postgres', quote: (n) => `"${n.replace(/"/g, '""')}"`, schema: 'public', table: 'ghostwright_schema_history' };
const row = { version: '1.1', description: 'add users', type: 'SQL', script: 'V1_1__add_users.sql', checksum: -42, installedBy: 'ci', executionTime: 12, success: true };

describe('history table SQL', () => {
  it('MySQL DDL has Flyway columns', () => {
    const [history, progress] = createHistoryTables(my);
    expect(history).toBe(
      'CREATE TABLE IF NOT EXISTS `app`.`ghostwright_schema_history` (`installed_rank` INT NOT NULL, `version` VARCHAR(50), `description` VARCHAR(200) NOT NULL, ' +
        '`type` VARCHAR(20) NOT NULL, `script` VARCHAR(1000) NOT NULL, `checksum` INT, `installed_by` VARCHAR(100) NOT NULL, ' +
        '`installed_on` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, `execution_time` INT NOT NULL, `success` BOOL NOT NULL, ' +
        'CONSTRAINT `ghostwright_schema_history_pk` PRIMARY KEY (`installed_rank`), INDEX `ghostwright_schema_history_s_idx` (`success`)) ENGINE=InnoDB',
    );
    expect(progress).toMatch(/^CREATE TABLE IF NOT EXISTS `app`.`ghostwright_schema_history_progress` \(`script` VARCHAR\(700\) NOT NULL PRIMARY KEY/);
  });
  it('PostgreSQL DDL has Flyway columns', () => {
    const stmts = createHistoryTables(pg);
    expect(stmts[0]).toBe(
      'CREATE TABLE IF NOT EXISTS "public"."ghostwright_schema_history" ("installed_rank" INT NOT NULL, "version" VARCHAR(50), "description" VARCHAR(200) NOT NULL, ' +
        '"type" VARCHAR(20) NOT NULL, "script" VARCHAR(1000) NOT NULL, "checksum" INTEGER, "installed_by" VARCHAR(100) NOT NULL, ' +
        '"installed_on" TIMESTAMP NOT NULL DEFAULT now(), "execution_time" INTEGER NOT NULL, "success" BOOLEAN NOT NULL, ' +
        'CONSTRAINT "ghostwright_schema_history_pk" PRIMARY KEY ("installed_rank"))',
    );
    expect(stmts[1]).toBe('CREATE INDEX IF NOT EXISTS "ghostwright_schema_history_s_idx" ON "public"."ghostwright_schema_history" ("success")');
  });
  it('insert computes the rank in the same statement, values bound', () => {
    expect(insertHistory(my, row)).toEqual({
      sql: 'INSERT INTO `app`.`ghostwright_schema_history` (`installed_rank`, `version`, `description`, `type`, `script`, `checksum`, `installed_by`, `execution_time`, `success`) SELECT COALESCE(MAX(`installed_rank`), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ? FROM `app`.`ghostwright_schema_history`',
      params: ['1.1', 'add users', 'SQL', 'V1_1__add_users.sql', -42, 'ci', 12, true],
    });
    expect(insertHistory(pg, row).sql).toBe(
      'INSERT INTO "public"."ghostwright_schema_history" ("installed_rank", "version", "description", "type", "script", "checksum", "installed_by", "execution_time", "success") SELECT COALESCE(MAX("installed_rank"), 0) + 1, $1, $2, $3, $4, $5, $6, $7, $8 FROM "public"."ghostwright_schema_history"',
    );
  });
  it('select, delete, realign, exists', () => {
    expect(selectHistory(pg).sql).toBe(
      'SELECT "installed_rank", "version", "description", "type", "script", "checksum", "installed_by", "installed_on"::text AS "installed_on", "execution_time", "success" FROM "public"."ghostwright_schema_history" ORDER BY "installed_rank"',
    );
    expect(deleteHistory(my, 3)).toEqual({ sql: 'DELETE FROM `app`.`ghostwright_schema_history` WHERE `installed_rank` = ?', params: [3] });
    expect(realignHistory(pg, 2, 7, 'x')).toEqual({ sql: 'UPDATE "public"."ghostwright_schema_history" SET "checksum" = $1, "description" = $2 WHERE "installed_rank" = $3', params: [7, 'x', 2] });
    expect(tableExists(my, 't')).toEqual({ sql: 'SELECT 1 AS `found` FROM information_schema.tables WHERE table_schema = ? AND table_name = ?', params: ['app', 't'] });
  });
  it('progress upsert per dialect', () => {
    const p = { script: 'V1__a.sql', version: '1', statementsDone: 2, statementsTotal: 5, doneChecksum: 9, error: 'boom' };
    expect(upsertProgress(my, p)).toEqual({
      sql: 'INSERT INTO `app`.`ghostwright_schema_history_progress` (`script`, `version`, `statements_done`, `statements_total`, `done_checksum`, `error`) VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE `version` = VALUES(`version`), `statements_done` = VALUES(`statements_done`), `statements_total` = VALUES(`statements_total`), `done_checksum` = VALUES(`done_checksum`), `error` = VALUES(`error`), `updated_on` = CURRENT_TIMESTAMP',
      params: ['V1__a.sql', '1', 2, 5, 9, 'boom'],
    });
    expect(upsertProgress(pg, p).sql).toBe(
      'INSERT INTO "public"."ghostwright_schema_history_progress" ("script", "version", "statements_done", "statements_total", "done_checksum", "error") VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT ("script") DO UPDATE SET "version" = EXCLUDED."version", "statements_done" = EXCLUDED."statements_done", "statements_total" = EXCLUDED."statements_total", "done_checksum" = EXCLUDED."done_checksum", "error" = EXCLUDED."error", "updated_on" = now()',
    );
  });
});

describe('migration lock SQL', () => {
  it('MySQL GET_LOCK with a per-database name, bounded to 64 chars', () => {
    expect(acquireLock('mysql', 'shop', 30)).toEqual([{ sql: 'SELECT GET_LOCK(?, ?) AS acquired', params: ['ghostwright_migrate:shop', 30] }]);
    expect(releaseLock('mysql', 'shop')).toEqual([{ sql: 'SELECT RELEASE_LOCK(?) AS released', params: ['ghostwright_migrate:shop'] }]);
    expect(mysqlLockName('x'.repeat(80))).toHaveLength(64);
  });
  it('PostgreSQL pg_advisory_lock on a fixed key, bounded by lock_timeout', () => {
    expect(acquireLock('postgres', 'shop', 30)).toEqual([
      { sql: "SELECT set_config('lock_timeout', $1, false)", params: ['30000ms'] },
      { sql: 'SELECT pg_advisory_lock($1::bigint) AS acquired', params: ['7451328125150392937'] },
    ]);
    expect(releaseLock('postgres', 'shop')).toEqual([
      { sql: 'SELECT pg_advisory_unlock($1::bigint) AS released', params: ['7451328125150392937'] },
      { sql: 'RESET lock_timeout', params: [] },
    ]);
  });
});

describe('clean', () => {
  it('drops views before tables before types, CASCADE on PostgreSQL', () => {
    const objs = [{ name: 'mood', kind: 'type' }, { name: 'users', kind: 'table' }, { name: 'v', kind: 'view' }, { name: 'f(integer)', kind: 'function' }];
    expect(dropObjects(pg, objs)).toEqual([
      'DROP VIEW IF EXISTS "public"."v" CASCADE',
      'DROP TABLE IF EXISTS "public"."users" CASCADE',
      'DROP FUNCTION IF EXISTS f(integer) CASCADE',
      'DROP TYPE IF EXISTS "public"."mood" CASCADE',
    ]);
    expect(dropObjects(my, [{ name: 'users', kind: 'table' }, { name: 'p', kind: 'procedure' }])).toEqual(['DROP TABLE IF EXISTS `app`.`users`', 'DROP PROCEDURE IF EXISTS `app`.`p`']);
  });
});
