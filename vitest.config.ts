import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Integration files share the servers that global setup started; running
    // files in parallel on a 2-core machine only adds contention.
    fileParallelism: false,
    pool: 'forks',
  },
});
