/**
 * On the embedded ledger, the process holding the database file answers the others as they would
 * have answered themselves, whoever it is: a `--dag` worker counts every job for a `queue-depth`
 * without `--dag`, and its DAG's tasks are not "removed" for `status`; `sql` runs read-only in it
 * (a write, or a statement that would end its read-only transaction, is refused); `test` and
 * `register` go through it, and what is registered so is what its next run runs.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { socketPath } from '../../src/app/remote/socket.js';
import { SUBPROCESS_TEST_TIMEOUT, json, queryDb, runCli, startCli, tempProject, writeGateTask, type CliResult } from '../helpers.js';

const ok = (r: CliResult, what: string) => expect(r.code, `${what}:\n${r.stdout}\n${r.stderr}`).toBe(0);

/** A task writing `one` with the value `x`, and a `@test` that holds for that value only. */
const oneTask = (x: number) => `-- @test "SELECT count(*) FROM one WHERE x <> ${x}" expect 0
CREATE OR REPLACE TABLE one AS SELECT ${x} AS x;
`;

type SqlJson = { rows: Array<Record<string, unknown>> };

describe('the holder of the database answers as the asker would', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('a --dag worker holding the file counts every job for queue-depth, and status marks none of its tasks removed', async () => {
    const p = tempProject();
    p.write('tasks/one.sql', oneTask(1));
    p.write(
      'dags/etl.ts',
      `import { Dag } from 'duckorch';
export const etl = new Dag('etl');
etl.task({ name: 'extract' }, async () => 1);
etl.task({ name: 'load', requires: ['extract'] }, async ({ extract }: { extract: number }) => extract + 1);
`,
    );
    const cli = (args: string[]) => runCli(['--db', p.db, ...args], { cwd: p.dir });
    ok(await cli(['register', 'tasks']), 'register');
    ok(await cli(['enqueue']), 'enqueue');
    ok(await cli(['--dag', 'dags/etl.ts:etl', 'enqueue']), 'enqueue --dag');
    const worker = startCli(['--db', p.db, '--dag', 'dags/etl.ts:etl', 'worker'], { cwd: p.dir });
    await worker.waitForStderr(/ finish load succeeded/);
    expect(fs.existsSync(socketPath(p.db))).toBe(true);

    // The registry's job is not the DAG worker's to take, and is counted all the same.
    expect(json(await cli(['queue-depth', '--json']))).toMatchObject({ pending: 1, succeeded: 2 });
    expect(json(await cli(['--dag', 'dags/etl.ts:etl', 'queue-depth', '--json']))).toMatchObject({ pending: 0, succeeded: 2 });
    const status = json<{ jobs: Array<{ task: string; state: string; task_removed: boolean }> }>(await cli(['status', '--json']));
    expect(status.jobs.map((j) => `${j.task} ${j.state} ${j.task_removed}`).sort()).toEqual([
      'extract succeeded false',
      'load succeeded false',
      'one pending false',
    ]);
    expect((await cli(['status'])).stdout).not.toContain('(removed)');

    worker.child.kill('SIGTERM');
    ok(await worker.exited, 'worker');
  });

  it('while a worker holds the file, sql is read-only in it, and test and register go through it', async () => {
    const p = tempProject();
    p.write('tasks/one.sql', oneTask(1));
    const cli = (args: string[]) => runCli(['--db', p.db, ...args], { cwd: p.dir });
    ok(await cli(['register', 'tasks']), 'register');
    const worker = startCli(['--db', p.db, 'worker'], { cwd: p.dir });
    await worker.waitForStderr(/ started on /);
    ok(await cli(['run']), 'run (handed to the worker)');
    expect(fs.existsSync(socketPath(p.db))).toBe(true);

    const read = await cli(['sql', '--json', 'CREATE TEMP TABLE t AS SELECT x + 41 AS y FROM one; SELECT y FROM t']);
    ok(read, 'sql');
    expect(json<SqlJson>(read).rows).toEqual([{ y: 42 }]);
    const write = await cli(['sql', 'INSERT INTO one VALUES (7)']);
    expect(write.code).toBe(1);
    expect(write.stderr).toMatch(/^error: .*read-only.*\n {2}hint: `duck-orch sql` opens the database read-only/m);
    // Ending the read-only transaction to write after it, or changing the worker's own settings.
    const escape = await cli(['sql', '--json', 'COMMIT; INSERT INTO one VALUES (7)']);
    expect(escape.code).toBe(1);
    expect(json<{ errors: Array<{ code: string; message: string }> }>(escape).errors).toMatchObject([
      {
        code: 'SQL_ERROR',
        message:
          'statement 1 of 2: BEGIN, COMMIT and ROLLBACK cannot run while a `duck-orch run` or `worker` holds the database: `sql` is answered inside that process, in a read-only transaction',
      },
    ]);
    for (const query of ['SET threads = 1', "ATTACH ':memory:' AS elsewhere", 'SELECT 1; ROLLBACK']) {
      const r = await cli(['sql', query]);
      expect(r.code, query).toBe(1);
      expect(r.stderr, query).toContain('cannot run while a `duck-orch run` or `worker` holds the database');
    }
    const tested = await cli(['test', '--json']);
    ok(tested, 'test');
    expect(json(tested)).toMatchObject({ passed: 1, failed: 0 });

    // Registered through the worker: its next run runs the new definition.
    p.write('tasks/one.sql', oneTask(2));
    const registered = await cli(['register', 'tasks']);
    ok(registered, 'register');
    expect(registered.stdout).toContain('(0 added, 1 changed, 0 unchanged, 0 removed)');
    ok(await cli(['run']), 'run after register');
    expect(json<SqlJson>(await cli(['sql', '--json', 'SELECT x FROM one'])).rows).toEqual([{ x: 2 }]);
    expect(json(await cli(['test', '--json']))).toMatchObject({ passed: 1, failed: 0 });

    worker.child.kill('SIGTERM');
    const stopped = await worker.exited;
    ok(stopped, 'worker');
    expect(stopped.stderr.match(/ finish one succeeded/g)).toHaveLength(2);
    // Nothing the refused statements tried landed.
    expect(await queryDb(p.db, 'SELECT x FROM one')).toEqual([[2]]);
  });

  it('while a run holds the file, sql, test and register go through it, and a run handed to it runs what was registered', async () => {
    const p = tempProject();
    const gate = writeGateTask(p);
    p.write('tasks/one.sql', oneTask(1));
    const cli = (args: string[]) => runCli(['--db', p.db, ...args], { cwd: p.dir });
    ok(await cli(['register', 'tasks']), 'register');
    const holder = startCli(['--db', p.db, 'run', '-s', 'gate'], { cwd: p.dir });
    await holder.waitForStderr(/ start +gate \(attempt 1\)/);

    expect(json<SqlJson>(await cli(['sql', '--json', "SELECT count(*) AS n FROM __orch__.tasks WHERE name = 'one'"])).rows).toEqual([
      { n: 1 },
    ]);
    expect((await cli(['sql', 'BEGIN'])).stderr).toContain('BEGIN, COMMIT and ROLLBACK cannot run while');
    // No data yet: the test errors, through the holder (which recorded it).
    const before = await cli(['test', '--json']);
    expect(before.code).toBe(1);
    expect(json<{ results: Array<{ status: string }> }>(before).results).toMatchObject([{ status: 'error' }]);

    p.write('tasks/two.sql', 'CREATE OR REPLACE TABLE two AS SELECT x * 10 AS y FROM one;\n');
    const registered = await cli(['register', 'tasks']);
    ok(registered, 'register');
    expect(registered.stdout).toContain('(1 added, 0 changed, 2 unchanged, 0 removed)');
    const handed = await cli(['run', '-s', '+two', '--json']);
    ok(handed, 'run handed to the holder');
    expect(handed.stderr).toBe('');
    expect(json<{ jobs: Array<{ task: string; state: string }> }>(handed).jobs.map((j) => `${j.task} ${j.state}`)).toEqual([
      'one succeeded',
      'two succeeded',
    ]);
    expect(json(await cli(['test', '--json']))).toMatchObject({ passed: 1, failed: 0 });

    fs.writeFileSync(gate, '');
    ok(await holder.exited, 'the holding run');
    expect(await queryDb(p.db, 'SELECT y FROM two')).toEqual([[10]]);
    expect(await queryDb(p.db, "SELECT status FROM __orch__.test_results WHERE task_name = 'one' ORDER BY executed_at")).toEqual([
      ['error'],
      ['pass'],
    ]);
  });
});
