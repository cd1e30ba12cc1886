/** `npm run bench:pg [-- --rows N --threads N --tps N --url URL]` */
import { runBench } from './alter-bench.js';

await runBench({
  engine: 'postgres',
  blocking: 'ALTER TABLE {t} ALTER COLUMN customer_id TYPE bigint',
  alter: 'ALTER COLUMN customer_id TYPE bigint',
  gauge: {
    name: 'WAL retained by our slot',
    sql: "SELECT COALESCE(MAX(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)), 0) FROM pg_replication_slots WHERE slot_name LIKE 'ghostwright\\_%'",
  },
});
