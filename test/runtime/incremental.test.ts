import { describe, expect, it } from 'vitest';
import type { Project } from '../../src/app/project.js';
import { queryDb, tempProject, withProject, type TempProject, DUCKDB_TEST_TIMEOUT, registerAndRun } from '../helpers.js';
import { freshSchema, postgresAvailable } from '../pg.js';

const sql = queryDb;

/** Runs, asserting success, and returns the task's job. */
async function runOne(project: Project, task: string, options: { fullRefresh?: boolean } = {}) {
  const result = await project.run({ select: [task], ...options });
  const job = result.jobs.find((t) => t.task === task)!;
  expect(job.state, job.error ?? '').toBe('succeeded');
  return job;
}

function integerPipeline(p: TempProject): void {
  p.write(
    'tasks/load_events.sql',
    [
      '-- @task name=load_events',
      '-- @incremental_by id',
      'CREATE TABLE IF NOT EXISTS mart.events (id INTEGER PRIMARY KEY, v VARCHAR);',
      'INSERT OR REPLACE INTO mart.events SELECT id, v FROM raw.events WHERE id > {{ last_processed_at }};',
    ].join('\n'),
  );
}

/** A plain append: loading a row twice would show as a duplicate. */
function integerPipelineAppending(p: TempProject): void {
  p.write(
    'tasks/load_events.sql',
    [
      '-- @task name=load_events',
      '-- @incremental_by id',
      'CREATE TABLE IF NOT EXISTS mart.events (id INTEGER, v VARCHAR);',
      'INSERT INTO mart.events SELECT id, v FROM raw.events WHERE id > {{ last_processed_at }};',
    ].join('\n'),
  );
}

