/**
 * Picks the engine for a URL. Drivers are imported lazily so a MySQL run
 * never loads pg and vice versa.
 */
import type { ConnectionSpec } from '../connection.js';
import type { Logger } from '../log.js';
import type { AlterParser } from './alter.js';
import type { Dialect, Engine, EngineCatalog } from './engine.js';

export async function connectEngine(spec: ConnectionSpec, log: Logger): Promise<Engine> {
  switch (spec.dialect) {
    case 'mysql': {
      const { createMysqlEngine } = await import('./mysql/index.js');
      return createMysqlEngine(spec, log);
    }
    case 'postgres': {
      const { createPostgresEngine } = await import('./postgres/index.js');
      return createPostgresEngine(spec, log);
    }
    default: {
      const never: never = spec.dialect;
      throw new Error(`unknown dialect ${String(never)}`);
    }
  }
}

/**
 * The dialect's --alter parser, available before anything connects: core
 * refuses text that is not one ALTER TABLE before it opens a connection.
 */
export async function loadAlterParser(dialect: Dialect): Promise<AlterParser> {
  switch (dialect) {
    case 'mysql':
      return (await import('./mysql/alter-parse.js')).mysqlAlterParser;
    case 'postgres': {
      // libpg_query's WASM compiles off the main thread (~0.1 s): the engine's modules load meanwhile.
      const [parser] = await Promise.all([import('./postgres/alter-parse.js').then((m) => m.loadPgParser()), import('./postgres/index.js')]);
      return parser;
    }
    default: {
      const never: never = dialect;
      throw new Error(`unknown dialect ${String(never)}`);
    }
  }
}

/** Both engines, for the runbook (core takes them as an EngineCatalog). */
export const engineCatalog: EngineCatalog = { connect: connectEngine, alterParser: loadAlterParser };
