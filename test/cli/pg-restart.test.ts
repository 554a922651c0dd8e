/**
 * PostgreSQL restarting under running workers: the workers say they lost the connection, retry
 * with backoff, say when they are back, and the run finishes with every job succeeded exactly
 * once; their LISTEN connections come back too (with polling all but off, a run enqueued after
 * the restart is still picked up). The server is this test's own, never the shared one: it is
 * stopped and started again on the same port and data folder.
 */
import path from 'node:path';
import pg from 'pg';
import { describe, expect, inject, it, onTestFinished } from 'vitest';
import { findPostgres, startThrowaway } from '../pg-server.js';
import { PG_START_TIMEOUT, closedPort } from '../pg.js';
import { SUBPROCESS_TEST_TIMEOUT, runCli, slowJobsDag, startCli, tempProject, type CliProcess } from '../helpers.js';

const JOBS = 160;
const WORKERS = 2;
const SCHEMA = 'restart';

const found = findPostgres();
const parentDir = inject('duckorchPg')?.serverParentDir;
const skipReason = !('install' in found)
  ? `cannot start a PostgreSQL server of its own: ${found.reason}`
  : parentDir === undefined
    ? 'run through vitest.config.ts (test/global-setup.ts provides where the server goes)'
    : undefined;
if (skipReason) console.warn(`PostgreSQL restart test skipped: ${skipReason}`);

/** One query on a connection of its own (the server comes and goes: no connection is kept). */
async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Polls (a state row or a log line, not a time). */
async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('a worker and an unreachable PostgreSQL', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('at start-up fails at once with the reason (retrying is for a connection lost mid-run)', async () => {
    const p = tempProject();
    p.write('tasks/a.sql', 'CREATE OR REPLACE TABLE a AS SELECT 1 AS x;');
    expect((await runCli(['--db', p.db, 'register', p.tasks], { cwd: p.dir })).code).toBe(0);
    const port = await closedPort();
    const worker = await runCli(['--db', p.db, 'worker'], {
      cwd: p.dir,
      env: { DATABASE_URL: `postgresql://postgres@127.0.0.1:${port}/db` },
    });
    expect(worker.code).toBe(1);
    expect(worker.stderr).toContain(`cannot reach PostgreSQL at 127.0.0.1:${port} (ECONNREFUSED)`);
    expect(worker.stderr).not.toContain('retrying');
  });
});

describe.skipIf(skipReason !== undefined)('PostgreSQL restarted mid-run', { timeout: SUBPROCESS_TEST_TIMEOUT + PG_START_TIMEOUT }, () => {
  it(`${WORKERS} workers ride out a restart: every one of ${JOBS} jobs succeeds exactly once, the workers stay up`, async () => {
    const started = startThrowaway((found as Extract<typeof found, { install: unknown }>).install, parentDir!);
    // Registered first, so it runs last: after the workers are killed and their folders removed.
    onTestFinished(async () => {
      await (await started.catch(() => undefined))?.stop();
    });
    const server = await started;
    const url = server.url;

    const p = tempProject();
    // Jobs that take a while, so that the restart lands while work remains and completions are in flight.
    p.write('dag/work.ts', slowJobsDag(JOBS, 120, 5, 20));
    const env = { DATABASE_URL: url, DUCKORCH_PG_SCHEMA: SCHEMA, DUCKORCH_LEASE: '3s', DB_POOL_MAX: '4' };
    const dag = ['--dag', 'dag/work.ts:dag'];
    // Workers never create the ledger's tables: init-db does, once.
    expect((await runCli(['init-db'], { cwd: p.dir, env })).code).toBe(0);
    const enqueue = async () => {
      const out = await runCli(['--db', path.join(p.dir, 'enqueue.duckdb'), ...dag, 'enqueue'], { cwd: p.dir, env });
      expect(out.code, out.stderr).toBe(0);
    };
    await enqueue();

    // Polling all but off: after the restart only a LISTEN connection that came back wakes an idle worker.
    const workers: CliProcess[] = [];
    for (let i = 0; i < WORKERS; i++) {
      const w = startCli(
        ['--db', path.join(p.dir, `worker-${i}.duckdb`), ...dag, 'worker', '-c', '4', '--poll-interval', '3600', '--worker-id', `w${i}`],
        { cwd: p.dir, env },
      );
      await w.waitForStderr(/^worker \d+ started/);
      workers.push(w);
    }
    const count = async (sql: string) => Number((await query<{ n: string }>(url, sql))[0]!.n);
    const succeeded = () => count(`SELECT count(*) AS n FROM ${SCHEMA}.jobs WHERE state = 'succeeded'`);

    const activity = () => query<{ query: string }>(url, `SELECT query, state, backend_type FROM pg_stat_activity`);
    const listening = async () => (await activity()).filter((r) => r.query.startsWith('LISTEN ')).length;
    const bothListening = () =>
      until('both workers’ LISTEN connections', async () => (await listening()) === WORKERS, 30_000).catch(async (err: unknown) => {
        throw new Error(`${String(err)}: ${JSON.stringify(await activity())}\n${workers.map((w) => w.stderr).join('\n---\n')}`);
      });
    // So that what comes back after the restart is a LISTEN connection that was lost.
    await bothListening();
    await until('the first jobs to succeed', async () => (await succeeded()) >= 20);
    await server.halt('fast');
    // Every worker has jobs in flight whose completion now fails: each says so and keeps trying.
    for (const w of workers)
      await w.waitForStderr(/Z lost the connection to PostgreSQL at 127\.0\.0\.1:\d+ \(.+\); retrying in \d+(ms|(\.\d)?s)$/);
    expect(await succeeded().catch(() => 'unreachable')).toBe('unreachable');
    await server.resume();
    for (const w of workers) await w.waitForStderr(/Z reconnected to PostgreSQL after \d+(ms|(\.\d)?s)$/);

    await until(`all ${JOBS} jobs succeeded`, async () => (await succeeded()) === JOBS);
    for (const w of workers) expect(w.child.exitCode, w.stderr).toBeNull();
    // The LISTEN connections are back: a run enqueued now is picked up without polling.
    await bothListening();
    await enqueue();
    await until(`the second run's ${JOBS} jobs succeeded`, async () => (await succeeded()) === 2 * JOBS, 90_000);

    for (const w of workers) w.child.kill('SIGTERM');
    for (const w of workers) {
      const out = await w.exited;
      expect(out.code, out.stderr).toBe(0);
      expect(out.stderr).toMatch(/^worker \d+ stopped$/m);
    }
    // Exactly once: one succeeded attempt per job; nothing left in flight or lost.
    expect(await count(`SELECT count(*) AS n FROM ${SCHEMA}.attempts WHERE outcome = 'succeeded'`)).toBe(2 * JOBS);
    expect(await count(`SELECT count(DISTINCT job_id) AS n FROM ${SCHEMA}.attempts WHERE outcome = 'succeeded'`)).toBe(2 * JOBS);
    expect(await count(`SELECT count(*) AS n FROM ${SCHEMA}.jobs WHERE state <> 'succeeded'`)).toBe(0);
  });
});
