import { describe, expect, it } from 'vitest';
import { bodyLocation, checkTask } from '../../../src/model/taskfile/build-task.js';
import { codeVersion } from '../../../src/model/taskfile/code-version.js';
import { taskToJson } from '../../../src/model/taskfile/task-json.js';
import { FILE, makeTask } from '../make-task.js';

describe('buildTask', () => {
  it('uses inferred inputs and outputs when nothing is declared', () => {
    const task = makeTask('CREATE TABLE b AS SELECT * FROM a', { reads: ['z', 'a'], writes: ['b'] });
    expect(task.inputs).toEqual(['a', 'z']);
    expect(task.outputs).toEqual(['b']);
    expect(task.sql).toBe('CREATE TABLE b AS SELECT * FROM a');
    expect(task.codeVersion).toBe(codeVersion('CREATE TABLE b AS SELECT * FROM a'));
    expect(task.statementCount).toBe(1);
    expect(task.file).toBe(FILE);
  });

  it('@outputs replaces the inferred outputs', () => {
    const task = makeTask('-- @outputs final\nCREATE TABLE tmp AS SELECT 1; CREATE TABLE final AS SELECT * FROM tmp', {
      reads: ['tmp'],
      writes: ['tmp', 'final'],
    });
    expect(task.outputs).toEqual(['final']);
    expect(task.declaredOutputs).toEqual(['final']);
    // tmp is read but not declared as output: it stays an input.
    expect(task.inputs).toEqual(['tmp']);
  });

  it('@inputs add to the inferred inputs; what the task writes is never its own input', () => {
    const task = makeTask('-- @inputs extra, b\nINSERT INTO b SELECT * FROM a', { reads: ['a', 'b'], writes: ['b'] });
    expect(task.inputs).toEqual(['a', 'extra']);
    expect(task.outputs).toEqual(['b']);
  });

  it('de-duplicates outputs', () => {
    expect(makeTask('SELECT 1', { writes: ['b', 'b', 'a'] }).outputs).toEqual(['b', 'a']);
  });

  it('@asset_* without @asset names the asset after the first output', () => {
    const task = makeTask('-- @asset_group sales\nSELECT 1', { writes: ['x.first', 'x.second'] });
    expect(task.asset).toEqual({ name: 'x.first', kind: 'table', group: 'sales', owner: null, description: null, tags: [] });
  });

  it('a quoted @asset name matches the output it names, as DuckDB compares names, and keeps its spelling', () => {
    const task = makeTask('-- @asset name="BikeMart"."station leaderboard"\nSELECT 1', {
      writes: ['bikemart."Station Leaderboard"'],
    });
    expect(task.asset?.name).toBe('BikeMart."station leaderboard"');
    expect(checkTask(task)).toEqual([]);
  });

  it('`name="schema.table"` (duckOrch quoted the whole value) means that output when no output is one such identifier', () => {
    const legacy = makeTask('-- @asset name="analytics.users"\nSELECT 1', { writes: ['analytics.users'] });
    expect(legacy.asset?.name).toBe('analytics.users');
    expect(checkTask(legacy)).toEqual([]);
    const dotted = makeTask('-- @asset name="analytics.users"\nSELECT 1', { writes: ['analytics.users', '"analytics.users"'] });
    expect(dotted.asset?.name).toBe('"analytics.users"');
  });

  it('records where the body starts', () => {
    const task = makeTask('-- @owner me\n\n   SELECT 1', {});
    expect([task.bodyLine, task.bodyCol]).toEqual([3, 4]);
  });
});

describe('bodyLocation', () => {
  const body = 'SELECT 1\nFROM t\nWHERE x';
  it.each<[number, number, number]>([
    [0, 5, 3],
    [3, 5, 6],
    [8, 5, 11],
    [9, 6, 1],
    [14, 6, 6],
    [16, 7, 1],
    [17, 7, 2],
    [1000, 7, 8],
    [-5, 5, 3],
  ])('offset %i → line %i col %i (body at 5:3)', (offset, line, col) => {
    expect(bodyLocation(FILE, body, 5, 3, offset)).toEqual({ file: FILE, line, col });
  });
});

