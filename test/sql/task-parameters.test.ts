import { describe, expect, it } from 'vitest';
import { bodyLocation, checkTask } from '../../src/model/taskfile/build-task.js';
import { boundParameters, checkParameters, checkTaskKind } from '../../src/sql/task-parameters.js';
import { partitionParameters } from '../../src/runtime/partition-parameters.js';
import { FILE, makeTask } from '../model/make-task.js';

/** `line:col: message (expected …)` of each error registration finds in the file (`task-files.ts` runs these three). */
function errors(lines: string[]): string[] {
  const task = makeTask(lines.join('\n'), { writes: ['t'] });
  const at = (offset: number) => bodyLocation(task.file, task.sql, task.bodyLine, task.bodyCol, offset);
  return [...checkTask(task), ...checkTaskKind(task), ...checkParameters(task, at)].map((e) => {
    expect(e.location?.file).toBe(FILE);
    return `${e.location!.line}:${e.location!.col}: ${e.message}${e.expected ? ` (expected ${e.expected})` : ''}${e.hint ? ` [${e.hint}]` : ''}`;
  });
}

describe('a task is partitioned, an interval task, or neither', () => {
  it('rejects @partitions_by with @automation on_interval(…), at the second of the two', () => {
    const message = 'a task is either partitioned or an interval task: give it one of @partitions_by and @automation on_interval(…)';
    expect(errors(['-- @partitions_by daily(start=2026-01-01)', '-- @automation on_interval("daily")', 'SELECT 1'])).toEqual([
      `2:16: ${message}`,
    ]);
    expect(errors(['-- @automation eager() OR on_interval("1h")', '-- @owner me', '-- @partitions_by static(a)', 'SELECT 1'])).toEqual([
      `3:19: ${message}`,
    ]);
  });

  it('accepts @partitions_by with an automation that is not on_interval', () => {
    expect(errors(['-- @partitions_by daily(start=2026-01-01)', '-- @automation eager()', 'SELECT $partition_key'])).toEqual([]);
  });

  it.each(['interval_start 2026-01-01', 'lookback 2', 'allow_partials'])('rejects @%s without on_interval', (header) => {
    const key = header.split(' ')[0]!;
    expect(errors(['-- @automation eager()', `-- @${header}`, 'SELECT 1'])).toEqual([
      `2:${5 + key.length + (header === key ? 0 : 1)}: @${key} applies only to interval tasks: add @automation on_interval(…) ` +
        '(expected -- @automation on_interval("daily") (or another interval unit) with it)',
    ]);
  });

  it('accepts the interval headers on an interval task, and its ${interval_start} and $interval_start', () => {
    expect(
      errors([
        '-- @automation on_interval("daily")',
        '-- @interval_start 2026-01-01',
        '-- @lookback 2',
        '-- @allow_partials',
        'SELECT * FROM t WHERE ts >= ${interval_start} AND ts < $interval_end',
      ]),
    ).toEqual([]);
  });
});

describe('$ parameters of the body', () => {
  it('accepts every parameter a partition binds', () => {
    expect(
      errors([
        '-- @partitions_by multi(day=daily(start=2026-01-01), Region=static(eu, us))',
        'SELECT $partition_key, $day, $partition_day, $Region, $partition_Region, $partition_start, $partition_end',
      ]),
    ).toEqual([]);
    expect(errors(['-- @partitions_by static(a, b)', 'SELECT $partition_key'])).toEqual([]);
  });

  it('rejects a name the partition does not bind, case-sensitively, listing those it does', () => {
    expect(
      errors([
        '-- @partitions_by multi(day=daily(start=2026-01-01), Region=static(eu, us))',
        'SELECT 1;',
        'SELECT x FROM t WHERE r = $region',
      ]),
    ).toEqual([
      '3:27: `$region` is not a parameter of this partitioned task ' +
        '(expected one of $partition_key, $Region, $partition_Region, $day, $partition_day, $partition_start, $partition_end) ' +
        '[did you mean `$Region`?]',
    ]);
    expect(errors(['-- @partitions_by static(a, b)', 'SELECT $partition_start'])).toEqual([
      '2:8: `$partition_start` is not a parameter of this partitioned task (expected one of $partition_key) [did you mean `$partition_key`?]',
    ]);
  });

  it('rejects partition and interval parameters in a task that is neither', () => {
    expect(errors(['-- @owner me', '  SELECT $partition_key, $interval_start,', '  $nope'])).toEqual([
      '2:10: `$partition_key` is bound only for partitioned tasks: add @partitions_by',
      '2:26: `$interval_start` is bound only in interval tasks: add @automation on_interval(…)',
      '3:3: `$nope` is never bound: only partitioned and interval tasks have parameters',
    ]);
  });

  it('rejects a partition parameter in an interval task', () => {
    expect(errors(['-- @automation on_interval("daily")', 'SELECT $partition_key'])).toEqual([
      '2:8: `$partition_key` is not a parameter of this interval task ' +
        '(expected one of $interval_start, $interval_end, $interval_start_ts, $interval_end_ts)',
    ]);
  });

  it('leaves alone `$` in literals, comments, dollar quotes, placeholders, PREPARE, and positional parameters', () => {
    expect(
      errors([
        "SELECT '$partition_key', E'\\'$x', \"$col\", $$ $y $$, $tag$ $z $tag$, json_extract(j, '$.a') FROM t; -- $c",
        '/* $d */ SELECT a$b FROM t WHERE x = {{ now }};',
        'PREPARE q AS SELECT $a::INT; EXECUTE q(a := 1);',
        'SELECT $1, ?',
      ]),
    ).toEqual([]);
  });
});

