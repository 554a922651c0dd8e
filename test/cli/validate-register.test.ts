import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ErrorJson } from '../../src/errors.js';
import { CLI, json, queryDb, runCli, tempProject, SUBPROCESS_TEST_TIMEOUT } from '../helpers.js';

describe('template placeholders', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('reports unknown variables, Jinja expressions and ${…} in a body, with file:line:col, at validate and register', async () => {
    const p = tempProject();
    const file = p.write(
      'tasks/t.sql',
      ['-- @task name=t', "CREATE TABLE t AS SELECT {{ nope }} AS a, '{{ last_processed }}' AS b", "FROM {{ ref('orders') }}, ${x};"].join(
        '\n',
      ),
    );
    const v = await runCli(['validate', file, '--json']);
    expect(v.code).toBe(1);
    const all = json<{ errors: ErrorJson[] }>(v).errors;
    // The placeholders are the problem: no syntax error about what stands in for them while parsing.
    expect(all.every((e) => e.code === 'TEMPLATE')).toBe(true);
    const errors = all;
    expect(errors.map((e) => [e.message, e.line, e.col])).toEqual([
      ['unknown template variable `{{ nope }}`', 2, 26],
      ['unknown template variable `{{ last_processed }}`', 2, 44],
      ["`{{ ref('orders') }}` is a Jinja expression, which duck-orch does not evaluate", 3, 6],
      ['`${x}` is not substituted in a task body (only `${asset}` in @check SQL, `${interval_start}`… in interval tasks)', 3, 27],
    ]);
    expect(errors[0]!.expected).toBe('{{ last_processed_at }}, {{ now }}, {{ run_id }}');
    expect(errors[1]!.hint).toBe('did you mean `{{ last_processed_at }}`?');
    expect(errors[2]!.hint).toMatch(/not Jinja|Jinja blocks/);
    const reg = await runCli(['--db', p.db, 'register', p.tasks]);
    expect(reg.code).toBe(1);
    expect(reg.stderr).toContain('t.sql:2:26: error: unknown template variable `{{ nope }}`');
  });
});

describe('parameters and interval headers are checked against the task', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('validate fails with file:line:col, and register registers nothing', async () => {
    const p = tempProject();
    p.write('tasks/ok.sql', 'CREATE TABLE ok AS SELECT 1 AS x;');
    const both = p.write(
      'tasks/both.sql',
      ['-- @partitions_by daily(start=2026-01-01)', '-- @automation on_interval("daily")', 'CREATE TABLE b AS SELECT 1 AS x;'].join('\n'),
    );
    p.write(
      'tasks/params.sql',
      [
        '-- @partitions_by multi(day=daily(start=2026-01-01), Region=static(eu, us))',
        '-- @param partiton_start:TIMESTAMP, Region:DATE',
        "CREATE TABLE r AS SELECT $day AS d, '$region' AS note, $region AS r;",
      ].join('\n'),
    );
    p.write('tasks/plain.sql', '-- @lookback 2\nCREATE TABLE plain AS SELECT $partition_key AS k;');

    const v = await runCli(['validate', both]);
    expect(v.code).toBe(1);
    expect(v.stderr).toContain(
      'both.sql:2:16: error: a task is either partitioned or an interval task: give it one of @partitions_by and @automation on_interval(…)',
    );

    const reg = await runCli(['--db', p.db, 'register', p.tasks, '--json']);
    expect(reg.code).toBe(1);
    const errors = json<{ errors: ErrorJson[] }>(reg).errors;
    expect(errors.map((e) => [path.basename(e.file!), e.line, e.col, e.message])).toEqual([
      ['both.sql', 2, 16, 'a task is either partitioned or an interval task: give it one of @partitions_by and @automation on_interval(…)'],
      ['params.sql', 2, 11, '@param partiton_start: the task has no parameter `$partiton_start`'],
      ['params.sql', 2, 37, '@param Region:DATE: static keys are text, not a DATE'],
      ['params.sql', 3, 56, '`$region` is not a parameter of this partitioned task'],
      ['plain.sql', 1, 14, '@lookback applies only to interval tasks: add @automation on_interval(…)'],
      ['plain.sql', 2, 30, '`$partition_key` is bound only for partitioned tasks: add @partitions_by'],
    ]);
    expect(errors[3]).toMatchObject({
      expected: 'one of $partition_key, $Region, $partition_Region, $day, $partition_day, $partition_start, $partition_end',
      hint: 'did you mean `$Region`?',
    });
    expect((await runCli(['--db', p.db, 'list'])).stderr).toContain('no tasks are registered');
  });
});

