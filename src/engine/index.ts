/**
 * Picks the engine for a URL. Drivers are imported lazily so a MySQL run
 * never loads pg and vice versa.
 */
import type { ConnectionSpec } from '../connection.js';
import type { Logger } from '../log.js';
import type { Engine } from './engine.js';

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
