import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds dist/ when stale; gives the run its own TMPDIR and fails the run on leftovers.
    globalSetup: ['test/global-setup.ts'],
    // Tight for the pure unit tests. Suites that run real DuckDB or spawn the CLI set their own,
    // sized for a loaded two-core machine (DUCKDB_TEST_TIMEOUT, SUBPROCESS_TEST_TIMEOUT in
    // test/helpers.ts), on their `describe`.
    testTimeout: 15_000,
    hookTimeout: 60_000,
    // onTestFinished callbacks run last-registered first: a CLI process a test started is killed
    // before the temporary folder it works in is removed.
    sequence: { hooks: 'stack' },
    // Real DuckDB files and child processes: keep parallelism modest on small machines.
    pool: 'forks',
    maxWorkers: 2,
    allowOnly: false,
  },
});