describe('validate parses @test and @check SQL', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('points at the broken SQL inside the header', async () => {
    const p = tempProject();
    const file = p.write(
      'tasks/t.sql',
      [
        '-- @test "SELEC count(*) FROM t" expect 0',
        '-- @check name=c "SELECT count(*) FROM ${asset} WHER x > 1" expect 0',
        '-- @check name=ok "SELECT count(*) FROM ${asset}" expect gt 0',
        'CREATE TABLE t AS SELECT 1 AS x;',
      ].join('\n'),
    );
    const v = await runCli(['validate', file, '--json']);
    expect(v.code).toBe(1);
    const errors = json<{ errors: ErrorJson[] }>(v).errors;
    expect(errors.map((e) => [e.code, e.line, e.col])).toEqual([
      ['SQL_SYNTAX', 1, 11],
      ['SQL_SYNTAX', 2, 54],
    ]);
    expect(errors[0]!.message).toMatch(/^@test 1 SQL: syntax error at or near "SELEC"/);
    expect(errors[1]!.message).toMatch(/^@check c SQL: syntax error at or near "x"/);
  });
});

describe('register reports every problem at once', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('a self-dependency, two writers, a cycle and an unknown dependency together', async () => {
    const p = tempProject();
    p.write('tasks/self.sql', '-- @depends_on self\nCREATE TABLE s AS SELECT 1;');
    p.write('tasks/w1.sql', 'CREATE TABLE shared AS SELECT 1;');
    p.write('tasks/w2.sql', 'CREATE OR REPLACE TABLE shared AS SELECT 2;');
    p.write('tasks/c1.sql', 'CREATE TABLE c1 AS SELECT * FROM c2;');
    p.write('tasks/c2.sql', 'CREATE TABLE c2 AS SELECT * FROM c1;');
    p.write('tasks/lonely.sql', '-- @depends_on nonexistent_task\nCREATE TABLE l AS SELECT 1;');
    const r = await runCli(['--db', p.db, 'register', p.tasks, '--json']);
    expect(r.code).toBe(1);
    const errors = json<{ errors: ErrorJson[] }>(r).errors;
    expect(errors.map((e) => e.code).sort()).toEqual(['DAG_CYCLE', 'DUPLICATE_OUTPUT', 'HEADER_VALUE', 'UNKNOWN_NAME']);
    const unknown = errors.find((e) => e.code === 'UNKNOWN_NAME')!;
    expect(unknown).toMatchObject({ line: 1, col: 16 });
    expect(unknown.file).toMatch(/lonely\.sql$/);
    // Nothing close: no suggestion.
    expect(unknown.hint).toBeUndefined();
  });

  it('a bad file-derived name together with a duplicate task name', async () => {
    const p = tempProject();
    p.write('tasks/bad name.sql', 'CREATE TABLE x AS SELECT 1;');
    p.write('tasks/a.sql', '-- @task name=dup\nCREATE TABLE a AS SELECT 1;');
    p.write('tasks/b.sql', '-- @task name=dup\nCREATE TABLE b AS SELECT 1;');
    const r = await runCli(['--db', p.db, 'register', p.tasks, '--json']);
    expect(r.code).toBe(1);
    expect(
      json<{ errors: ErrorJson[] }>(r)
        .errors.map((e) => e.code)
        .sort(),
    ).toEqual(['DUPLICATE_TASK', 'HEADER_VALUE']);
  });
});

describe('@asset with quoted identifiers', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('registers and runs it, keeping the name as written; a quoted name that is no output is an error at its line', async () => {
    const p = tempProject();
    p.write(
      'tasks/leaderboard.sql',
      [
        '-- @asset name="BikeMart"."station leaderboard"',
        '-- @asset_group bikes',
        'CREATE SCHEMA IF NOT EXISTS "BikeMart";',
        'CREATE OR REPLACE TABLE "BikeMart"."station leaderboard" AS SELECT 1 AS station, 10 AS rides;',
      ].join('\n'),
    );
    const reg = await runCli(['--db', p.db, 'register', p.tasks]);
    expect(reg.stderr).toBe('');
    expect(reg.code).toBe(0);
    const run = await runCli(['--db', p.db, 'run', '--json']);
    expect(json<{ run: { state: string } }>(run).run.state).toBe('succeeded');
    expect(await queryDb(p.db, 'SELECT name, group_name, defined_by_task FROM __orch__.assets')).toEqual([
      ['BikeMart."station leaderboard"', 'bikes', 'leaderboard'],
    ]);
    expect(await queryDb(p.db, 'SELECT asset_name, status FROM __orch__.asset_materializations')).toEqual([
      ['BikeMart."station leaderboard"', 'succeeded'],
    ]);

    const file = p.write(
      'tasks/leaderboard.sql',
      [
        '-- @asset name="BikeMart"."station board"',
        'CREATE OR REPLACE TABLE "BikeMart"."station leaderboard" AS SELECT 1 AS station;',
      ].join('\n'),
    );
    const bad = await runCli(['validate', file, '--json']);
    expect(bad.code).toBe(1);
    expect(json<{ errors: ErrorJson[] }>(bad).errors).toEqual([
      expect.objectContaining({
        code: 'HEADER_VALUE',
        message: 'asset `BikeMart."station board"` is not among what the task writes (BikeMart."station leaderboard")',
        line: 1,
        col: 11,
      }),
    ]);
  });
});

