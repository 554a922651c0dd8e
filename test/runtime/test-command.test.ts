import { describe, expect, it } from 'vitest';
import { DUCKDB_TEST_TIMEOUT, tempProject, withProject } from '../helpers.js';

describe('test', { timeout: DUCKDB_TEST_TIMEOUT }, () => {
  it('evaluates every kind of @test assertion against the current data', async () => {
    const p = tempProject();
    p.write('tasks/make.sql', 'CREATE OR REPLACE TABLE t AS SELECT range AS x FROM range(10);');
    p.write(
      'tasks/checks.sql',
      [
        '-- @depends_on make',
        '-- @test "SELECT * FROM t WHERE x > 100;" expect_empty',
        '-- @test "SELECT * FROM t" expect_empty',
        '-- @test "SELECT * FROM t" expect_non_empty',
        '-- @test "SELECT * FROM t WHERE x < 0" expect_non_empty',
        '-- @test "SELECT count(*) FROM t" expect 10',
        '-- @test "SELECT count(*) FROM t" expect_gt 10',
        '-- @test "SELECT max(x) FROM t" expect_lt 10',
        '-- @test "SELECT max(x) FROM t WHERE x < 0" expect 0',
        '-- @test "SELECT * FROM no_such_table" expect 0',
        'SELECT 1;',
      ].join('\n'),
    );
    const outcomes = await withProject(p, async (project) => {
      await project.register(p.tasks);
      expect((await project.run({ select: ['make'] })).run?.state).toBe('succeeded');
      return (await project.test({ select: ['checks'] })).outcomes;
    });
    expect(outcomes.map((o) => [o.index, o.status, o.actual])).toEqual([
      [1, 'pass', '0 rows'],
      [2, 'fail', '10 rows'],
      [3, 'pass', '10 rows'],
      [4, 'fail', '0 rows'],
      [5, 'pass', '10'],
      [6, 'fail', '10'],
      [7, 'pass', '9'],
      [8, 'pass', '0'],
      [9, 'error', null],
    ]);
    expect(outcomes[1]!.message).toBe('expected no rows, got 10');
    expect(outcomes[8]!.message).toContain('no_such_table');
  });
});