describe('checkTask', () => {
  it('accepts a consistent task', () => {
    expect(checkTask(makeTask('-- @asset a.b\nCREATE TABLE a.b AS SELECT 1', { writes: ['a.b'] }))).toEqual([]);
  });

  it('rejects an asset the task does not write, with a hint', () => {
    const errors = checkTask(makeTask('-- @asset a.c\nCREATE TABLE a.b AS SELECT 1', { writes: ['a.b'] }));
    expect(errors.map((e) => [e.code, e.message, e.hint])).toEqual([
      ['HEADER_VALUE', 'asset `a.c` is not among what the task writes (a.b)', 'declare it with `-- @outputs a.c`, or fix the asset name'],
    ]);
    expect(checkTask(makeTask('-- @asset a.c\nSELECT 1'))[0]!.message).toBe('asset `a.c` is not among what the task writes (nothing)');
  });

  it('points an asset the task does not write at its @asset line', () => {
    const errors = checkTask(
      makeTask('-- @owner me\n-- @asset name="BikeMart"."station board"\nSELECT 1', { writes: ['BikeMart."station leaderboard"'] }),
    );
    expect(errors.map((e) => [e.message, e.location])).toEqual([
      [
        'asset `BikeMart."station board"` is not among what the task writes (BikeMart."station leaderboard")',
        { file: FILE, line: 2, col: 11 },
      ],
    ]);
  });

  it('rejects @incremental_by without an output', () => {
    expect(checkTask(makeTask('-- @incremental_by ts\nSELECT 1')).map((e) => e.message)).toEqual([
      '`@incremental_by` needs an output table to read the watermark from',
    ]);
  });

  it('rejects an empty body', () => {
    const errors = checkTask(makeTask('-- @owner me\n'));
    expect(errors.map((e) => [e.code, e.message])).toEqual([['SQL_SYNTAX', 'the task has no SQL body']]);
    expect(errors[0]!.location).toEqual({ file: FILE, line: 1, col: 1 });
  });
});

describe('taskToJson', () => {
  it('renders the documented snake_case form', () => {
    const task = makeTask(
      [
        '-- @task name=load',
        '-- @target_lag 1h',
        '-- @automation on_interval("1d") AND eager',
        '-- @interval_start 2024-01-01',
        '-- @test "SELECT 1" expect 1',
        '-- @timeout 30s',
        'CREATE TABLE out AS SELECT * FROM src',
      ].join('\n'),
      { reads: ['src'], writes: ['out'] },
    );
    const json = taskToJson(task);
    expect(json).toMatchObject({
      name: 'load',
      file: FILE,
      timeout_seconds: 30,
      target_lag_seconds: 3600,
      freshness_lag_seconds: null,
      automation: { condition: 'on_interval("daily") AND eager()', interval_unit: 'daily' },
      interval: { start: '2024-01-01T00:00:00Z', start_ts: 1704067200, lookback: 0, allow_partials: false },
      tests: [{ index: 1, sql: 'SELECT 1', assertion: { kind: 'expect', value: 1 }, line: 5 }],
      inputs: ['src'],
      outputs: ['out'],
      depends_on: [],
      declared: { inputs: [], outputs: null },
      code_version: codeVersion('CREATE TABLE out AS SELECT * FROM src'),
      statement_count: 1,
      body_line: 7,
      sql: 'CREATE TABLE out AS SELECT * FROM src',
    });
    // No camelCase leaks into the documented form.
    expect(Object.keys(json).filter((k) => /[A-Z]/.test(k))).toEqual([]);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });
});

describe('checkTask: self-dependency', () => {
  it('rejects a task that lists itself in @depends_on', () => {
    const errors = checkTask(makeTask('-- @depends_on t\nCREATE TABLE a AS SELECT 1', { writes: ['a'] }));
    expect(errors.map((e) => e.message)).toEqual(['task `t` lists itself in @depends_on']);
  });
});