describe('@incremental_by', { timeout: DUCKDB_TEST_TIMEOUT }, () => {
  it.each([
    ['INTEGER', 'i', '-2147483648'],
    ['BIGINT', 'i - 5', '-9223372036854775808'],
    ['DOUBLE', '(i - 5)::DOUBLE / 3', '-infinity'],
    ['DECIMAL(9,2)', '(i - 5)::DECIMAL(9,2) / 3', '-9999999.99'],
    ['DATE', "DATE '1969-12-25' + i::INTEGER", '-infinity'],
    ['TIMESTAMP', "TIMESTAMP '1900-01-01' + INTERVAL (i) DAY", '-infinity'],
  ])('takes every row on a first %s load: values ≤ 0 and before 1970 too', async (type, expr, start) => {
    const p = tempProject();
    p.write(
      'tasks/copy.sql',
      [
        '-- @task name=copy',
        '-- @incremental_by k',
        `CREATE TABLE IF NOT EXISTS mart.copy (k ${type}, first_watermark VARCHAR);`,
        "INSERT INTO mart.copy SELECT k, '{{ last_processed_at }}' FROM raw.src WHERE k > {{ last_processed_at }};",
      ].join('\n'),
    );
    // Zero, negative and pre-1970 values: the first load must take all ten.
    await sql(
      p.db,
      `CREATE SCHEMA raw; CREATE TABLE raw.src AS SELECT (${expr})::${type} AS k FROM (SELECT range - 4 AS i FROM range(10))`,
    );
    await withProject(p, async (project) => {
      await project.register(p.tasks);
      expect(await runOne(project, 'copy')).toMatchObject({ rows: 10 });
      expect(await runOne(project, 'copy')).toMatchObject({ rows: 0 });
    });
    expect(await sql(p.db, 'SELECT DISTINCT first_watermark FROM mart.copy')).toEqual([[start]]);
  });

  it('keeps the watermark in the database: losing the ledger’s history does not load rows twice', async () => {
    const p = tempProject();
    integerPipelineAppending(p);
    await sql(p.db, "CREATE SCHEMA raw; CREATE TABLE raw.events AS SELECT range::INTEGER + 1 AS id, 'v' || range AS v FROM range(5)");
    await withProject(p, async (project) => {
      await project.register(p.tasks);
      await runOne(project, 'load_events');
    });
    // What a ledger moved elsewhere or re-created would not know.
    await sql(
      p.db,
      'DELETE FROM __orch__.task_state; UPDATE __orch__.jobs SET last_processed_at = NULL; UPDATE __orch__.attempts SET last_processed_at = NULL',
    );
    await sql(p.db, "INSERT INTO raw.events VALUES (6, 'v5')");
    await withProject(p, async (project) => {
      expect(await runOne(project, 'load_events')).toMatchObject({ rows: 1, watermark: '6' });
    });
    expect(await sql(p.db, 'SELECT count(*), count(DISTINCT id) FROM mart.events')).toEqual([[6n, 6n]]);
    expect(await sql(p.db, "SELECT value FROM __orch__.watermarks WHERE task_name = 'load_events'")).toEqual([['6']]);
  });

  it('starts an integer column at 0, then loads only new rows', async () => {
    const p = tempProject();
    integerPipeline(p);
    await sql(p.db, "CREATE SCHEMA raw; CREATE TABLE raw.events AS SELECT range::INTEGER + 1 AS id, 'v' || range AS v FROM range(5)");
    await withProject(p, async (project) => {
      await project.register(p.tasks);
      expect(await runOne(project, 'load_events')).toMatchObject({ rows: 5, watermark: '5' });
    });
    await sql(p.db, "INSERT INTO raw.events VALUES (6, 'v5'), (7, 'v6')");
    await withProject(p, async (project) => {
      expect(await runOne(project, 'load_events')).toMatchObject({ rows: 2, watermark: '7' });
    });
    expect(await sql(p.db, 'SELECT count(*) FROM mart.events')).toEqual([[7n]]);
  });

  it('starts over when the target was dropped or emptied, and on --full-refresh', async () => {
    const p = tempProject();
    integerPipeline(p);
    await sql(p.db, "CREATE SCHEMA raw; CREATE TABLE raw.events AS SELECT range::INTEGER + 1 AS id, 'v' || range AS v FROM range(5)");
    await withProject(p, async (project) => {
      await project.register(p.tasks);
      await runOne(project, 'load_events');
    });
    await sql(p.db, 'DROP TABLE mart.events');
    await withProject(p, async (project) => {
      expect(await runOne(project, 'load_events')).toMatchObject({ rows: 5 });
    });
    await sql(p.db, 'DELETE FROM mart.events');
    await withProject(p, async (project) => {
      expect(await runOne(project, 'load_events')).toMatchObject({ rows: 5 });
      // Up to date: nothing new.
      expect(await runOne(project, 'load_events')).toMatchObject({ rows: 0, watermark: '5' });
      // On purpose: every row again.
      expect(await runOne(project, 'load_events', { fullRefresh: true })).toMatchObject({ rows: 5, watermark: '5' });
    });
    expect(await sql(p.db, 'SELECT count(*) FROM mart.events')).toEqual([[5n]]);
  });

  it.each([
    ['TIMESTAMP', "TIMESTAMP '2024-01-01 10:00:00' + INTERVAL (range) HOUR"],
    ['DATE', "DATE '2024-01-01' + range::INTEGER"],
    ['DOUBLE', 'range::DOUBLE + 0.5'],
  ])('starts a %s column at its type’s beginning, also when its own first statement creates the table', async (_type, expr) => {
    const p = tempProject();
    p.write(
      'tasks/copy.sql',
      [
        '-- @task name=copy',
        '-- @incremental_by k',
        'CREATE TABLE IF NOT EXISTS mart.copy AS SELECT * FROM raw.src WHERE false;',
        'INSERT INTO mart.copy SELECT * FROM raw.src WHERE k > {{ last_processed_at }};',
      ].join('\n'),
    );
    await sql(p.db, `CREATE SCHEMA raw; CREATE TABLE raw.src AS SELECT ${expr} AS k FROM range(4)`);
    await withProject(p, async (project) => {
      await project.register(p.tasks);
      expect(await runOne(project, 'copy')).toMatchObject({ rows: 4 });
      expect(await runOne(project, 'copy')).toMatchObject({ rows: 0 });
    });
  });

  it('takes the column type from an input when the statement using the watermark creates the target', async () => {
    const p = tempProject();
    p.write(
      'tasks/ctas.sql',
      '-- @task name=ctas\n-- @incremental_by id\nCREATE TABLE IF NOT EXISTS mart.ctas AS SELECT * FROM raw.src WHERE id > {{ last_processed_at }};',
    );
    await sql(p.db, 'CREATE SCHEMA raw; CREATE TABLE raw.src AS SELECT range::BIGINT AS id FROM range(1, 4)');
    await withProject(p, async (project) => {
      await project.register(p.tasks);
      expect(await runOne(project, 'ctas')).toMatchObject({ rows: 3, watermark: '3' });
    });
  });

  it('reports a column the target lacks at the header line, without retrying', async () => {
    const p = tempProject();
    p.write(
      'tasks/bad.sql',
      [
        '-- @task name=bad',
        '-- @retries 2',
        '-- @incremental_by updated_at',
        'CREATE TABLE IF NOT EXISTS mart.bad (id INTEGER);',
        'INSERT INTO mart.bad SELECT 1 WHERE 1 > {{ last_processed_at }};',
      ].join('\n'),
    );
    const result = await registerAndRun(p);
    const record = result.jobs[0]!;
    expect(record).toMatchObject({ state: 'dead', attempts: 1, maxAttempts: 3 });
    expect(record.error).toBe(
      `${p.tasks.replace(process.cwd() + '/', '')}/bad.sql:3:20: @incremental_by column \`updated_at\` does not exist in mart.bad (its columns: id)`,
    );
    expect(record.errorContext).toMatchObject({ kind: 'definition', line: 3, col: 20 });
  });
});

