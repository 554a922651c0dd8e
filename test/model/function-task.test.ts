import { describe, expect, it } from 'vitest';
import { DuckorchErrors, type DuckorchError } from '../../src/errors.js';
import { Dag, asset } from '../../src/index.js';
import { jsonProblem } from '../../src/model/json.js';
import { assetDefinition, assetSpecOf, dagDefinitions, dagSpecOf } from '../../src/model/taskfile/function-task.js';
import { taskToJson } from '../../src/model/taskfile/task-json.js';

const REF = { module: '/abs/tasks/etl.ts', exportName: 'etl', file: 'tasks/etl.ts' };

describe('function task definitions', () => {
  it('turns a Dag into function tasks that depend on what they require', () => {
    const dag = new Dag('etl')
      .task({ name: 'extract', retries: 2, timeout: 30, tags: ['daily'] }, async () => ({ rows: 1 }))
      .task({ name: 'report', requires: ['extract'], description: 'sums' }, async () => null);
    const [extract, report] = dagDefinitions(dagSpecOf(dag)!, REF);
    expect(extract).toMatchObject({
      name: 'extract',
      kind: 'function',
      function: { module: '/abs/tasks/etl.ts', exportName: 'etl', dag: 'etl' },
      file: 'tasks/etl.ts',
      sql: '',
      statementCount: 0,
      retries: 2,
      timeoutSeconds: 30,
      tags: ['daily'],
      dependsOn: [],
      inputs: [],
      outputs: [],
      tests: [],
      checks: [],
      params: [],
      asset: null,
      interval: { start: null, startTs: null, lookback: 0, allowPartials: false },
    });
    expect(report).toMatchObject({ name: 'report', dependsOn: ['extract'], description: 'sums' });
    expect(extract!.codeVersion).toMatch(/^fnv1a64:[0-9a-f]{16}$/);
    expect(taskToJson(report!).function).toEqual({ module: '/abs/tasks/etl.ts', export: 'etl', dag: 'etl' });
  });

  it('gives an edited function, or changed options, a new code version', () => {
    const version = (fn: () => Promise<number>, retries = 0) =>
      dagDefinitions(dagSpecOf(new Dag('d').task({ name: 't', retries }, fn))!, REF)[0]!.codeVersion;
    const a = version(async () => 1);
    expect(version(async () => 1)).toBe(a);
    expect(version(async () => 2)).not.toBe(a);
    expect(version(async () => 1, 3)).not.toBe(a);
  });

  it("records `isolation: 'inline'` in the definition and its code version; the default changes neither", () => {
    const definition = (options: { isolation?: 'thread' | 'inline' }) =>
      dagDefinitions(dagSpecOf(new Dag('d').task({ name: 't', ...options }, async () => 1))!, REF)[0]!;
    const plain = definition({});
    expect(definition({ isolation: 'thread' })).toEqual(plain);
    expect(plain.function).toEqual({ module: '/abs/tasks/etl.ts', exportName: 'etl', dag: 'd' });
    const inline = definition({ isolation: 'inline' });
    expect(inline.function).toEqual({ module: '/abs/tasks/etl.ts', exportName: 'etl', dag: 'd', isolation: 'inline' });
    expect(inline.codeVersion).not.toBe(plain.codeVersion);
    expect(taskToJson(inline).function).toEqual({ module: '/abs/tasks/etl.ts', export: 'etl', dag: 'd', isolation: 'inline' });
  });

  it('reports every unknown `requires` and a cycle together, with a suggestion', () => {
    const dag = new Dag('d')
      .task({ name: 'extract' }, async () => null)
      .task({ name: 'load', requires: ['extrct'] }, async () => null)
      .task({ name: 'x', requires: ['y'] }, async () => null)
      .task({ name: 'y', requires: ['x'] }, async () => null);
    let err: unknown;
    try {
      dagDefinitions(dagSpecOf(dag)!, REF);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DuckorchErrors);
    const errors = (err as DuckorchErrors).errors;
    expect(errors.map((e) => [e.code, e.message, e.hint])).toEqual([
      ['DAG_DEFINITION', 'task `load` of Dag `d` requires `extrct`, which is not a task of that Dag', 'did you mean `extract`?'],
      ['DAG_CYCLE', 'the tasks of Dag `d` form a cycle: x → y → x', 'remove one of these `requires`'],
    ]);
    // Not declared in REF's module: the location falls back to the module's first line.
    expect(errors[0]!.location).toEqual({ file: 'tasks/etl.ts', line: 1, col: 1 });
  });

  it('points at the `.task()` call when the module is the one declaring it', () => {
    const dag = new Dag('d').task({ name: 'a', requires: ['nope'] }, async () => null);
    const site = dagSpecOf(dag)!.tasks[0]!.definedAt!;
    try {
      dagDefinitions(dagSpecOf(dag)!, { module: site.path, exportName: 'd', file: 'here.ts' });
      expect.unreachable();
    } catch (e) {
      expect((e as DuckorchError).location).toEqual({ file: 'here.ts', line: site.line, col: site.col });
    }
  });

  it('turns an asset into a task that reads its deps and writes its dataset', () => {
    const a = asset(
      { name: 'analytics.scores', deps: ['raw.events', 'raw.users'], group: 'g', owner: 'me', description: 'd', tags: ['t'], retries: 1 },
      async () => null,
    );
    const def = assetDefinition(assetSpecOf(a)!, { ...REF, exportName: 'scores' });
    expect(def).toMatchObject({
      name: 'scores',
      kind: 'function',
      function: { module: '/abs/tasks/etl.ts', exportName: 'scores', dag: null },
      inputs: ['raw.events', 'raw.users'],
      outputs: ['analytics.scores'],
      declaredInputs: ['raw.events', 'raw.users'],
      declaredOutputs: ['analytics.scores'],
      lineage: [
        { src: 'raw.events', dst: 'analytics.scores' },
        { src: 'raw.users', dst: 'analytics.scores' },
      ],
      asset: { name: 'analytics.scores', kind: 'table', group: 'g', owner: 'me', description: 'd', tags: ['t'] },
      retries: 1,
      owner: 'me',
    });
  });
});

describe('jsonProblem', () => {
  it('accepts JSON and what JSON writes faithfully', () => {
    expect(jsonProblem({ a: [1, 'x', null, true, { b: 2 }], when: new Date(0), skipped: undefined })).toBeUndefined();
    expect(jsonProblem(Object.create(null) as object)).toBeUndefined();
    expect(jsonProblem('text')).toBeUndefined();
  });

  it('says what is not JSON and where', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const cases: Array<[unknown, string, RegExp]> = [
      [{ a: { f: () => 1 } }, 'result.a.f', /^a function/],
      [{ n: 10n }, 'result.n', /^a BigInt \(10n\)/],
      [[1, Symbol('s')], 'result[1]', /^a symbol/],
      [cyclic, 'result.self', /circular/],
      [{ 'odd key': NaN }, 'result["odd key"]', /NaN/],
      [{ m: new Map() }, 'result.m', /a Map/],
      [{ p: Promise.resolve(1) }, 'result.p', /missing `await`/],
      [[undefined], 'result[0]', /undefined/],
      [{ e: new Error('x') }, 'result.e', /an Error/],
      [{ c: new (class Point {})() }, 'result.c', /an instance of Point/],
    ];
    for (const [value, path, what] of cases) {
      const p = jsonProblem(value);
      expect(p?.path).toBe(path);
      expect(p?.what).toMatch(what);
    }
    // A shared (not circular) object is fine.
    const shared = { x: 1 };
    expect(jsonProblem({ a: shared, b: shared })).toBeUndefined();
  });
});
