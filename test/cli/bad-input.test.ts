import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import type { ErrorJson } from '../../src/errors.js';
import {
  SUBPROCESS_TEST_TIMEOUT,
  json,
  logLine,
  queryDb,
  register,
  runCli,
  startCli,
  tempProject,
  waitFor,
  withProject,
} from '../helpers.js';

// CLI tests are split over two files so that both test workers spawn processes at once.
describe('bad input loses nothing', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('refuses a cycle, names the tasks on it and where each reads the one before, and keeps the earlier registry', async () => {
    const p = tempProject();
    p.write('tasks/a.sql', 'CREATE TABLE a AS SELECT 1 AS x;');
    await register(p);
    p.write('tasks/a.sql', 'CREATE TABLE a AS SELECT * FROM c;');
    p.write('tasks/b.sql', '-- @owner me\nCREATE TABLE b AS\nSELECT *\n  FROM main.A;');
    p.write('tasks/c.sql', '-- @depends_on b\nCREATE TABLE c AS SELECT 1;');
    const r = await runCli(['--db', p.db, 'register', p.tasks]);
    expect(r.code).toBe(1);
    const at = (file: string) => path.join(p.tasks, file);
    expect(r.stderr.split('\n').slice(0, 5)).toEqual([
      `${at('a.sql')}:1:33: error: the tasks form a cycle: a → b → c → a`,
      `  ${at('b.sql')}:4:8: b reads a, written by a`,
      `  ${at('c.sql')}:1:16: c names b in @depends_on`,
      `  ${at('a.sql')}:1:33: a reads c, written by c`,
      '  hint: a task cannot (indirectly) read what it writes; break the cycle by changing what one of these tasks reads',
    ]);
    const errors = json<{ errors: ErrorJson[] }>(await runCli(['--db', p.db, 'register', p.tasks, '--json'])).errors;
    expect(errors).toEqual([expect.objectContaining({ code: 'DAG_CYCLE', file: at('a.sql'), line: 1, col: 33 })]);
    const list = json<{ tasks: Array<{ name: string; inputs: string[] }> }>(await runCli(['--db', p.db, 'list', '--json']));
    expect(list.tasks).toEqual([expect.objectContaining({ name: 'a', inputs: [] })]);
  });

  it('refuses a table written by two tasks', async () => {
    const p = tempProject();
    p.write('tasks/one.sql', 'CREATE TABLE shared AS SELECT 1 AS x;');
    p.write('tasks/two.sql', 'INSERT INTO shared SELECT 2;');
    const r = await runCli(['--db', p.db, 'register', p.tasks]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/`shared` is written by two tasks: one \(.*one\.sql\) and two \(.*two\.sql\)/);
    expect(r.stderr).toContain('hint:');
  });

  it('reports the errors of every bad file at once and registers nothing', async () => {
    const p = tempProject();
    p.write('tasks/good.sql', 'CREATE TABLE good AS SELECT 1 AS x;');
    p.write('tasks/bad1.sql', '-- @retries -1\nSELECT 1;');
    p.write('tasks/bad2.sql', 'CREATE TABLE x AS SELEC 1;');
    const r = await runCli(['--db', p.db, 'register', p.tasks, '--json']);
    expect(r.code).toBe(1);
    const errors = json<{ errors: Array<{ code: string; file: string }> }>(r).errors;
    expect(errors.map((e) => [e.code, path.basename(e.file)])).toEqual([
      ['HEADER_VALUE', 'bad1.sql'],
      ['SQL_SYNTAX', 'bad2.sql'],
    ]);
    const status = await runCli(['--db', p.db, 'list']);
    expect(status.stderr).toContain('no tasks are registered');
  });

  it('skips empty and all-comment files with a warning', async () => {
    const p = tempProject();
    p.write('tasks/a.sql', 'CREATE TABLE a AS SELECT 1 AS x;');
    p.write('tasks/disabled.sql', '-- CREATE TABLE b AS SELECT 1;\n\n-- kept for later\n');
    p.write('tasks/empty.sql', '');
    const r = await runCli(['--db', p.db, 'register', p.tasks]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Registered 1 task');
    expect(r.stderr).toMatch(/disabled\.sql:1:1: warning: no headers and no SQL: not a task, skipped/);
    expect(r.stderr).toMatch(/empty\.sql:1:1: warning/);
    p.write('tasks/headers_only.sql', '-- @retries 2\n');
    const bad = await runCli(['--db', p.db, 'register', p.tasks]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('the task has no SQL body');
  });

  it('explains a missing task folder and a missing database', async () => {
    const p = tempProject();
    const missing = await runCli(['--db', p.db, 'register', path.join(p.dir, 'nope')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/task folder .*nope does not exist/);
    const noDb = await runCli(['--db', path.join(p.dir, 'absent.duckdb'), 'status']);
    expect(noDb.code).toBe(1);
    expect(noDb.stderr).toContain('absent.duckdb does not exist');
    expect(fs.existsSync(path.join(p.dir, 'absent.duckdb'))).toBe(false);
  });

  it('names the process holding a locked database', async () => {
    const p = tempProject();
    p.write('tasks/a.sql', 'CREATE TABLE a AS SELECT 1 AS x;');
    await register(p);
    const holder = await DuckDBInstance.create(p.db);
    try {
      const r = await runCli(['--db', p.db, 'run']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/database .*warehouse\.duckdb is in use by another process \(.*PID \d+\)/);
      expect(r.stderr).toContain('wait for it to finish');
    } finally {
      holder.closeSync();
    }
  });

  it('says when the database cannot be written', async () => {
    const p = tempProject();
    p.write('tasks/a.sql', 'CREATE TABLE a AS SELECT 1 AS x;');
    const root = process.getuid?.() === 0;
    const roDir = path.join(p.dir, 'ro');
    fs.mkdirSync(roDir, { mode: 0o555 });
    // Root ignores permissions: there the CLI runs without the capabilities that let it.
    const r = await runCli(['--db', path.join(roDir, 'x.duckdb'), 'register', p.tasks], { cwd: p.dir, withoutRootOverride: root });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot create database .*x\.duckdb: folder .*ro is not writable by this user/);
  });

  it('recovers a run whose process was killed: the unfinished job waits again with its lost attempt, its data rolled back', async () => {
    const p = tempProject();
    p.write('tasks/keep.sql', "CREATE OR REPLACE TABLE keep AS SELECT 'v1' AS v;");
    await withProject(p, async (project) => {
      await project.register(p.tasks);
      expect((await project.run()).run?.state).toBe('succeeded');
    });
    // v2 replaces the table, then runs a long query (a 10^11-row scan, tens of seconds). The COPY
    // creates its file when it starts executing: the replacement is then done but not committed.
    const busy = path.join(p.dir, 'busy.csv');
    p.write(
      'tasks/keep.sql',
      `CREATE OR REPLACE TABLE keep AS SELECT 'v2' AS v;\nCOPY (SELECT count(*) AS n FROM range(100000000000::BIGINT)) TO '${busy}';`,
    );
    await register(p);
    const spawnedAt = new Date();
    const cli = startCli(['--db', p.db, 'run']);
    const startLine = await cli.waitForStderr(logLine('start  keep \\(attempt 1\\)'));
    await waitFor(`${busy} (the second statement of keep running)`, () => fs.existsSync(busy));
    // The ledger writes the claim (the job processing since its start) in its next batch, within a
    // fraction of a second: a commit to the WAL after the start line. Killed sooner, a run leaves
    // no trace of the attempt, only its job still pending.
    const startLogged = Date.parse(startLine.slice(0, 24));
    const wal = `${p.db}.wal`;
    await waitFor('the claim of keep committed', () => fs.existsSync(wal) && fs.statSync(wal).mtimeMs > startLogged + 1);
    const killedAt = new Date();
    cli.child.kill('SIGKILL');
    expect((await cli.exited).signal).toBe('SIGKILL');
    // `status` opens the database to write, which recovers what the killed process left.
    const status = json<{
      jobs: Array<{
        task: string;
        run_id: string;
        state: string;
        attempts: number;
        started_at: string;
        failed_attempts: Array<{ attempt: number; outcome: string; error: string; started_at: string }>;
      }>;
      runs: Array<{ run_id: string; state: string; jobs: Record<string, number> }>;
    }>(await runCli(['--db', p.db, 'status', '--json']));
    const [job] = status.jobs;
    expect(job).toMatchObject({ task: 'keep', state: 'pending', attempts: 0 });
    expect(job!.failed_attempts).toEqual([
      { attempt: 1, outcome: 'lost', error: 'the worker holding it stopped', started_at: job!.started_at },
    ]);
    // The real start of the attempt, not the time it was recovered.
    const started = new Date(job!.started_at).getTime();
    expect(started).toBeGreaterThanOrEqual(spawnedAt.getTime());
    expect(started).toBeLessThanOrEqual(new Date(startLine.slice(0, 24)).getTime());
    expect(started).toBeLessThan(killedAt.getTime());
    expect(status.runs[0]).toMatchObject({ run_id: job!.run_id, state: 'running', jobs: { pending: 1 } });
    expect(status.runs[1]).toMatchObject({ state: 'succeeded', jobs: { succeeded: 1 } });
    expect(await queryDb(p.db, 'SELECT v FROM keep')).toEqual([['v1']]);
  });

  // SIGTERM (a scheduler or CI stopping the job) cancels a run as Ctrl-C does.
  it.each(['SIGINT', 'SIGTERM'] as const)('stops on %s: exit 130, the run and its jobs recorded as cancelled', async (signal) => {
    const p = tempProject();
    p.write('tasks/slow_a.sql', 'CREATE TABLE slow_a AS SELECT count(*) AS n FROM range(100000000000::BIGINT);');
    p.write('tasks/slow_b.sql', 'CREATE TABLE slow_b AS SELECT count(*) AS n FROM range(100000000000::BIGINT);');
    await register(p);
    // One at a time: one task is cut short while it runs, the other never starts.
    const cli = startCli(['--db', p.db, 'run', '--json', '--max-parallel', '1']);
    const running = (await cli.waitForStderr(logLine('start  slow_\\w \\(attempt 1\\)'))).match(/slow_\w/)![0];
    const waiting = running === 'slow_a' ? 'slow_b' : 'slow_a';
    cli.child.kill(signal);
    const r = await cli.exited;
    expect(r.code).toBe(130);
    const out = json<{ run: { state: string; jobs: Record<string, number> }; jobs: Array<Record<string, unknown>> }>(r);
    expect(out.run).toMatchObject({ state: 'cancelled', jobs: { cancelled: 2 } });
    const byTask = Object.fromEntries(out.jobs.map((j) => [j.task, j]));
    expect(byTask[running]).toMatchObject({ state: 'cancelled', attempts: 1, error: 'the run was cancelled while it ran' });
    expect(byTask[waiting]).toMatchObject({
      state: 'cancelled',
      attempts: 0,
      started_at: null,
      error: 'the run was cancelled before it started',
    });
    expect(r.stderr).toMatch(logLine(`finish ${running} cancelled after 1 attempt: the run was cancelled while it ran`));
    expect(r.stderr).toMatch(logLine(`skip   ${waiting} cancelled: the run was cancelled before it started`));
    expect(await queryDb(p.db, "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE 'slow_%'")).toEqual([[0n]]);
  });
});
