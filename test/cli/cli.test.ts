import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { DURATION, ROOT, SUBPROCESS_TEST_TIMEOUT, json, logLine, register, runCli, tempProject } from '../helpers.js';

describe('the example project end to end', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('registers, runs, reports, draws and tests the bundled example', async () => {
    const p = tempProject();
    const db = ['--db', p.db];
    const reg = await runCli([...db, 'register', 'examples/shop/tasks', '--json']);
    expect(reg.code).toBe(0);
    const registered = json<{ tasks: Array<{ name: string; change: string }>; files: number }>(reg);
    expect(registered.files).toBe(9);
    expect(registered.tasks.every((t) => t.change === 'added')).toBe(true);

    const run = await runCli([...db, 'run', '--json']);
    expect(run.code).toBe(0);
    const ran = json<{
      run: { run_id: string; state: string; jobs: Record<string, number>; tasks: number };
      jobs: Array<{ run_id: string; task: string; state: string; rows: number; attempts: number }>;
      warnings: string[];
    }>(run);
    expect(ran.run).toMatchObject({ state: 'succeeded', jobs: { succeeded: 9 }, tasks: 9 });
    expect(ran.jobs).toHaveLength(9);
    expect(ran.jobs.every((j) => j.run_id === ran.run.run_id && j.state === 'succeeded' && j.attempts === 1)).toBe(true);
    expect(ran.jobs.find((t) => t.task === 'load_orders')).toMatchObject({ state: 'succeeded', rows: 5000 });
    // Without a progress bar (--json, CI) each task logs its start and finish on stderr.
    for (const t of ran.jobs) {
      expect(run.stderr).toMatch(logLine(`start  ${t.task} \\(attempt 1\\)`));
      expect(run.stderr).toMatch(logLine(`finish ${t.task} succeeded in ${DURATION}, \\d+ rows?`));
    }
    expect(run.stderr).toMatch(logLine(`finish load_orders succeeded in ${DURATION}, 5000 rows`));
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(18);

    const status = json<{ jobs: Array<{ task: string; state: string }>; runs: Array<{ run_id: string; state: string }> }>(
      await runCli([...db, 'status', '--json', '--limit', '3']),
    );
    expect(status.jobs).toHaveLength(3);
    expect(status.jobs.every((j) => j.state === 'succeeded')).toBe(true);
    expect(status.runs).toEqual([expect.objectContaining({ run_id: ran.run.run_id, state: 'succeeded' })]);

    const graph = json<{ mermaid: string }>(await runCli([...db, 'graph', 'lineage', '--json']));
    expect(graph.mermaid.split('\n')).toContain('    d_raw_orders[("raw.orders")]');
    expect(graph.mermaid).toMatch(/d_raw_orders --> d_staging_orders/);
    const classLine = graph.mermaid.split('\n').find((l) => l.includes('class ') && l.endsWith(' success'))!;
    for (const id of classLine.trim().split(' ')[1]!.split(',')) expect(graph.mermaid).toContain(`    ${id}[`);

    const impact = json<{ rows: Array<{ table_name: string; via_task: string; depth: number }> }>(
      await runCli([...db, 'impact', 'raw.orders', '--json']),
    );
    expect(impact.rows[0]).toEqual({ table_name: 'staging.orders', via_task: 'stg_orders', depth: 1 });
    expect(impact.rows.map((r) => r.table_name)).toContain('marts.country_summary');

    const lineage = json<{ rows: Array<{ table_name: string }> }>(await runCli([...db, 'lineage', 'marts.daily_revenue', '--json']));
    expect(lineage.rows.map((r) => r.table_name)).toEqual([
      'staging.orders',
      'raw.orders',
      'raw.products',
      'staging.customers',
      'file:examples/shop/data/products.csv',
      'raw.customers',
    ]);

    const test = await runCli([...db, 'test']);
    expect(test.code).toBe(0);
    expect(test.stdout).toContain('Tests: 4 passed, 0 failed');

    const list = json<{ tasks: Array<{ name: string }> }>(
      await runCli([...db, 'list', '--select', 'tag:sales', '--exclude', 'country_summary', '--json']),
    );
    expect(list.tasks.map((t) => t.name)).toEqual(['customer_ltv', 'daily_revenue']);
  });

  it('is runnable as `npx duck-orch` from the repository root', async () => {
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn('npx', ['--no-install', 'duck-orch', '--help'], {
        cwd: ROOT,
        env: { ...process.env, npm_config_update_notifier: 'false' },
      });
      onTestFinished(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('close', (code) => resolve({ code, out }));
    });
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage: duck-orch');
  });
});