describe.skipIf(!postgresAvailable().ok)('@incremental_by across ledgers', { timeout: DUCKDB_TEST_TIMEOUT }, () => {
  it('moving the ledger to PostgreSQL, re-creating it and moving back keeps each load’s position', async () => {
    const p = tempProject();
    integerPipelineAppending(p);
    await sql(p.db, "CREATE SCHEMA raw; CREATE TABLE raw.events AS SELECT range::INTEGER + 1 AS id, 'v' || range AS v FROM range(100)");
    const addRows = (from: number, n: number) =>
      sql(p.db, `INSERT INTO raw.events SELECT range::INTEGER AS id, 'v' || range FROM range(${from}, ${from + n})`);
    await withProject(p, async (project) => {
      await project.register(p.tasks);
      expect(await runOne(project, 'load_events')).toMatchObject({ rows: 100 });
    });
    const first = await freshSchema();
    const pg = (schema: string) => ({ DATABASE_URL: first.url, DUCKORCH_PG_SCHEMA: schema });
    await addRows(101, 10);
    await withProject(p, async (project) => expect(await runOne(project, 'load_events')).toMatchObject({ rows: 10 }), pg(first.schema));
    // A new, empty ledger.
    const second = await freshSchema();
    await addRows(111, 5);
    await withProject(p, async (project) => expect(await runOne(project, 'load_events')).toMatchObject({ rows: 5 }), pg(second.schema));
    // Back to the embedded ledger.
    await addRows(116, 3);
    await withProject(p, async (project) => expect(await runOne(project, 'load_events')).toMatchObject({ rows: 3 }));
    expect(await sql(p.db, 'SELECT count(*), count(DISTINCT id) FROM mart.events')).toEqual([[118n, 118n]]);
  });
});

describe('{{ }} in strings and comments', { timeout: DUCKDB_TEST_TIMEOUT }, () => {
  it('inserts text inside string literals and leaves comments alone', async () => {
    const p = tempProject();
    p.write(
      'tasks/stamp.sql',
      [
        '-- @task name=stamp',
        "CREATE OR REPLACE TABLE stamp AS SELECT '{{ run_id }}' AS quoted, {{ run_id }} AS literal, 'run {{ run_id }}!' AS text -- {{ now }}",
      ].join('\n'),
    );
    const result = await registerAndRun(p);
    const record = result.jobs[0]!;
    expect(record.state, record.error ?? '').toBe('succeeded');
    expect(await sql(p.db, 'SELECT * FROM stamp')).toEqual([[record.id, record.id, `run ${record.id}!`]]);
  });
});

describe('rows', { timeout: DUCKDB_TEST_TIMEOUT }, () => {
  it('counts rows written to the task’s outputs, not to its temporary tables', async () => {
    const p = tempProject();
    p.write(
      'tasks/staged.sql',
      [
        'CREATE TEMP TABLE stage AS SELECT range AS i FROM range(100);',
        'INSERT INTO stage SELECT 1000;',
        'CREATE OR REPLACE TABLE staged AS SELECT i FROM stage WHERE i < 10;',
        'INSERT INTO staged SELECT 42;',
      ].join('\n'),
    );
    const result = await registerAndRun(p);
    expect(result.jobs[0]).toMatchObject({ state: 'succeeded', rows: 11 });
  });
});
