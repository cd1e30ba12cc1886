/** `npm run bench:mysql [-- --rows N --threads N --tps N --url URL]` */
import { runBench } from './alter-bench.js';

await runBench({
  engine: 'mysql',
  blocking: 'ALTER TABLE {t} ADD COLUMN priority INT NOT NULL DEFAULT 0, MODIFY customer_id BIGINT NOT NULL, ALGORITHM=COPY',
  alter: 'ADD COLUMN priority INT NOT NULL DEFAULT 0, MODIFY customer_id BIGINT NOT NULL',
});
