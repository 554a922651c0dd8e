import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { RunEvent } from '../../src/runtime/worker.js';
import { DUCKDB_TEST_TIMEOUT, tempProject, waitFor, withProject, type TempProject, registerAndRun } from '../helpers.js';

async function query(db: string, sql: string): Promise<unknown[][]> {
  const instance = await DuckDBInstance.create(db);
  try {
    const conn = await instance.connect();
    const rows = (await conn.runAndReadAll(sql)).getRowsJS();
    conn.closeSync();
    return rows;
  } finally {
    instance.closeSync();
  }
}

function chain(p: TempProject): void {
  p.write('tasks/a.sql', '-- @task name=a\nCREATE OR REPLACE TABLE a AS SELECT range AS i FROM range(10);');
  p.write('tasks/b.sql', '-- @task name=b\nCREATE OR REPLACE TABLE b AS SELECT i * 2 AS j FROM a;');
  p.write('tasks/c.sql', '-- @task name=c\nCREATE OR REPLACE TABLE c AS SELECT sum(j) AS s FROM b;');
  p.write('tasks/lone.sql', '-- @task name=lone\nCREATE OR REPLACE TABLE lone AS SELECT 1 AS x;');
}

describe('run', { timeout: DUCKDB_TEST_TIMEOUT }, () => {
  it('runs tasks in dependency order and records every run', async () => {
    const p = tempProject();
    chain(p);
    const result = await registerAndRun(p);
    expect(result.run?.state).toBe('succeeded');
    expect(result.run?.counts).toEqual({ succeeded: 4 });
    expect(result.jobs.map((t) => [t.task, t.state])).toEqual([
      ['a', 'succeeded'],
      ['lone', 'succeeded'],
      ['b', 'succeeded'],
      ['c', 'succeeded'],
    ]);
    expect(result.jobs.every((j) => j.runId === result.run!.id)).toBe(true);
    expect(result.jobs.find((t) => t.task === 'a')!.rows).toBe(10);
    expect(await query(p.db, 'SELECT s FROM c')).toEqual([[90n]]);
    const runs = await query(p.db, 'SELECT task_name, status, attempts, retry_count, rows_count FROM __orch__.runs ORDER BY task_name');
    expect(runs).toEqual([
      ['a', 'success', 1, 0, 10n],
      ['b', 'success', 1, 0, 10n],
      ['c', 'success', 1, 0, 1n],
      ['lone', 'success', 1, 0, 1n],
    ]);
  });

  it('starts a task as soon as its own upstream succeeded, without waiting for the whole layer', async () => {
    const p = tempProject();
    p.write('tasks/fast.sql', '-- @task name=fast\nCREATE TABLE fast AS SELECT 1 AS x;');
    p.write('tasks/after_fast.sql', '-- @task name=after_fast\nCREATE TABLE after_fast AS SELECT x FROM fast;');
    // slow takes tens of seconds (a 10^11-row scan): the run is cancelled once after_fast is done.
    // Were after_fast held back until the layer is done, slow would first finish or hit its
    // @timeout and the order below would be reversed. No timing is assumed either way.
    p.write(
      'tasks/slow.sql',
      '-- @task name=slow\n-- @timeout 60s\nCREATE TABLE slow AS SELECT count(*) AS n FROM range(100000000000::BIGINT);',
    );
    const events: RunEvent[] = [];
    const abort = new AbortController();
    onTestFinished(() => abort.abort());
    const result = await withProject(p, async (project) => {
      await project.register(p.tasks);
      return project.run({
        maxParallel: 2,
        signal: abort.signal,
        onEvent: (e) => {
          events.push(e);
          if (e.type === 'finish' && e.task === 'after_fast') abort.abort();
        },
      });
    });
    const idx = (type: string, task: string) => events.findIndex((e) => e.type === type && e.task === task);
    expect(idx('start', 'slow')).toBeGreaterThanOrEqual(0);
    expect(idx('start', 'after_fast')).toBeGreaterThan(idx('finish', 'fast'));
    expect(idx('finish', 'after_fast')).toBeLessThan(idx('finish', 'slow'));
    const byName = Object.fromEntries(result.jobs.map((t) => [t.task, t]));
    expect(byName.after_fast!.state).toBe('succeeded');
    expect(byName.slow!.state).toBe('cancelled');
    expect(byName.slow!.error).toBe('the run was cancelled while it ran');
  });

  it('never runs more than --max-parallel tasks at once', async () => {
    const p = tempProject();
    for (let i = 0; i < 8; i++) p.write(`tasks/t${i}.sql`, `CREATE TABLE t${i} AS SELECT sum(i) AS s FROM range(20000000::BIGINT) t(i);`);
    let running = 0;
    let peak = 0;
    await withProject(p, async (project) => {
      await project.register(p.tasks);
      const result = await project.run({
        maxParallel: 3,
        onEvent: (e) => {
          if (e.type === 'start') peak = Math.max(peak, ++running);
          if (e.type === 'finish') running--;
        },
      });
      expect(result.run?.counts).toEqual({ succeeded: 8 });
    });
    expect(peak).toBe(3);
  });

  it('blocks what depends on a failure and carries on with independent branches', async () => {
    const p = tempProject();
    chain(p);
    p.write('tasks/b.sql', '-- @task name=b\nCREATE OR REPLACE TABLE b AS\nSELECT i * 2 AS j FROM a\nJOIN missing_table USING (i);');
    const result = await registerAndRun(p);
    const byName = Object.fromEntries(result.jobs.map((t) => [t.task, t]));
    expect(result.run?.state).toBe('failed');
    expect(result.run?.counts).toEqual({ succeeded: 2, dead: 1, blocked: 1 });
    expect(byName.a!.state).toBe('succeeded');
    expect(byName.lone!.state).toBe('succeeded');
    expect(byName.b!.state).toBe('dead');
    expect(byName.b!.error).toMatch(/^.*tasks\/b\.sql:4:6: Catalog Error: Table with name missing_table does not exist/);
    expect(byName.c!.state).toBe('blocked');
    expect(byName.c!.attempts).toBe(0);
    expect(byName.c!.error).toBe('upstream task `b` failed');
    const rows = await query(
      p.db,
      "SELECT task_name, status, state, error_message IS NOT NULL FROM __orch__.runs WHERE task_name IN ('b', 'c') ORDER BY 1",
    );
    expect(rows).toEqual([
      ['b', 'failed', 'dead', true],
      ['c', 'skipped', 'blocked', true],
    ]);
  });

  it('rolls back every statement of a failed task, so earlier data survives', async () => {
    const p = tempProject();
    p.write('tasks/t.sql', "CREATE OR REPLACE TABLE t AS SELECT 'v1' AS version;");
    await withProject(p, async (project) => {
      await project.register(p.tasks);
      await project.run();
    });
    p.write(
      'tasks/t.sql',
      "CREATE OR REPLACE TABLE t AS SELECT 'v2' AS version;\nCREATE TABLE side AS SELECT 1 AS x;\nSELECT * FROM does_not_exist;",
    );
    const result = await registerAndRun(p);
    expect(result.jobs[0]!.state).toBe('dead');
    expect(result.jobs[0]!.error).toContain('t.sql:3:15');
    expect(await query(p.db, 'SELECT version FROM t')).toEqual([['v1']]);
    expect(await query(p.db, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'side'")).toEqual([[0n]]);
  });

  it('retries a failed attempt with backoff and succeeds when the cause goes away', async () => {
    const p = tempProject();
    const flag = path.join(p.dir, 'flag.csv');
    p.write('tasks/flaky.sql', `-- @retries 3\nCREATE OR REPLACE TABLE flaky AS SELECT * FROM read_csv('${flag}');`);
    const events: RunEvent[] = [];
    const result = await withProject(
      p,
      async (project) => {
        await project.register(p.tasks);
        return project.run({
          onEvent: (e) => {
            events.push(e);
            if (e.type === 'retry' && e.attempt === 2) fs.writeFileSync(flag, 'x\n1\n');
          },
        });
      },
      { DUCKORCH_RETRY_BASE: '0.02', DUCKORCH_RETRY_MAX: '1' },
    );
    const retries = events.filter((e): e is Extract<RunEvent, { type: 'retry' }> => e.type === 'retry');
    expect(retries.map((r) => r.attempt)).toEqual([1, 2]);
    // Equal jitter: retry n waits between half and all of base·2^(n-1).
    expect(retries[0]!.delayMs).toBeGreaterThanOrEqual(10);
    expect(retries[0]!.delayMs).toBeLessThanOrEqual(20);
    expect(retries[1]!.delayMs).toBeGreaterThanOrEqual(20);
    expect(retries[1]!.delayMs).toBeLessThanOrEqual(40);
    expect(result.jobs[0]).toMatchObject({ state: 'succeeded', attempts: 3 });
    expect(await query(p.db, "SELECT attempts, retry_count FROM __orch__.runs WHERE task_name = 'flaky'")).toEqual([[3, 2]]);
  });

  it('points a runtime error at the line and column that DuckDB reports, and keeps its hint on the same line', async () => {
    const p = tempProject();
    p.write('tasks/trips.sql', "CREATE TABLE trips AS SELECT 1 AS id, 'Main St' AS station_name, now() AS started_at;");
    // `line` and the first `at` on it: where the error is in the file.
    const cases: Record<string, { sql: string[]; line: number; at: string; error: string }> = {
      // An unknown table: DuckDB's hint names the closest one.
      hint: {
        sql: ['-- @depends_on trips', 'CREATE TABLE hint AS', 'SELECT *', '  FROM trip;'],
        line: 4,
        at: 'trip',
        error: 'Catalog Error: Table with name trip does not exist! Did you mean "trips"?',
      },
      // An unknown column: the candidate bindings come along.
      columns: {
        sql: ['-- @depends_on trips', 'CREATE TABLE columns AS SELECT id, station_nme FROM trips;'],
        line: 2,
        at: 'station_nme',
        error: 'Binder Error: Referenced column "station_nme" not found in FROM clause! Candidate bindings: "station_name"',
      },
      // Line 3 of the second statement; the first rode along with BEGIN in one call.
      second: {
        sql: ['CREATE TEMP TABLE s AS SELECT 1 AS a;', 'CREATE TABLE second AS', 'SELECT a,', '       b', '  FROM s;'],
        line: 4,
        at: 'b',
        error: 'Binder Error: Referenced column "b" not found in FROM clause! Candidate bindings: "a"',
      },
      // After substitutions on the same line, one shorter and one longer than its placeholder:
      // offsets are the file's, not those of the text DuckDB ran.
      incremental: {
        sql: [
          '-- @incremental_by id',
          '-- @depends_on trips',
          'CREATE TABLE IF NOT EXISTS incremental (id INTEGER);',
          "INSERT INTO incremental SELECT id FROM trips WHERE id > {{ last_processed_at }} AND '{{ run_id }}' <> '' AND stationn = 'x';",
        ],
        line: 4,
        at: 'stationn',
        error: 'Binder Error: Referenced column "stationn" not found in FROM clause! Candidate bindings: "station_name"',
      },
      // Multi-byte text before the error, on a line longer than DuckDB's excerpt of it.
      wide: {
        sql: [`CREATE TABLE wide AS SELECT '${'é'.repeat(150)}' AS e, 'ü' AS u, nope FROM range(1);`],
        line: 1,
        at: 'nope',
        error: 'Binder Error: Referenced column "nope" not found in FROM clause! Candidate bindings: "range"',
      },
    };
    for (const [name, c] of Object.entries(cases)) p.write(`tasks/${name}.sql`, c.sql.join('\n'));
    const result = await registerAndRun(p);
    const byName = Object.fromEntries(result.jobs.map((j) => [j.task, j]));
    for (const [name, c] of Object.entries(cases)) {
      const job = byName[name]!;
      const col = c.sql[c.line - 1]!.indexOf(c.at) + 1;
      expect(job.state, name).toBe('dead');
      expect(job.error, name).toContain(`tasks/${name}.sql:${c.line}:${col}: ${c.error}`);
      expect(job.error, name).not.toContain('\n');
      expect(job.errorContext, name).toMatchObject({ kind: 'sql', line: c.line, col });
      expect(job.errorContext?.duckdb_error, name).toContain(c.error.replace('! ', '!\n'));
    }
    const ledger = await query(
      p.db,
      "SELECT error_message, error_context_json->>'line', error_context_json->>'col' FROM __orch__.jobs WHERE task_name = 'hint'",
    );
    expect(ledger).toEqual([[byName.hint!.error, '4', '8']]);
  });

  it('gives up after @retries and records the attempts', async () => {
    const p = tempProject();
    p.write('tasks/bad.sql', '-- @retries 2\nSELECT * FROM nowhere;');
    const result = await registerAndRun(p);
    expect(result.jobs[0]).toMatchObject({ state: 'dead', attempts: 3, maxAttempts: 3 });
    expect(result.jobs[0]!.errorContext).toMatchObject({ kind: 'sql', attempts: 3, line: 2 });
  });

  it('enforces @timeout by interrupting the query and rolling back', async () => {
    const p = tempProject();
    p.write('tasks/slow.sql', '-- @timeout 1s\nCREATE TABLE slow AS SELECT count(*) AS n FROM range(100000000000::BIGINT);');
    // Not interrupted, the 10^11-row scan would take tens of seconds and succeed.
    const result = await registerAndRun(p);
    expect(result.jobs[0]!.state).toBe('dead');
    expect(result.jobs[0]!.error).toMatch(/timed out after 1s/);
    expect(result.jobs[0]!.errorContext).toMatchObject({ kind: 'timeout' });
    expect(await query(p.db, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'slow'")).toEqual([[0n]]);
  });

  it('checks @test assertions before commit: a failing one rolls the task back and is not retried', async () => {
    const p = tempProject();
    p.write(
      'tasks/t.sql',
      '-- @retries 2\n-- @test "SELECT count(*) FROM t WHERE x < 0" expect 0\nCREATE OR REPLACE TABLE t AS SELECT 1 AS x;',
    );
    await withProject(p, async (project) => {
      await project.register(p.tasks);
      expect((await project.run()).jobs[0]!.state).toBe('succeeded');
    });
    p.write(
      'tasks/t.sql',
      '-- @retries 2\n-- @test "SELECT count(*) FROM t WHERE x < 0" expect 0\nCREATE OR REPLACE TABLE t AS SELECT -1 AS x;',
    );
    const result = await registerAndRun(p);
    expect(result.jobs[0]).toMatchObject({ state: 'dead', attempts: 1, maxAttempts: 3 });
    expect(result.jobs[0]!.error).toContain('@test 1 failed');
    expect(result.jobs[0]!.error).toContain('expected 0, got 1');
    expect(await query(p.db, 'SELECT x FROM t')).toEqual([[1]]);
  });

  it('runs bare queries to completion without keeping their rows, so they can act as assertions', async () => {
    const p = tempProject();
    p.write('tasks/ok.sql', 'CREATE TABLE ok AS SELECT 1 AS x;\nSELECT * FROM range(3000000);');
    p.write(
      'tasks/guard.sql',
      "CREATE TABLE guarded AS SELECT 1 AS x;\nSELECT CASE WHEN x > 0 THEN error('x must not be positive') END FROM guarded;",
    );
    const result = await registerAndRun(p);
    const byName = Object.fromEntries(result.jobs.map((t) => [t.task, t]));
    expect(byName.ok).toMatchObject({ state: 'succeeded', rows: 1 });
    expect(byName.guard!.state).toBe('dead');
    expect(byName.guard!.error).toMatch(/guard\.sql:2:1: .*x must not be positive/);
    expect(await query(p.db, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'guarded'")).toEqual([[0n]]);
  });

  it('loads incrementally with @incremental_by and {{ last_processed_at }}', async () => {
    const p = tempProject();
    p.write(
      'tasks/src.sql',
      "-- @task name=src\nCREATE TABLE IF NOT EXISTS src (id INT, ts TIMESTAMP);\nINSERT INTO src SELECT count(*) + 1, TIMESTAMP '2026-01-01' + INTERVAL (count(*)) HOUR FROM src;",
    );
    p.write(
      'tasks/log.sql',
      '-- @incremental_by ts\nCREATE TABLE IF NOT EXISTS log AS SELECT * FROM src LIMIT 0;\nINSERT INTO log SELECT * FROM src WHERE ts > {{ last_processed_at }};',
    );
    await withProject(p, async (project) => {
      await project.register(p.tasks);
      const first = await project.run();
      expect(first.jobs.map((t) => [t.task, t.rows, t.watermark])).toEqual([
        ['src', 1, null],
        ['log', 1, '2026-01-01 00:00:00'],
      ]);
      const second = await project.run();
      expect(second.jobs.map((t) => [t.task, t.rows, t.watermark])).toEqual([
        ['src', 1, null],
        ['log', 1, '2026-01-01 01:00:00'],
      ]);
      const third = await project.run({ select: ['log'] });
      expect(third.jobs[0]).toMatchObject({ rows: 0, watermark: '2026-01-01 01:00:00' });
    });
    expect(await query(p.db, 'SELECT count(*), count(DISTINCT id) FROM log')).toEqual([[2n, 2n]]);
  });

  it('substitutes {{ run_id }} and {{ now }}', async () => {
    const p = tempProject();
    p.write('tasks/meta.sql', 'CREATE TABLE meta AS SELECT {{ run_id }} AS run_id, {{ now }}::TIMESTAMP AS started;');
    const result = await registerAndRun(p);
    const [[runId, at]] = (await query(p.db, 'SELECT run_id, started FROM meta')) as [[string, Date]];
    expect(runId).toBe(result.jobs[0]!.id);
    expect(at).toEqual(result.jobs[0]!.startedAt);
  });

  it('retries transaction conflicts between parallel tasks without using up @retries', async () => {
    const p = tempProject();
    for (let i = 0; i < 6; i++)
      p.write(`tasks/t${i}.sql`, `CREATE SCHEMA IF NOT EXISTS shared_scratch;\nCREATE TABLE out${i} AS SELECT ${i} AS x;`);
    const result = await withProject(p, async (project) => {
      await project.register(p.tasks);
      return project.run({ maxParallel: 6 });
    });
    expect(result.jobs.map((t) => t.state)).toEqual(Array(6).fill('succeeded'));
    expect(result.jobs.every((t) => t.attempts === 1)).toBe(true);
  });

  it('creates the schemas that tasks write to before running them', async () => {
    const p = tempProject();
    p.write('tasks/a.sql', 'CREATE TABLE analytics.a AS SELECT 1 AS x;');
    p.write('tasks/b.sql', 'CREATE TABLE "Odd Schema".b AS SELECT 1 AS x;');
    const result = await registerAndRun(p);
    expect(result.run?.state).toBe('succeeded');
  });

  it('runs only the selection, treating unselected upstream tasks as done', async () => {
    const p = tempProject();
    chain(p);
    await withProject(p, async (project) => {
      await project.register(p.tasks);
      await project.run();
      const only = await project.run({ select: ['b+'] });
      expect(only.jobs.map((t) => t.task)).toEqual(['b', 'c']);
      expect(only.jobs.map((t) => t.state)).toEqual(['succeeded', 'succeeded']);
      const excluded = await project.run({ select: ['+c'], exclude: ['a'] });
      expect(excluded.jobs.map((t) => t.task)).toEqual(['b', 'c']);
      expect(excluded.jobs.map((t) => t.state)).toEqual(['succeeded', 'succeeded']);
    });
  });

  it('warns when a task file changed since it was registered', async () => {
    const p = tempProject();
    p.write('tasks/t.sql', 'CREATE OR REPLACE TABLE t AS SELECT 1 AS x;');
    await withProject(p, async (project) => {
      await project.register(p.tasks);
      p.write('tasks/t.sql', 'CREATE OR REPLACE TABLE t AS SELECT 2 AS x;');
      const result = await project.run();
      expect(result.warnings).toEqual([expect.stringContaining('changed since it was registered')]);
    });
    expect(await query(p.db, 'SELECT x FROM t')).toEqual([[1]]);
  });

  it('interrupts running queries when the run is cancelled', async () => {
    const p = tempProject();
    // The COPY creates its file when it starts executing: the sign that slow is mid-query, with
    // its first statement done but not committed.
    const running = path.join(p.dir, 'running.csv');
    p.write(
      'tasks/slow.sql',
      `CREATE TABLE slow AS SELECT 1 AS x;\nCOPY (SELECT count(*) AS n FROM range(100000000000::BIGINT)) TO '${running}';`,
    );
    p.write('tasks/after.sql', 'CREATE TABLE after AS SELECT * FROM slow;');
    const abort = new AbortController();
    onTestFinished(() => abort.abort());
    const result = await withProject(p, async (project) => {
      await project.register(p.tasks);
      const run = project.run({ signal: abort.signal });
      await waitFor(`${running} (slow running its COPY)`, () => fs.existsSync(running));
      abort.abort();
      return run;
    });
    expect(result.run?.state).toBe('cancelled');
    expect(result.run?.counts).toEqual({ cancelled: 2 });
    expect(result.jobs.map((t) => [t.task, t.state])).toEqual([
      ['slow', 'cancelled'],
      ['after', 'cancelled'],
    ]);
    expect(result.jobs[0]!.error).toBe('the run was cancelled while it ran');
    expect(result.jobs[0]!.errorContext).toMatchObject({ kind: 'cancelled' });
    expect(result.jobs[1]!.attempts).toBe(0);
    expect(result.jobs[1]!.error).toBe('upstream task `slow` was cancelled');
    expect(await query(p.db, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'slow'")).toEqual([[0n]]);
  });
});