describe('@param', () => {
  it('types a parameter the task has', () => {
    expect(
      errors(['-- @partitions_by daily(start=2026-01-01)', '-- @param partition_key:DATE, partition_start:TIMESTAMP', 'SELECT 1']),
    ).toEqual([]);
    expect(errors(['-- @partitions_by multi(d=daily(start=2026-01-01), r=static(1, 2))', '-- @param d:DATE r:INT', 'SELECT 1'])).toEqual(
      [],
    );
  });

  it('rejects a name the task does not have, at the item', () => {
    expect(
      errors(['-- @partitions_by daily(start=2026-01-01)', '-- @param partition_key:DATE, partiton_start:TIMESTAMP', 'SELECT 1']),
    ).toEqual([
      '2:31: @param partiton_start: the task has no parameter `$partiton_start` ' +
        '(expected one of $partition_key, $partition_start, $partition_end) [did you mean `partition_start`?]',
    ]);
    expect(errors(['-- @param partition_key:VARCHAR', 'SELECT 1'])).toEqual([
      '1:11: @param partition_key: the task has no parameters; they are bound only for partitioned tasks: add @partitions_by',
    ]);
  });

  it('rejects a time type for a static key, which is text', () => {
    expect(errors(['-- @partitions_by static(2026-01-01, 2026-02-01)', '-- @param partition_key:DATE', 'SELECT 1'])).toEqual([
      '2:11: @param partition_key:DATE: static keys are text, not a DATE (expected partition_key:VARCHAR, or no @param)',
    ]);
    expect(
      errors(['-- @partitions_by multi(d=daily(start=2026-01-01), r=static(a))', '-- @param partition_r:DATETIME', 'SELECT 1']),
    ).toEqual(['2:11: @param partition_r:TIMESTAMP: static keys are text, not a TIMESTAMP (expected partition_r:VARCHAR, or no @param)']);
    expect(errors(['-- @partitions_by multi(d=daily(start=2026-01-01), r=static(a))', '-- @param partition_key:DATE', 'SELECT 1'])).toEqual(
      [
        '2:11: @param partition_key:DATE: a multi key is its parts joined by `|`, as text, not a DATE (expected partition_key:VARCHAR, or no @param)',
      ],
    );
  });

  it('rejects @param in an interval task, whose parameters have fixed types', () => {
    expect(errors(['-- @automation on_interval("daily")', '-- @param interval_start:DATE', 'SELECT 1'])).toEqual([
      "2:11: @param interval_start: an interval task's parameters have fixed types; remove the @param " +
        '(expected $interval_start and $interval_end TIMESTAMP, $interval_start_ts and $interval_end_ts BIGINT)',
    ]);
  });
});

describe('boundParameters', () => {
  it.each([
    ['daily(start=2026-01-01)', '2026-01-05'],
    ['static(eu, us)', 'eu'],
    ['multi(day=daily(start=2026-01-01), region=static(eu, us))', '2026-01-05|eu'],
    ['multi(a=static(x), b=static(y))', 'x|y'],
  ])('names what the run time binds for %s', (def, key) => {
    const task = makeTask(`-- @partitions_by ${def}\nSELECT 1`);
    expect(
      boundParameters(task)
        .map((p) => p.name)
        .sort(),
    ).toEqual([...partitionParameters(task, key)!.keys()].sort());
  });
});
