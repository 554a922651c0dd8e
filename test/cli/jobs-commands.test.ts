import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SUBPROCESS_TEST_TIMEOUT, json, queryDb, register, runCli, startCli, tempProject, type TempProject } from '../helpers.js';

function chain(p: TempProject): void {
  p.write('tasks/a.sql', 'CREATE OR REPLACE TABLE a AS SELECT 1 AS x;');
  p.write('tasks/b.sql', 'CREATE OR REPLACE TABLE b AS SELECT x FROM a;');
  p.write('tasks/c.sql', 'CREATE OR REPLACE TABLE c AS SELECT x FROM b;');
}

describe('the jobs commands', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('enqueue creates runs without working them; worker --once works them; queue-depth counts jobs per state', async () => {
    const p = tempProject();
    chain(p);
    await register(p);
    const first = await runCli(['--db', p.db, 'enqueue', '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(json<{ run: { state: string; tasks: number } }>(first).run).toMatchObject({ state: 'queued', tasks: 3 });
    expect((await runCli(['--db', p.db, 'enqueue', '-s', 'a'])).stdout).toMatch(
      /^Enqueued run [0-9a-f-]{36} \(1 task\); work it with: duck-orch worker$/m,
    );
    const depth = await runCli(['--db', p.db, 'queue-depth', '--json']);
    expect(json(depth)).toMatchObject({ pending: 4, processing: 0, succeeded: 0 });
    expect(await queryDb(p.db, 'SELECT count(*) FROM information_schema.tables WHERE table_name = $1'.replace('$1', "'a'"))).toEqual([
      [0n],
    ]);

    const worker = await runCli(['--db', p.db, 'worker', '--once']);
    expect(worker.code, worker.stderr).toBe(0);
    expect(worker.stderr).toMatch(/^worker \d+ started on .* \(until idle\)$/m);
    expect(worker.stderr.match(/ finish a +succeeded/g)).toHaveLength(2);
    expect(json(await runCli(['--db', p.db, 'queue-depth', '--json']))).toMatchObject({ pending: 0, succeeded: 4 });
    expect(await queryDb(p.db, 'SELECT x FROM c')).toEqual([[1]]);
    // A worker's name is what it claims under, and what every attempt records.
    await runCli(['--db', p.db, 'enqueue', '-s', 'a']);
    const named = await runCli(['--db', p.db, 'worker', '--once', '--worker-id', 'box-7', '--poll-interval', '0.05']);
    expect(named.code, named.stderr).toBe(0);
    expect(await queryDb(p.db, "SELECT count(*) FROM __orch__.attempts WHERE worker = 'box-7'")).toEqual([[1n]]);
    const bad = await runCli(['--db', p.db, 'worker', '--poll-interval', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--poll-interval must be a number of seconds, got `soon`');
  });

  it('retry-failed re-runs what failed and what it blocked, on the fixed definitions; what succeeded is not re-run', async () => {
    const p = tempProject();
    chain(p);
    p.write('tasks/b.sql', 'CREATE OR REPLACE TABLE b AS SELECT x FROM a JOIN nosuch USING (x);');
    await register(p);
    const failed = await runCli(['--db', p.db, 'run', '--json']);
    expect(failed.code).toBe(1);
    const states = Object.fromEntries(json<{ jobs: Array<{ task: string; state: string }> }>(failed).jobs.map((j) => [j.task, j.state]));
    expect(states).toEqual({ a: 'succeeded', b: 'dead', c: 'blocked' });
    const failures = json<Array<{ task: string; failures: number; last_error: string }>>(
      await runCli(['--db', p.db, 'failures', '--json']),
    );
    expect(failures).toEqual([expect.objectContaining({ task: 'b', failures: 1, last_error: expect.stringContaining('nosuch') })]);

    p.write('tasks/b.sql', 'CREATE OR REPLACE TABLE b AS SELECT x + 1 AS x FROM a;');
    await register(p);
    const retried = await runCli(['--db', p.db, 'retry-failed', '--json']);
    expect(retried.code, retried.stderr).toBe(0);
    const out = json<{ run: { run_id: string; state: string }; jobs: Array<{ task: string; state: string }> }>(retried);
    expect(out.run).toMatchObject({ run_id: json<{ run: { run_id: string } }>(failed).run.run_id, state: 'succeeded' });
    expect(await queryDb(p.db, 'SELECT x FROM c')).toEqual([[2]]);
    // `a` ran once; `b` twice (its failed attempt is kept beside the success).
    expect(await queryDb(p.db, 'SELECT task_name, outcome FROM __orch__.attempts ORDER BY attempt_seq')).toEqual([
      ['a', 'succeeded'],
      ['b', 'failed'],
      ['b', 'succeeded'],
      ['c', 'succeeded'],
    ]);
    const nothing = await runCli(['--db', p.db, 'retry-failed']);
    expect(nothing.code).toBe(0);
    expect(nothing.stdout).toMatch(/^nothing to retry in run [0-9a-f]{8}: every job succeeded$/m);
  });

  it("the run summary, its log, status and failures show DuckDB's hint with the error's file:line:col", async () => {
    const p = tempProject();
    p.write('tasks/trips.sql', 'CREATE OR REPLACE TABLE trips AS SELECT 1 AS id;');
    p.write('tasks/x.sql', '-- @depends_on trips\nCREATE OR REPLACE TABLE x AS\nSELECT id\n  FROM trip;');
    await register(p);
    const error = 'x.sql:4:8: Catalog Error: Table with name trip does not exist! Did you mean "trips"?';
    const run = await runCli(['--db', p.db, 'run'], { env: { CI: '' } });
    expect(run.code).toBe(1);
    expect(run.stdout.split('\n').find((l) => l.includes(' dead '))).toContain(error);
    expect(run.stderr.split('\n').find((l) => l.includes('finish x dead'))).toContain(error);
    const status = (await runCli(['--db', p.db, 'status'])).stdout.split('\n');
    expect(status[0]).toMatch(/ERROR$/);
    expect(status.find((l) => / x +dead /.test(l))).toContain(error);
    const failures = (await runCli(['--db', p.db, 'failures'])).stdout.split('\n');
    expect(failures[0]).toMatch(/LAST ERROR$/);
    expect(failures.find((l) => l.startsWith('x '))).toContain(error);
    expect(
      await queryDb(
        p.db,
        "SELECT error_message, error_context_json->>'line', error_context_json->>'col' FROM __orch__.attempts WHERE task_name = 'x'",
      ),
    ).toEqual([[expect.stringContaining(error), '4', '8']]);
  });

  it('a queued run keeps the definitions it was planned from: re-registering changes nothing in it, a removed task is skipped', async () => {
    const p = tempProject();
    chain(p);
    await register(p);
    await runCli(['--db', p.db, 'enqueue']);
    p.write('tasks/a.sql', 'CREATE OR REPLACE TABLE a AS SELECT 100 AS x;');
    fs.rmSync(path.join(p.tasks, 'c.sql'));
    await register(p);
    const worker = await runCli(['--db', p.db, 'worker', '--once']);
    expect(worker.code, worker.stderr).toBe(0);
    expect(worker.stderr).toMatch(/skip +c skipped: task `c` was removed from the project after the run was planned/);
    // The run's snapshot still says `SELECT 1`.
    expect(await queryDb(p.db, 'SELECT x FROM b')).toEqual([[1]]);
    expect(await queryDb(p.db, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'c'")).toEqual([[0n]]);
    // A new run is planned from the new definitions.
    expect((await runCli(['--db', p.db, 'run'])).code).toBe(0);
    expect(await queryDb(p.db, 'SELECT x FROM b')).toEqual([[100]]);
    expect(await queryDb(p.db, 'SELECT count(DISTINCT snapshot_id) FROM __orch__.pipeline_runs')).toEqual([[2n]]);
  });

  it('retry-dead requeues dead jobs across runs; a worker finishes them and what they blocked', async () => {
    const p = tempProject();
    chain(p);
    p.write('tasks/a.sql', 'CREATE OR REPLACE TABLE a AS SELECT x FROM gate;');
    await register(p);
    expect((await runCli(['--db', p.db, 'run'])).code).toBe(1);
    expect(json(await runCli(['--db', p.db, 'queue-depth', '--json']))).toMatchObject({ dead: 1, blocked: 2 });
    // The cause goes away outside duck-orch: the table `a` reads appears.
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const instance = await DuckDBInstance.create(p.db);
    const conn = await instance.connect();
    await conn.run('CREATE TABLE gate AS SELECT 5 AS x');
    conn.closeSync();
    instance.closeSync();
    const none = await runCli(['--db', p.db, 'retry-dead', '--task', 'b']);
    expect(none.stdout).toContain('Requeued 0 dead jobs.');
    const requeued = await runCli(['--db', p.db, 'retry-dead', '--since', '1h']);
    expect(requeued.stdout).toMatch(
      /^Requeued 1 dead job of 1 run: [0-9a-f]{8} \(snapshot [0-9a-f]{12}, 1 job\)\. Work them with: duck-orch worker$/m,
    );
    expect((await runCli(['--db', p.db, 'worker', '--once'])).code).toBe(0);
    expect(json(await runCli(['--db', p.db, 'queue-depth', '--json']))).toMatchObject({ dead: 0, blocked: 0, succeeded: 3 });
    expect(await queryDb(p.db, 'SELECT x FROM c')).toEqual([[5]]);
  });

  it('cancel takes a run id prefix; an unknown run is a clear error that lists recent runs', async () => {
    const p = tempProject();
    chain(p);
    await register(p);
    const id = json<{ run: { run_id: string } }>(await runCli(['--db', p.db, 'enqueue', '--json'])).run.run_id;
    const unknown = await runCli(['--db', p.db, 'cancel', 'ffffffff']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('unknown run `ffffffff`');
    expect(unknown.stderr).toContain(`recent runs: ${id.slice(0, 8)} (queued`);
    const cancelled = await runCli(['--db', p.db, 'cancel', id.slice(0, 8)]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toContain(`Cancelled 3 jobs of run ${id.slice(0, 8)} (cancelled)`);
    expect(json(await runCli(['--db', p.db, 'queue-depth', '--json']))).toMatchObject({ pending: 0, cancelled: 3 });
    const idle = await runCli(['--db', p.db, 'worker', '--once']);
    expect(idle.stderr).not.toMatch(/ start /);
  });

  it('malformed --inputs is a usage error and creates no run', async () => {
    const p = tempProject();
    chain(p);
    await register(p);
    const r = await runCli(['--db', p.db, 'enqueue', '--inputs', '{day: 1}']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--inputs must be JSON: .*/);
    expect(await queryDb(p.db, 'SELECT count(*) FROM __orch__.pipeline_runs')).toEqual([[0n]]);
  });

  it('SIGTERM stops a worker without a verdict: the job in flight goes back to the queue, nothing is marked failed', async () => {
    const p = tempProject();
    p.write(
      'tasks/slow.ts',
      `import { Dag } from 'duckorch';
export const dag = new Dag('slow');
dag.task({ name: 'nap' }, () => new Promise((resolve) => setTimeout(resolve, 600_000)));
`,
    );
    await register(p);
    await runCli(['--db', p.db, 'enqueue']);
    const worker = startCli(['--db', p.db, 'worker', '--grace', '0']);
    await worker.waitForStderr(/ start +nap \(attempt 1\)/);
    worker.child.kill('SIGTERM');
    const done = await worker.exited;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).toMatch(/^worker \d+ stopped$/m);
    expect(json(await runCli(['--db', p.db, 'queue-depth', '--json']))).toMatchObject({ pending: 1, processing: 0, failed: 0, dead: 0 });
    expect(await queryDb(p.db, 'SELECT outcome FROM __orch__.attempts')).toEqual([['released']]);
    expect(await queryDb(p.db, 'SELECT attempts FROM __orch__.jobs')).toEqual([[0]]);
  });

  it('--dag takes the tasks from a module, with no register; reads keep to that DAG; bad specs are clear errors', async () => {
    const p = tempProject();
    const module = (name: string, prefix: string) =>
      `import { Dag } from 'duckorch';
export const ${name} = new Dag('${name}');
${name}.task({ name: '${prefix}_extract' }, async (inputs: { day?: string } | null) => ({ day: inputs?.day ?? null, n: 2 }));
${name}.task({ name: '${prefix}_load', requires: ['${prefix}_extract'] }, async (inputs: { ${prefix}_extract: { n: number; day: string } }) => ({
  loaded: inputs.${prefix}_extract.n,
  day: inputs.${prefix}_extract.day,
}));
export const answer = 42;
`;
    p.write('dags/etl.ts', module('etl', 'etl'));
    p.write('dags/other.ts', module('other', 'oth'));
    const etl = ['--db', p.db, '--dag', 'dags/etl.ts:etl'];
    const enq = await runCli([...etl, 'enqueue', '--inputs', '{"day": "2026-12-01"}'], { cwd: p.dir });
    expect(enq.code, enq.stderr).toBe(0);
    // The global option also works after the command.
    expect((await runCli(['--db', p.db, 'enqueue', '--dag', 'dags/other.ts:other'], { cwd: p.dir })).code).toBe(0);
    expect(json(await runCli([...etl, 'queue-depth', '--json'], { cwd: p.dir }))).toMatchObject({ pending: 2 });
    const worker = await runCli([...etl, 'worker', '--once'], { cwd: p.dir });
    expect(worker.code, worker.stderr).toBe(0);
    expect(worker.stderr).not.toMatch(/oth_/);
    expect(await queryDb(p.db, "SELECT result_json FROM __orch__.jobs WHERE task_name = 'etl_load'")).toEqual([
      ['{"loaded":2,"day":"2026-12-01"}'],
    ]);
    expect(json(await runCli([...etl, 'queue-depth', '--json'], { cwd: p.dir }))).toMatchObject({ pending: 0, succeeded: 2 });
    expect(json(await runCli(['--db', p.db, '--dag', 'dags/other.ts', 'queue-depth', '--json'], { cwd: p.dir }))).toMatchObject({
      pending: 2,
      succeeded: 0,
    });

    const noExport = await runCli(['--db', p.db, '--dag', 'dags/etl.ts:etll', 'run'], { cwd: p.dir });
    expect(noExport.code).not.toBe(0);
    expect(noExport.stderr).toContain('dags/etl.ts has no export `etll`');
    expect(noExport.stderr).toMatch(/did you mean `etl`|its exports: `etl`/);
    const notADag = await runCli(['--db', p.db, '--dag', 'dags/etl.ts:answer', 'run'], { cwd: p.dir });
    expect(notADag.stderr).toContain('export `answer` of dags/etl.ts is not a Dag (it is a number)');
    const missing = await runCli(['--db', p.db, '--dag', 'dags/nope.ts:etl', 'run'], { cwd: p.dir });
    expect(missing.stderr).toContain('module dags/nope.ts does not exist');
    const reg = await runCli([...etl, 'register', 'dags'], { cwd: p.dir });
    expect(reg.stderr).toContain('--dag names the tasks directly: there is nothing to register');
  });
});
