/**
 * What `run` and `register` say about task files and the tables they read: a file edited since
 * it was registered (headers included), and a table read by a task that no task writes and the
 * database lacks.
 */
import { describe, expect, it } from 'vitest';
import type { ErrorJson } from '../../src/errors.js';
import { SUBPROCESS_TEST_TIMEOUT, json, queryDb, runCli, tempProject } from '../helpers.js';

describe('run warns about task files edited since register', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('an edit of header lines only (@test, @timeout) is flagged, naming the file and `duck-orch register`', async () => {
    const p = tempProject();
    p.write('tasks/t.sql', '-- @timeout 5m\nCREATE OR REPLACE TABLE t AS SELECT 1 AS x;');
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    const clean = await runCli(['--db', p.db, 'run']);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stderr).not.toContain('warning:');

    // The new @test would fail: the registered definition, without it, is what runs.
    p.write('tasks/t.sql', '-- @timeout 10m\n-- @test "SELECT count(*) FROM t" expect 5\nCREATE OR REPLACE TABLE t AS SELECT 1 AS x;');
    const r = await runCli(['--db', p.db, 'run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json<{ warnings: string[] }>(r).warnings).toEqual([
      expect.stringMatching(
        /tasks\/t\.sql changed since it was registered: this run uses the registered definition of task t; `duck-orch register` picks up the change$/,
      ),
    ]);
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    const after = await runCli(['--db', p.db, 'run']);
    expect(after.code).toBe(1);
    expect(after.stderr).not.toContain('changed since it was registered');
  });
});

describe('register warns about tables read that nothing writes and the database lacks', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('at the read, with the closest name; --strict makes it an error and leaves the registry alone; validate --strict cannot know', async () => {
    const p = tempProject();
    p.write('tasks/trips.sql', 'CREATE OR REPLACE TABLE raw.trips AS SELECT 1 AS id;');
    p.write('tasks/x.sql', '-- @task name=x\nCREATE OR REPLACE TABLE x AS\nSELECT id FROM raw.trip;');
    // System views and tables the database has are found; a table another task writes is not a source.
    p.write(
      'tasks/y.sql',
      'CREATE OR REPLACE TABLE y AS SELECT * FROM information_schema.tables, sqlite_master, pg_class, raw.trips, landed;',
    );

    expect((await runCli(['validate', '--strict', p.tasks])).code).toBe(0);
    // `landed` is loaded outside duck-orch.
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const instance = await DuckDBInstance.create(p.db);
    const conn = await instance.connect();
    await conn.run('CREATE TABLE landed AS SELECT 1 AS n');
    conn.closeSync();
    instance.closeSync();

    const strict = await runCli(['--db', p.db, 'register', '--strict', p.tasks]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain(
      'tasks/x.sql:3:16: error: table raw.trip is read by task x, written by no task, and does not exist in warehouse.duckdb',
    );
    expect(strict.stderr).toContain('hint: did you mean raw.trips?');
    expect(await queryDb(p.db, 'SELECT count(*) FROM __orch__.tasks')).toEqual([[0n]]);

    const r = await runCli(['--db', p.db, 'register', p.tasks]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /tasks\/x\.sql:3:16: warning: table raw\.trip is read by task x, written by no task, and does not exist in warehouse\.duckdb \(did you mean raw\.trips\?\)$/,
      ),
    ]);
    const asJson = json<{ warnings: ErrorJson[] }>(await runCli(['--db', p.db, 'register', p.tasks, '--json']));
    expect(asJson.warnings).toEqual([
      {
        code: 'UNKNOWN_NAME',
        message: 'table raw.trip is read by task x, written by no task, and does not exist in warehouse.duckdb',
        file: expect.stringMatching(/tasks\/x\.sql$/) as unknown,
        line: 3,
        col: 16,
        hint: 'did you mean raw.trips?',
      },
    ]);
    expect(await queryDb(p.db, 'SELECT count(*) FROM __orch__.tasks')).toEqual([[3n]]);

    // Fixed: no warning, and --strict passes.
    p.write('tasks/x.sql', '-- @task name=x\nCREATE OR REPLACE TABLE x AS\nSELECT id FROM raw.trips;');
    const fixed = await runCli(['--db', p.db, 'register', '--strict', p.tasks]);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(fixed.stderr).toBe('');
  });
});