describe('validate DIR', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('checks a whole project without a database, graph included, and --strict fails on warnings', async () => {
    const p = tempProject();
    p.write('tasks/a.sql', '-- @dependson b\nCREATE TABLE a AS SELECT 1 AS x;');
    p.write('tasks/sub/b.sql', 'CREATE TABLE b AS SELECT * FROM a;');
    const ok = await runCli(['validate', p.tasks]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^valid: 2 files, 0 errors, 1 warning$/m);
    expect(ok.stderr).toContain('unknown header `@dependson` is ignored');
    const strict = await runCli(['validate', p.tasks, '--strict', '--json']);
    expect(strict.code).toBe(1);
    expect(json<{ valid: boolean }>(strict).valid).toBe(false);

    p.write('tasks/c.sql', 'CREATE TABLE c AS SELECT * FROM d;');
    p.write('tasks/d.sql', 'CREATE TABLE d AS SELECT * FROM c;');
    p.write('tasks/e.sql', 'CREATE TABLE b AS SELECT 2;');
    const bad = await runCli(['validate', p.tasks, '--json']);
    expect(bad.code).toBe(1);
    const out = json<{ valid: boolean; files: Array<{ file: string; valid: boolean }>; errors: ErrorJson[] }>(bad);
    expect(out.valid).toBe(false);
    expect(out.files).toHaveLength(5);
    expect(out.errors.map((e) => e.code).sort()).toEqual(['DAG_CYCLE', 'DUPLICATE_OUTPUT']);
    // No database was created anywhere.
    expect(bad.stderr).toBe('');
  });
});

describe('register at scale', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('registers more files than the open-file limit allows at once', async () => {
    const p = tempProject();
    for (let i = 0; i < 400; i++) p.write(`tasks/t${i}.sql`, `CREATE TABLE t${i} AS SELECT ${i} AS x;`);
    const r = spawnSync('bash', ['-c', 'ulimit -n 128 && exec "$0" "$@"', process.execPath, CLI, '--db', p.db, 'register', p.tasks], {
      encoding: 'utf8',
      // The embedded ledger: DATABASE_URL would put it in the shared server's default schema.
      env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'DATABASE_URL')), NO_COLOR: '1' },
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Registered 400 tasks');
  });

  it('re-registers: one changed file is reported as changed, the rest unchanged, warnings kept', async () => {
    const p = tempProject();
    p.write('tasks/a.sql', '-- @colour red\nCREATE TABLE a AS SELECT 1 AS x;');
    p.write('tasks/b.sql', 'CREATE TABLE b AS SELECT * FROM a;');
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    p.write('tasks/b.sql', 'CREATE TABLE b AS SELECT x + 1 AS y FROM a;');
    const r = await runCli(['--db', p.db, 'register', p.tasks, '--json']);
    const out = json<{ tasks: Array<{ name: string; change: string }>; warnings: ErrorJson[] }>(r);
    expect(out.tasks).toEqual([
      { name: 'a', file: expect.stringMatching(/a\.sql$/) as unknown, change: 'unchanged' },
      { name: 'b', file: expect.stringMatching(/b\.sql$/) as unknown, change: 'changed' },
    ]);
    expect(out.warnings.map((w) => w.message)).toEqual(['unknown header `@colour` is ignored']);
  });

  it('says which tables removed tasks left behind', async () => {
    const p = tempProject();
    p.write('tasks/a.sql', 'CREATE OR REPLACE TABLE a AS SELECT 1 AS x;');
    p.write('tasks/old.sql', 'CREATE OR REPLACE TABLE "Old Stuff".Things AS SELECT * FROM a;');
    p.write('tasks/never_ran.sql', 'CREATE OR REPLACE TABLE never AS SELECT 1;');
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    expect((await runCli(['--db', p.db, 'run', '-s', 'a', 'old'])).code).toBe(0);
    p.remove('tasks/old.sql');
    p.remove('tasks/never_ran.sql');
    const r = await runCli(['--db', p.db, 'register', p.tasks, '--json']);
    expect(json<{ removed: string[]; left_behind: unknown[] }>(r)).toMatchObject({
      removed: ['never_ran', 'old'],
      left_behind: [{ task: 'old', table: '"Old Stuff".Things' }],
    });
  });
});

describe('a database named like a schema', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('is a warning at register and a clear error at run', async () => {
    const p = tempProject();
    p.write('tasks/t.sql', 'CREATE OR REPLACE TABLE chain.t AS SELECT 1 AS x;');
    const db = path.join(p.dir, 'chain.duckdb');
    const reg = await runCli(['--db', db, 'register', p.tasks]);
    expect(reg.code).toBe(0);
    expect(reg.stderr).toContain('warning: schema `chain` has the name of the database chain.duckdb');
    const run = await runCli(['--db', db, 'run', '--json']);
    expect(run.code).toBe(1);
    expect(json<{ jobs: Array<{ state: string; error: string }> }>(run).jobs[0]).toMatchObject({
      state: 'dead',
      error: expect.stringContaining('the database file has the name of a schema'),
    });
  });
});
