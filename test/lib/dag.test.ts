import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DuckorchError } from '../../src/errors.js';
import type * as library from '../../src/index.js';
import { Dag, asset } from '../../src/index.js';
import { ROOT } from '../helpers.js';
import { assetSpecOf, dagSpecOf, isAssetValue, isDagValue } from '../../src/model/taskfile/function-task.js';

const noop = async () => null;

/** The DuckorchError `fn` throws. */
function thrown(fn: () => unknown): DuckorchError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DuckorchError);
    return err as DuckorchError;
  }
  throw new Error('expected an error');
}

describe('Dag', () => {
  it('declares tasks in order, with normalised options', () => {
    const dag = new Dag('etl')
      .task({ name: 'extract', retries: 2, timeout: 1.5, description: 'pull', tags: ['daily'] }, noop)
      .task({ name: 'load', requires: ['extract', 'extract'] }, noop);
    expect(dag.name).toBe('etl');
    expect(dag.tasks.map((t) => [t.name, t.requires, t.retries, t.timeoutSeconds])).toEqual([
      ['extract', [], 2, 1.5],
      ['load', ['extract'], 0, null],
    ]);
    expect(dag.tasks[0]!.description).toBe('pull');
    // Where the function runs: a worker thread unless the task says `inline`.
    expect(dag.tasks.map((t) => t.isolation)).toEqual(['thread', 'thread']);
    expect(new Dag('i').task({ name: 'i', isolation: 'inline' }, noop).tasks[0]!.isolation).toBe('inline');
    expect(dag.tasks[0]!.tags).toEqual(['daily']);
    // The call site is kept for errors found later (this file, the line of the `.task(` call).
    expect(dag.tasks[0]!.definedAt?.path).toContain('dag.test.ts');
  });

  it('rejects bad names and options eagerly, saying what was expected', () => {
    expect(thrown(() => new Dag('')).message).toBe('Dag needs a name');
    expect(thrown(() => new Dag('my dag')).message).toBe('invalid Dag name `my dag`');
    expect(thrown(() => new Dag(42 as unknown as string)).code).toBe('DAG_DEFINITION');
    const dag = new Dag('d');
    expect(thrown(() => dag.task({ name: 'bad name' }, noop)).message).toBe('invalid task name `bad name`');
    expect(thrown(() => dag.task({ name: '' }, noop)).message).toBe('task needs a name');
    dag.task({ name: 'a' }, noop);
    const dup = thrown(() => dag.task({ name: 'a' }, noop));
    expect(dup.code).toBe('DUPLICATE_TASK');
    expect(dup.message).toBe('Dag `d` already has a task named `a`');
    expect(thrown(() => dag.task({ name: 'b', retries: -1 }, noop)).message).toMatch(/`retries` must be a whole number ≥ 0, got -1/);
    expect(thrown(() => dag.task({ name: 'b', retries: 1.5 }, noop)).message).toMatch(/got 1.5/);
    expect(thrown(() => dag.task({ name: 'b', timeout: 0 }, noop)).message).toMatch(
      /`timeout` must be a positive number of seconds, got 0/,
    );
    expect(thrown(() => dag.task({ name: 'b', timeout: -5 }, noop)).message).toMatch(/got -5/);
    expect(thrown(() => dag.task({ name: 'b', timeout: '5m' as unknown as number }, noop)).message).toMatch(/got "5m"/);
    expect(thrown(() => dag.task({ name: 'b', requires: ['b'] }, noop)).message).toBe('task `b` of Dag `d` requires itself');
    expect(thrown(() => dag.task({ name: 'b', requires: 'a' as unknown as string[] }, noop)).message).toMatch(
      /must be an array of strings/,
    );
    expect(thrown(() => dag.task({ name: 'b' }, 'nope' as unknown as () => null)).message).toMatch(/needs a function/);
    const typo = thrown(() => dag.task({ name: 'b', retry: 2 } as unknown as { name: string }, noop));
    expect(typo.message).toBe('unknown option `retry` for task `b` of Dag `d`');
    expect(typo.hint).toBe('did you mean `retries`?');
    const isolation = thrown(() => dag.task({ name: 'b', isolation: 'sandbox' as 'inline' }, noop));
    expect(isolation.message).toBe("task `b` of Dag `d`: `isolation` must be 'thread' or 'inline', got \"sandbox\"");
    expect(isolation.expected).toMatch(/isolation: 'inline'/);
    expect(thrown(() => dag.task({ name: 'b', depends_on: ['a'] } as unknown as { name: string }, noop)).hint).toBe(
      'did you mean `requires`?',
    );
    // Nothing of a rejected declaration was kept.
    expect(dag.tasks.map((t) => t.name)).toEqual(['a']);
  });

  it('is recognised by its brand, also when made by another copy of the library', async () => {
    const dag = new Dag('here').task({ name: 't' }, noop);
    expect(isDagValue(dag)).toBe(true);
    expect(dagSpecOf(dag)?.tasks.map((t) => t.name)).toEqual(['t']);
    // The built package is another copy of every module: another `Dag` class, the same brand.
    const built = (await import(pathToFileURL(path.join(ROOT, 'dist/index.js')).href)) as typeof library;
    const other = new built.Dag('there').task({ name: 'u' }, noop);
    expect(other).not.toBeInstanceOf(Dag);
    expect(isDagValue(other)).toBe(true);
    expect(dagSpecOf(other)?.name).toBe('there');
    expect(isAssetValue(built.asset({ name: 'a.b' }, noop))).toBe(true);
    expect(isDagValue({ name: 'x', tasks: [] })).toBe(false);
    expect(isDagValue(null)).toBe(false);
  });
});

describe('asset()', () => {
  it('names the task after the dataset, or `task`', () => {
    const a = asset({ name: 'analytics.scores', deps: ['raw.events', 'RAW.EVENTS', 'main.users'] }, noop);
    expect(a.name).toBe('analytics.scores');
    expect(a.task).toBe('scores');
    expect(assetSpecOf(a)?.deps).toEqual(['raw.events', 'users']);
    expect(asset({ name: 'analytics.scores', task: 'build_scores' }, noop).task).toBe('build_scores');
    expect(asset({ name: 'file:out/daily.parquet' }, noop).task).toBe('daily');
  });

  it('rejects bad dataset names and options', () => {
    expect(thrown(() => asset({ name: '' }, noop)).message).toMatch(/needs a `name`/);
    expect(thrown(() => asset({ name: 'a..b' }, noop)).message).toBe('invalid dataset name `a..b` for asset()');
    expect(thrown(() => asset({ name: 'a.b', deps: ['x y'] }, noop)).message).toMatch(/invalid dataset name `x y` in `deps`/);
    expect(thrown(() => asset({ name: 'a.b', deps: ['A.B'] }, noop)).message).toBe('asset `a.b` lists itself in `deps`');
    expect(thrown(() => asset({ name: 'a."odd name"' }, noop)).hint).toMatch(/task: 'build_scores'/);
    expect(thrown(() => asset({ name: 'a.b', task: 'no good' }, noop)).message).toBe('invalid task name `no good`');
    expect(thrown(() => asset({ name: 'a.b', retries: -1 }, noop)).code).toBe('DAG_DEFINITION');
    expect(thrown(() => asset({ name: 'a.b', inputs: ['x.y'] } as unknown as { name: string }, noop)).hint).toBe('did you mean `deps`?');
  });
});
