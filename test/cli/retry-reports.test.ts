/**
 * What the retry commands change and say: `retry-failed` of a run with nothing to retry leaves
 * it as it was; `retry-dead` and `retry-failed` across runs say which jobs of which runs and
 * snapshots they requeued, and `--dry-run` lists them without requeueing.
 */
import pg from 'pg';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { PG_START_TIMEOUT, freshSchema, pgDatabase, postgresAvailable } from '../pg.js';
import { SUBPROCESS_TEST_TIMEOUT, json, queryDb, register, runCli, tempProject, type TempProject } from '../helpers.js';

function chain(p: TempProject): void {
  p.write('tasks/a.sql', 'CREATE OR REPLACE TABLE a AS SELECT 1 AS x;');
  p.write('tasks/b.sql', 'CREATE OR REPLACE TABLE b AS SELECT x FROM a;');
  p.write('tasks/c.sql', 'CREATE OR REPLACE TABLE c AS SELECT x FROM b;');
}

const runRow = async (db: string) =>
  queryDb(db, 'SELECT pipeline_run_id, snapshot_id, finished_at::VARCHAR, job_counts_json::VARCHAR FROM __orch__.pipeline_runs');

describe('the retry commands report what they did', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('retry-failed with nothing to retry changes nothing in the ledger and says so', async () => {
    const p = tempProject();
    chain(p);
    await register(p);
    expect((await runCli(['--db', p.db, 'run'])).code).toBe(0);
    // The definitions changed since: a retry would bind the run to a new snapshot.
    p.write('tasks/c.sql', 'CREATE OR REPLACE TABLE c AS SELECT x + 1 AS x FROM b;');
    await register(p);
    const before = await runRow(p.db);
    const attempts = await queryDb(p.db, 'SELECT count(*) FROM __orch__.attempts');

    const r = await runCli(['--db', p.db, 'retry-failed']);
    expect(r.code, r.stderr).toBe(0);
    const id = String(before[0]![0]).slice(0, 8);
    expect(r.stdout).toBe(`nothing to retry in run ${id}: every job succeeded\n`);
    const asJson = await runCli(['--db', p.db, 'retry-failed', '--json']);
    expect(asJson.code, asJson.stderr).toBe(0);
    expect(json(asJson)).toMatchObject({ retried: 0, run: { run_id: before[0]![0], state: 'succeeded' }, warnings: [] });
    expect(await runRow(p.db)).toEqual(before);
    expect(await queryDb(p.db, 'SELECT count(*) FROM __orch__.attempts')).toEqual(attempts);
    expect(await queryDb(p.db, 'SELECT x FROM c')).toEqual([[1]]);
  });

  it('retry-failed of a run that did fail says how many jobs it retried in --json', async () => {
    const p = tempProject();
    chain(p);
    p.write('tasks/b.sql', 'CREATE OR REPLACE TABLE b AS SELECT x FROM a JOIN nosuch USING (x);');
    await register(p);
    expect((await runCli(['--db', p.db, 'run'])).code).toBe(1);
    p.write('tasks/b.sql', 'CREATE OR REPLACE TABLE b AS SELECT x FROM a;');
    await register(p);
    const r = await runCli(['--db', p.db, 'retry-failed', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toMatchObject({ retried: 2, run: { state: 'succeeded' } });
  });

  it('retry-dead says how many dead jobs of which runs and snapshots it requeued; --dry-run lists them and changes nothing', async () => {
    const p = tempProject();
    chain(p);
    p.write('tasks/a.sql', 'CREATE OR REPLACE TABLE a AS SELECT x FROM gate;');
    await register(p);
    expect((await runCli(['--db', p.db, 'run'])).code).toBe(1);
    // A second run on other definitions: its snapshot differs.
    p.write('tasks/d.sql', 'CREATE OR REPLACE TABLE d AS SELECT y FROM gate2;');
    await register(p);
    expect((await runCli(['--db', p.db, 'run', '-s', 'd'])).code).toBe(1);
    const runs = (await queryDb(p.db, 'SELECT pipeline_run_id, snapshot_id FROM __orch__.pipeline_runs ORDER BY pipeline_run_id')) as Array<
      [string, string]
    >;
    expect(new Set(runs.map((r) => r[1])).size).toBe(2);
    const jobs = (await queryDb(
      p.db,
      "SELECT job_id, pipeline_run_id, task_name FROM __orch__.jobs WHERE state = 'dead' ORDER BY pipeline_run_id, task_name",
    )) as Array<[string, string, string]>;
    expect(jobs.map((j) => j[2]).sort()).toEqual(['a', 'd']);
    const named = runs.map(([id, snapshot]) => `${id.slice(0, 8)} (snapshot ${snapshot.slice(7, 19)}, 1 job)`).join(', ');
    const depth = async () => json(await runCli(['--db', p.db, 'queue-depth', '--json']));
    const before = await depth();
    expect(before).toMatchObject({ dead: 2, blocked: 2 });

    const dry = await runCli(['--db', p.db, 'retry-dead', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`Would requeue 2 dead jobs of 2 runs: ${named} (--dry-run: nothing changed).`);
    for (const [jobId, runId, task] of jobs)
      expect(dry.stdout).toMatch(new RegExp(`^${runId.slice(0, 8)} +[0-9a-f]{12} +${task} +${jobId}$`, 'm'));
    const dryJson = json(await runCli(['--db', p.db, 'retry-dead', '--dry-run', '--json']));
    const listed = jobs.map(([jobId, runId, task]) => ({
      job_id: jobId,
      run_id: runId,
      task,
      partition_key: '__default__',
      snapshot_id: runs.find((r) => r[0] === runId)![1],
    }));
    expect(dryJson).toEqual({ requeued: 2, dry_run: true, jobs: listed });
    expect(await depth()).toEqual(before);

    const done = await runCli(['--db', p.db, 'retry-dead', '--json']);
    expect(done.code, done.stderr).toBe(0);
    expect(json(done)).toEqual({ requeued: 2, dry_run: false, jobs: listed });
    expect(await depth()).toMatchObject({ dead: 0, pending: 2, blocked: 2 });
    // The jobs fail again; the summary names the runs and snapshots.
    expect((await runCli(['--db', p.db, 'worker', '--once'])).code).toBe(0);
    const again = await runCli(['--db', p.db, 'retry-dead']);
    expect(again.stdout).toBe(`Requeued 2 dead jobs of 2 runs: ${named}. Work them with: duck-orch worker\n`);
    expect((await runCli(['--db', p.db, 'retry-dead', '--task', 'nope'])).stdout).toBe('Requeued 0 dead jobs.\n');
  });
});

describe.skipIf(!postgresAvailable().ok)('retry-failed on the PostgreSQL ledger', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  beforeAll(() => pgDatabase(), PG_START_TIMEOUT);

  it('with nothing to retry, changes nothing in the ledger and says so', async () => {
    const { url, schema } = await freshSchema();
    const env = { DATABASE_URL: url, DUCKORCH_PG_SCHEMA: schema };
    const p = tempProject();
    chain(p);
    expect((await runCli(['--db', p.db, 'register', p.tasks], { env })).code).toBe(0);
    expect((await runCli(['--db', p.db, 'run'], { env })).code).toBe(0);
    p.write('tasks/c.sql', 'CREATE OR REPLACE TABLE c AS SELECT x + 1 AS x FROM b;');
    expect((await runCli(['--db', p.db, 'register', p.tasks], { env })).code).toBe(0);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    onTestFinished(() => client.end());
    // A run's state and finish are derived from its jobs there.
    const runs = async () => ({
      runs: (await client.query(`SELECT run_id, snapshot_id FROM "${schema}".runs`)).rows,
      jobs: (await client.query(`SELECT job_id, state, attempts, finished_at, updated_at FROM "${schema}".jobs ORDER BY job_id`)).rows,
    });
    const before = await runs();
    const r = await runCli(['--db', p.db, 'retry-failed'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`nothing to retry in run ${String(before.runs[0]!.run_id).slice(0, 8)}: every job succeeded\n`);
    expect(await runs()).toEqual(before);
  });
});
