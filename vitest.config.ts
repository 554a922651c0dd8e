import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Real DuckDB files and child processes: keep parallelism modest on small machines.
    pool: 'forks',
    maxWorkers: 2,
    allowOnly: false,
  },
});