describe('validate', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('prints the normalised task as JSON', async () => {
    const p = tempProject();
    const file = p.write(
      'tasks/user_stats.sql',
      [
        '-- @task name=user_stats',
        '-- @retries 2',
        '-- @timeout 5m',
        '-- @automation eager & !in_progress',
        '-- @target_lag 1.5h',
        '-- @partitions_by static(jp, us)',
        '-- @param partition_key:VARCHAR',
        '-- @check name=positive "SELECT min(users) FROM ${asset}" expect gt 0',
        '-- @test "SELECT count(*) FROM analytics.user_stats WHERE users < 0" expect 0',
        'CREATE OR REPLACE TABLE analytics.user_stats AS',
        'SELECT country, count(*) AS users FROM analytics.clean_users WHERE country = $partition_key GROUP BY ALL;',
      ].join('\n'),
    );
    const r = await runCli(['validate', file, '--json']);
    expect(r.code).toBe(0);
    const v = json<{ valid: boolean; task: Record<string, unknown> }>(r);
    expect(v.valid).toBe(true);
    expect(v.task).toMatchObject({
      name: 'user_stats',
      retries: 2,
      timeout_seconds: 300,
      target_lag_seconds: 5400,
      automation: { condition: 'eager() AND NOT in_progress()', interval_unit: null },
      partitions: { kind: 'static', values: ['jp', 'us'] },
      params: [{ name: 'partition_key', type: 'VARCHAR' }],
      checks: [{ name: 'positive', op: 'gt', value: '0', severity: 'error' }],
      tests: [{ index: 1, assertion: { kind: 'expect', value: 0 } }],
      inputs: ['analytics.clean_users'],
      outputs: ['analytics.user_stats'],
      statement_count: 1,
      body_line: 10,
    });
    expect(v.task.code_version).toMatch(/^fnv1a64:[0-9a-f]{16}$/);
  });

  it('reports every error of a file with file:line:col and the expected form', async () => {
    const p = tempProject();
    const file = p.write(
      'tasks/bad.sql',
      ['-- @retries many', '-- @timeout soon', '-- @automation eager AND', '-- @retrys 2', 'SELECT 1;', 'SELEC 2;'].join('\n'),
    );
    const r = await runCli(['validate', file]);
    expect(r.code).toBe(1);
    // Files outside the working directory are shown with their absolute path.
    expect(r.stderr).toContain(`${file}:1:13: error: invalid retries \`many\` (expected a whole number of retries, e.g. 3)`);
    expect(r.stderr).toContain(`${file}:2:13: error: invalid timeout \`soon\``);
    expect(r.stderr).toContain(`${file}:3:25: error: @automation: expression ends where an atom was expected`);
    expect(r.stderr).toContain(`${file}:6:1: error: SQL: syntax error at or near "SELEC"`);
    expect(r.stderr).toMatch(/4:4: warning: unknown header `@retrys` is ignored \(did you mean `@retries`\?\)/);
    const j = json<{ valid: boolean; errors: Array<{ code: string; line: number; col: number }> }>(
      await runCli(['validate', file, '--json']),
    );
    expect(j.valid).toBe(false);
    expect(j.errors.map((e) => [e.code, e.line, e.col])).toEqual([
      ['HEADER_VALUE', 1, 13],
      ['HEADER_VALUE', 2, 13],
      ['HEADER_VALUE', 3, 25],
      ['SQL_SYNTAX', 6, 1],
    ]);
  });

  it('explains that Jinja is not supported', async () => {
    const p = tempProject();
    const file = p.write('tasks/j.sql', '{% set x = 1 %}\nSELECT 1;');
    const r = await runCli(['validate', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('j.sql:1:1: error: SQL: syntax error at or near "{"');
    expect(r.stderr).toContain('Jinja blocks ({% … %}) are not supported');
  });

  it('says clearly that a file is missing', async () => {
    const r = await runCli(['validate', 'nope/missing.sql']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('file nope/missing.sql does not exist');
  });
});

describe('output contract', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('prints errors as JSON with --json and uses exit code 2 for usage errors', async () => {
    const p = tempProject();
    p.write('tasks/a.sql', 'CREATE TABLE a AS SELECT 1 AS x;');
    await register(p);
    const bad = await runCli(['--db', p.db, 'run', '--select', 'aa', '--json']);
    expect(bad.code).toBe(2);
    expect(json<{ errors: Array<{ code: string; hint: string }> }>(bad).errors[0]).toMatchObject({
      code: 'SELECTOR',
      hint: 'did you mean `a`?',
    });
    expect((await runCli(['frobnicate'])).code).toBe(2);
    expect((await runCli(['run', '--no-such-flag'])).code).toBe(2);
    const unknown = await runCli(['--db', p.db, 'impact', 'aa']);
    expect(unknown.stderr).toContain('unknown table `aa`');
    expect(unknown.stderr).toContain('did you mean `a`?');
  });

  it('exits non-zero when a task fails, and logs retries, failures and blocked tasks on stderr', async () => {
    const p = tempProject();
    p.write('tasks/a.sql', '-- @retries 1\nSELECT * FROM nothing_here;');
    p.write('tasks/b.sql', '-- @depends_on a\nCREATE TABLE b AS SELECT 1 AS x;');
    await register(p);
    // CI unset: stderr is a pipe, not a terminal, so there is no progress bar either.
    const r = await runCli(['--db', p.db, 'run'], { env: { CI: '' } });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`✖\\s+a\\s+dead\\s+${DURATION}\\s+\\S*a\\.sql:2:15: Catalog Error`));
    expect(r.stdout).toMatch(/○\s+b\s+blocked\s+upstream task `a` failed/);
    expect(r.stdout).toMatch(new RegExp(`\\nRun [0-9a-f]{8} failed: 0 succeeded, 1 dead, 1 blocked in ${DURATION}\\n?$`));
    // DuckDB's hint (the closest name it knows, whatever it is) stays on the line.
    const error = 'a\\.sql:2:15: Catalog Error: Table with name nothing_here does not exist!( Did you mean "\\w+"\\?)?';
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(logLine('start  a \\(attempt 1\\)')),
      expect.stringMatching(logLine(`retry  a in ${DURATION} after attempt 1: .*${error}`)),
      expect.stringMatching(logLine('start  a \\(attempt 2\\)')),
      expect.stringMatching(logLine(`finish a dead after 2 attempts: .*${error}`)),
      expect.stringMatching(logLine('skip   b blocked: upstream task `a` failed')),
    ]);
  });

  it('reads duckorch.toml, with flags over environment over file', async () => {
    const p = tempProject();
    p.write('tasks/a.sql', 'CREATE TABLE a AS SELECT 1 AS x;');
    p.write('duckorch.toml', `db = "from-file.duckdb"\norch_max_parallel = 2\n`);
    expect((await runCli(['register', 'tasks'], { cwd: p.dir })).code).toBe(0);
    expect(fs.existsSync(path.join(p.dir, 'from-file.duckdb'))).toBe(true);
    expect((await runCli(['register', 'tasks'], { cwd: p.dir, env: { DUCKORCH_DB: 'from-env.duckdb' } })).code).toBe(0);
    expect(fs.existsSync(path.join(p.dir, 'from-env.duckdb'))).toBe(true);
    expect(
      (await runCli(['--db', 'from-flag.duckdb', 'register', 'tasks'], { cwd: p.dir, env: { DUCKORCH_DB: 'from-env.duckdb' } })).code,
    ).toBe(0);
    expect(fs.existsSync(path.join(p.dir, 'from-flag.duckdb'))).toBe(true);
    p.write('duckorch.toml', 'orch_max_parallel = 0\n');
    const bad = await runCli(['register', 'tasks'], { cwd: p.dir });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('`orch_max_parallel` must be a whole number');
    p.write('duckorch.toml', 'orch_max_paralel = 3\n');
    expect((await runCli(['register', 'tasks'], { cwd: p.dir })).stderr).toContain('unknown config key `orch_max_paralel`');
    p.write('duckorch.toml', 'db = \n');
    expect((await runCli(['register', 'tasks'], { cwd: p.dir })).stderr).toMatch(/duckorch\.toml:1:\d+: error:/);
  });

  it('defaults the database to ./mydata.duckdb in the working directory', async () => {
    const p = tempProject();
    p.write('tasks/a.sql', 'CREATE TABLE a AS SELECT 1 AS x;');
    const env = { DUCKORCH_DB: '' };
    expect((await runCli(['register', 'tasks'], { cwd: p.dir, env })).code).toBe(0);
    expect(fs.existsSync(path.join(p.dir, 'mydata.duckdb'))).toBe(true);
  });
});
