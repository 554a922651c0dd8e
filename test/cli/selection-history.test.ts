import { describe, expect, it } from 'vitest';
import { SUBPROCESS_TEST_TIMEOUT, register, json, queryDb, runCli, tempProject, withProject, type TempProject } from '../helpers.js';

function tagged(p: TempProject): void {
  p.write('tasks/a.sql', '-- @tags a\nCREATE OR REPLACE TABLE a AS SELECT 1 AS x;');
  p.write('tasks/b.sql', '-- @tags b\nCREATE OR REPLACE TABLE b AS SELECT x FROM a;');
}

describe('empty selections', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('run, test and list warn that nothing was selected and exit 0; nothing is recorded', async () => {
    const p = tempProject();
    tagged(p);
    await register(p);
    for (const args of [
      ['run', '-s', 'tag:a,tag:b'],
      ['run', '-s', 'a', '--exclude', 'a'],
      ['test', '-s', 'tag:a,tag:b'],
      ['list', '-s', 'tag:a,tag:b'],
    ]) {
      const r = await runCli(['--db', p.db, ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stderr).toMatch(/^warning: nothing was selected by --select \S+/m);
      expect(r.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
    }
    const j = await runCli(['--db', p.db, 'run', '-s', 'tag:a,tag:b', '--json']);
    expect(json(j)).toEqual({ run: null, jobs: [], warnings: ['nothing was selected by --select tag:a,tag:b'] });
    expect(await queryDb(p.db, 'SELECT (SELECT count(*) FROM __orch__.pipeline_runs), (SELECT count(*) FROM __orch__.jobs)')).toEqual([
      [0n, 0n],
    ]);
  });

  it('a selector naming nothing that exists stays an error; an --exclude naming nothing warns', async () => {
    const p = tempProject();
    tagged(p);
    await register(p);
    const bad = await runCli(['--db', p.db, 'run', '-s', 'tag:nosuch']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('selector `tag:nosuch` matches no task or asset');
    // Nothing close, so no suggestion (the tags are `a` and `b`).
    expect(bad.stderr).not.toContain('did you mean');
    const r = await runCli(['--db', p.db, 'list', '--exclude', 'nosuch', '--json']);
    expect(r.code).toBe(0);
    expect(json<{ tasks: unknown[]; warnings: string[] }>(r)).toMatchObject({
      tasks: [{ name: 'a' }, { name: 'b' }],
      warnings: ['--exclude `nosuch` matches no task or asset'],
    });
  });

  it('selects a dataset whose quoted name has a space, and folders by a path glob', async () => {
    const p = tempProject();
    p.write('tasks/10_raw/orders.sql', 'CREATE OR REPLACE TABLE "Sales Data".orders AS SELECT 1 AS id;');
    p.write('tasks/40_marts/report.sql', 'CREATE OR REPLACE TABLE report AS SELECT * FROM "Sales Data".orders;');
    await register(p);
    const bySpace = await runCli(['--db', p.db, 'list', '-s', '"Sales Data".orders+', '--json']);
    expect(json<{ tasks: Array<{ name: string }> }>(bySpace).tasks.map((t) => t.name)).toEqual(['orders', 'report']);
    const byFolder = await runCli(['--db', p.db, 'list', '-s', `path:${p.tasks}/40_*`, '--json']);
    expect(json<{ tasks: Array<{ name: string }> }>(byFolder).tasks.map((t) => t.name)).toEqual(['report']);
  });
});

describe('history of removed tasks', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('status -t shows the runs of a task that is no longer registered, marked as removed', async () => {
    const p = tempProject();
    tagged(p);
    await withProject(p, async (project) => {
      await project.register(p.tasks);
      await project.run();
    });
    p.remove('tasks/b.sql');
    await register(p);
    const r = await runCli(['--db', p.db, 'status', '-t', 'b']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ b \(removed\) +succeeded/);
    expect(r.stdout).not.toMatch(/ a /);
    const j = json<{ jobs: Array<{ task: string; state: string; task_removed: boolean }> }>(
      await runCli(['--db', p.db, 'status', '--json']),
    );
    expect(j.jobs.map((x) => [x.task, x.state, x.task_removed]).sort()).toEqual([
      ['a', 'succeeded', false],
      ['b', 'succeeded', true],
    ]);
    const unknown = await runCli(['--db', p.db, 'status', '-t', 'never_existed']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown task `never_existed`');
  });
});

describe('one graph for impact, lineage and graph lineage', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('follows a produced file into the task that reads it through a glob', async () => {
    const p = tempProject();
    p.write('tasks/readings.sql', 'CREATE OR REPLACE TABLE raw.readings AS SELECT 1 AS site, 2.0 AS v;');
    p.write('tasks/rollup.sql', "COPY (SELECT site, avg(v) AS v FROM raw.readings GROUP BY site) TO 'out/site_rollup.parquet';");
    p.write('tasks/summary.sql', "CREATE OR REPLACE TABLE mart.summary AS SELECT count(*) AS n FROM read_parquet('out/*.parquet');");
    await register(p);
    const impact = json<{ rows: Array<{ table_name: string; via_task: string; depth: number }> }>(
      await runCli(['--db', p.db, 'impact', 'raw.readings', '--json']),
    );
    expect(impact.rows).toEqual([
      { table_name: 'file:out/site_rollup.parquet', via_task: 'rollup', depth: 1 },
      { table_name: 'mart.summary', via_task: 'summary', depth: 2 },
    ]);
    const lineage = json<{ rows: Array<{ table_name: string }> }>(await runCli(['--db', p.db, 'lineage', 'mart.summary', '--json']));
    expect(lineage.rows.map((r) => r.table_name)).toEqual(['file:out/*.parquet', 'file:out/site_rollup.parquet', 'raw.readings']);
    const graph = json<{ mermaid: string }>(await runCli(['--db', p.db, 'graph', 'lineage', '--json']));
    expect(graph.mermaid).toContain('d_file_out_site_rollup_parquet --> d_mart_summary');
  });
});

describe('run options', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('--full-refresh loads an incremental task from the beginning', async () => {
    const p = tempProject();
    p.write(
      'tasks/load.sql',
      [
        '-- @incremental_by id',
        'CREATE TABLE IF NOT EXISTS copy (id INTEGER PRIMARY KEY);',
        'INSERT OR REPLACE INTO copy SELECT range::INTEGER FROM range(1, 6) WHERE range > {{ last_processed_at }};',
      ].join('\n'),
    );
    await register(p);
    const rows = async (...flags: string[]) =>
      json<{ jobs: Array<{ rows: number }> }>(await runCli(['--db', p.db, 'run', '--json', ...flags])).jobs[0]!.rows;
    expect(await rows()).toBe(5);
    expect(await rows()).toBe(0);
    expect(await rows('--full-refresh')).toBe(5);
  });
});
