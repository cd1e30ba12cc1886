/**
 * gh-ost's --exact-rowcount: SELECT COUNT(*) on a connection of its own,
 * never awaited by the copy. The count becomes the progress total (the copy
 * may already have passed it: rows inserted meanwhile are copied too).
 */
import type { Engine, SqlSession } from '../engine/engine.js';
import type { Logger } from '../log.js';

/**
 * Starts the count; `onCount` gets the number of rows once it is known.
 * Returns the closer: it cancels a count still running, since that must not
 * hold up the end of the migration, nor go on scanning the table on the
 * server after we have gone.
 */
export function countRowsInBackground(engine: Engine, table: string, log: Logger, onCount: (rows: number) => void): () => void {
  const ref = engine.tableRef(table);
  const qualified = `${engine.quoteIdent(ref.schema)}.${engine.quoteIdent(ref.name)}`;
  let session: SqlSession | null = null;
  let open = true;
  void (async () => {
    try {
      session = await engine.openSession();
      if (!open) return void (await session.close());
      const { rows } = await session.query(`SELECT COUNT(*) AS n FROM ${qualified}`);
      const n = Number(rows[0] ? Object.values(rows[0])[0] : NaN);
      if (!open || !Number.isFinite(n)) return;
      onCount(n);
      log.info({ rows: n }, 'exact row count');
    } catch (err) {
      if (open) log.warn({ err }, 'exact row count failed; progress goes on with the estimate');
    }
  })();
  return () => {
    open = false;
    const s = session;
    if (s) void (s.cancel?.() ?? Promise.resolve()).catch(() => undefined).finally(() => s.close().catch(() => undefined));
  };
}
