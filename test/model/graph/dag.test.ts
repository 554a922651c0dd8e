import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DuckorchError, DuckorchErrors } from '../../../src/errors.js';
import { TaskGraph, type EdgeCause, type GraphTask } from '../../../src/model/graph/dag.js';

function t(name: string, inputs: string[], outputs: string[], dependsOn: string[] = []): GraphTask {
  return { name, file: `tasks/${name}.sql`, inputs, outputs, dependsOn };
}

function buildError(tasks: GraphTask[]): unknown {
  try {
    TaskGraph.build(tasks);
  } catch (err) {
    return err;
  }
  throw new Error('expected TaskGraph.build to throw');
}

/** A diamond: seed → (left, right) → top, plus an isolated task. */
const DIAMOND = [
  t('top', ['l.out', 'r.out'], ['top.out']),
  t('right', ['seed.out'], ['r.out']),
  t('left', ['seed.out', 'external.table'], ['l.out']),
  t('seed', [], ['seed.out']),
  t('alone', ['external.table'], ['alone.out']),
];

describe('TaskGraph.build: edges', () => {
  it('links each input to the task that produces it, sorted, ignoring datasets nobody produces', () => {
    const g = TaskGraph.build(DIAMOND);
    expect(g.edges).toEqual([
      { upstream: 'left', downstream: 'top' },
      { upstream: 'right', downstream: 'top' },
      { upstream: 'seed', downstream: 'left' },
      { upstream: 'seed', downstream: 'right' },
    ]);
    expect(Object.fromEntries(g.producers)).toEqual({
      'top.out': 'top',
      'r.out': 'right',
      'l.out': 'left',
      'seed.out': 'seed',
      'alone.out': 'alone',
    });
    expect([...g.tasks.keys()]).toEqual(['top', 'right', 'left', 'seed', 'alone']);
  });

  it('adds @depends_on edges, de-duplicated with data edges', () => {
    const g = TaskGraph.build([t('a', [], ['x']), t('b', ['x'], ['y'], ['a']), t('c', [], [], ['b', 'a'])]);
    expect(g.edges).toEqual([
      { upstream: 'a', downstream: 'b' },
      { upstream: 'a', downstream: 'c' },
      { upstream: 'b', downstream: 'c' },
    ]);
  });

  it('never links a task to itself (reading its own output, or depending on itself)', () => {
    const g = TaskGraph.build([t('a', ['x'], ['x'], ['a'])]);
    expect(g.edges).toEqual([]);
    expect(g.layers()).toEqual([['a']]);
  });

  it('exposes direct upstream and downstream sets', () => {
    const g = TaskGraph.build(DIAMOND);
    expect([...g.upstreamOf('top')].sort()).toEqual(['left', 'right']);
    expect([...g.downstreamOf('seed')].sort()).toEqual(['left', 'right']);
    expect([...g.upstreamOf('seed')]).toEqual([]);
    expect([...g.downstreamOf('no_such_task')]).toEqual([]);
    expect([...g.upstreamOf('no_such_task')]).toEqual([]);
  });

  it('builds lineage edges for every input × output pair of each task', () => {
    // b reads and rewrites p (incremental): p → p is not a lineage edge.
    const g = TaskGraph.build([t('a', ['i1', 'i2'], ['o1', 'o2']), t('b', ['o1', 'p'], ['p', 'q'])]);
    expect(g.lineage).toEqual([
      { src: 'i1', dst: 'o1', via: 'a' },
      { src: 'i1', dst: 'o2', via: 'a' },
      { src: 'i2', dst: 'o1', via: 'a' },
      { src: 'i2', dst: 'o2', via: 'a' },
      { src: 'o1', dst: 'p', via: 'b' },
      { src: 'o1', dst: 'q', via: 'b' },
      { src: 'p', dst: 'q', via: 'b' },
    ]);
  });

  it('an empty project is a valid, empty graph', () => {
    const g = TaskGraph.build([]);
    expect(g.edges).toEqual([]);
    expect(g.layers()).toEqual([]);
  });
});

describe('TaskGraph.layers (Kahn)', () => {
  it('puts each task one layer after its last dependency, each layer sorted', () => {
    expect(TaskGraph.build(DIAMOND).layers()).toEqual([['alone', 'seed'], ['left', 'right'], ['top']]);
  });

  it('handles a long chain with a shortcut edge', () => {
    const g = TaskGraph.build([
      t('d', ['c'], ['d']),
      t('c', ['b'], ['c']),
      t('b', ['a'], ['b']),
      t('a', [], ['a']),
      t('z', ['a'], ['z'], ['c']),
    ]);
    expect(g.layers()).toEqual([['a'], ['b'], ['c'], ['d', 'z']]);
  });

  it('restricted to a subset, ignores edges from outside it', () => {
    const g = TaskGraph.build(DIAMOND);
    expect(g.layers(new Set(['top', 'left']))).toEqual([['left'], ['top']]);
    expect(g.layers(new Set(['top', 'seed']))).toEqual([['seed', 'top']]);
  });

  it('every task appears exactly once, after all its upstream tasks (random DAGs)', () => {
    fc.assert(
      fc.property(randomDag, (tasks) => {
        const g = TaskGraph.build(tasks);
        const layers = g.layers();
        const flat = layers.flat();
        expect(flat.slice().sort()).toEqual(tasks.map((x) => x.name).sort());
        const layerOf = new Map(layers.flatMap((l, i) => l.map((n) => [n, i] as const)));
        for (const e of g.edges) expect(layerOf.get(e.upstream)!).toBeLessThan(layerOf.get(e.downstream)!);
        for (const l of layers) expect(l).toEqual(l.slice().sort());
        // Kahn: a task is in the earliest possible layer.
        for (const [n, i] of layerOf) {
          const ups = [...g.upstreamOf(n)];
          expect(i).toBe(ups.length === 0 ? 0 : Math.max(...ups.map((u) => layerOf.get(u)!)) + 1);
        }
      }),
    );
  });
});

/** Random DAGs: task i may only read outputs of tasks j < i, so the graph is acyclic by construction. */
const randomDag = fc.integer({ min: 1, max: 12 }).chain((n) =>
  fc.tuple(...Array.from({ length: n }, (_, i) => fc.subarray(Array.from({ length: i }, (_, j) => j)))).map((reads) =>
    reads.map((r, i) =>
      t(
        `t${String(i).padStart(2, '0')}`,
        r.map((j) => `d${j}`),
        [`d${i}`],
      ),
    ),
  ),
);

describe('TaskGraph.walk', () => {
  const g = TaskGraph.build([t('a', [], ['a']), t('b', ['a'], ['b']), t('c', ['b'], ['c']), t('d', ['c'], ['d']), t('x', ['a'], ['x'])]);
  it.each<[string[], 'up' | 'down', number | undefined, string[]]>([
    [['d'], 'up', undefined, ['a', 'b', 'c']],
    [['d'], 'up', 1, ['c']],
    [['d'], 'up', 2, ['b', 'c']],
    [['d'], 'up', 0, []],
    [['a'], 'down', undefined, ['b', 'c', 'd', 'x']],
    [['a'], 'down', 1, ['b', 'x']],
    [['b', 'x'], 'down', undefined, ['c', 'd']],
    [['a'], 'up', undefined, []],
  ])('walk(%j, %s, %j)', (start, dir, depth, expected) => {
    expect([...g.walk(start, dir, depth)].sort()).toEqual(expected);
  });

  it('does not include the start tasks themselves unless reached through an edge', () => {
    expect(g.walk(['b', 'c'], 'down').has('b')).toBe(false);
    expect(g.walk(['b', 'c'], 'down').has('c')).toBe(true);
  });
});

describe('TaskGraph.build: errors', () => {
  it('a task name defined twice throws DUPLICATE_TASK naming both files', () => {
    const err = buildError([t('a', [], ['x']), { ...t('a', [], ['y']), file: 'other/a.sql' }]);
    expect(err).toBeInstanceOf(DuckorchError);
    const e = err as DuckorchError;
    expect(e.code).toBe('DUPLICATE_TASK');
    expect(e.message).toBe('task `a` is defined twice: in tasks/a.sql and in other/a.sql');
    expect(e.hint).toMatch(/@task name=/);
  });

  it('a dataset written by two tasks throws DUPLICATE_OUTPUT naming both tasks', () => {
    const err = buildError([t('a', [], ['shared.t']), t('b', [], ['shared.t'])]) as DuckorchError;
    expect(err).toBeInstanceOf(DuckorchError);
    expect(err.code).toBe('DUPLICATE_OUTPUT');
    expect(err.message).toBe('`shared.t` is written by two tasks: a (tasks/a.sql) and b (tasks/b.sql)');
    expect(err.hint).toMatch(/@outputs/);
  });

  it('the same output listed twice by one task is not a duplicate', () => {
    expect(TaskGraph.build([t('a', [], ['x', 'x'])]).producers.get('x')).toBe('a');
  });

  it('an unknown @depends_on throws UNKNOWN_NAME with a did-you-mean hint', () => {
    const err = buildError([t('load_users', [], []), t('report', [], [], ['load_user'])]) as DuckorchError;
    expect(err).toBeInstanceOf(DuckorchError);
    expect(err.code).toBe('UNKNOWN_NAME');
    expect(err.message).toBe('task `report` depends on unknown task `load_user`');
    expect(err.location?.file).toBe('tasks/report.sql');
    expect(err.hint).toBe('did you mean `load_users`?');
  });

  it('a two-task cycle throws DAG_CYCLE whose message names both tasks as a closed path, then each edge', () => {
    const err = buildError([t('a', ['y'], ['x']), t('b', ['x'], ['y'])]) as DuckorchError;
    expect(err).toBeInstanceOf(DuckorchError);
    expect(err.code).toBe('DAG_CYCLE');
    expect(err.message).toBe(
      [
        'the tasks form a cycle: a → b → a',
        '  tasks/b.sql:1:1: b reads x, written by a',
        '  tasks/a.sql:1:1: a reads y, written by b',
      ].join('\n'),
    );
  });

  it('locates each edge of a cycle with the locator: reads, file globs and @depends_on, pointing at the edge that closes it', () => {
    const tasks: GraphTask[] = [
      t('a', ['file:out/*.csv'], ['a.out']),
      t('b', ['a.out', 'other'], ['b.out']),
      t('c', ['b.out'], ['file:out/c.csv']),
      // Off the cycle: never located.
      t('d', [], [], ['c']),
    ];
    const causes: Array<[string, EdgeCause]> = [];
    const located = TaskGraph.analyse(tasks, (task, cause) => {
      causes.push([task.name, cause]);
      return cause.kind === 'depends_on' ? undefined : { file: task.file, line: 7, col: task.name.length };
    }).errors;
    expect(causes).toEqual([
      ['b', { kind: 'reads', dataset: 'a.out' }],
      ['c', { kind: 'reads', dataset: 'b.out' }],
      ['a', { kind: 'glob', glob: 'file:out/*.csv', file: 'file:out/c.csv' }],
    ]);
    expect(located.map((e) => [e.code, e.message, e.location])).toEqual([
      [
        'DAG_CYCLE',
        [
          'the tasks form a cycle: a → b → c → a',
          '  tasks/b.sql:7:1: b reads a.out, written by a',
          '  tasks/c.sql:7:1: c reads b.out, written by b',
          '  tasks/a.sql:7:1: a reads file:out/*.csv, which matches file:out/c.csv written by c',
        ].join('\n'),
        { file: 'tasks/a.sql', line: 7, col: 1 },
      ],
    ]);
    // Without a location from the locator, a @depends_on edge points at its header line.
    const named = TaskGraph.analyse([
      { ...t('x', [], ['x.out'], ['y']), keyLocations: { depends_on: { line: 2, col: 16 } } },
      t('y', ['x.out'], []),
    ]).errors[0]!;
    expect(named.message.split('\n').slice(1)).toEqual([
      '  tasks/y.sql:1:1: y reads x.out, written by x',
      '  tasks/x.sql:2:16: x names y in @depends_on',
    ]);
    expect(named.location).toEqual({ file: 'tasks/x.sql', line: 2, col: 16 });
  });

  it('names only the tasks on the cycle, not those leading into it', () => {
    const err = buildError([
      t('aa_entry', [], ['e']),
      t('b', ['e', 'd_out'], ['b_out']),
      t('c', ['b_out'], ['c_out']),
      t('d', ['c_out'], ['d_out']),
      t('z_after', ['d_out'], ['z']),
    ]) as DuckorchError;
    expect(err.code).toBe('DAG_CYCLE');
    expect(err.message.split('\n')[0]).toBe('the tasks form a cycle: b → c → d → b');
  });

  it('finds cycles made by @depends_on', () => {
    const err = buildError([t('a', [], [], ['c']), t('b', [], [], ['a']), t('c', [], [], ['b'])]) as DuckorchError;
    expect(err.code).toBe('DAG_CYCLE');
    expect(err.message).toBe(
      [
        'the tasks form a cycle: a → b → c → a',
        '  tasks/b.sql:1:1: b names a in @depends_on',
        '  tasks/c.sql:1:1: c names b in @depends_on',
        '  tasks/a.sql:1:1: a names c in @depends_on',
      ].join('\n'),
    );
  });

  it('reports every problem at once as DuckorchErrors', () => {
    const err = buildError([t('a', ['y'], ['x']), t('b', ['x'], ['y']), t('a', [], []), t('c', [], ['x']), t('d', [], [], ['nope'])]);
    expect(err).toBeInstanceOf(DuckorchErrors);
    const errors = (err as DuckorchErrors).errors;
    expect(errors.map((e) => e.code)).toEqual(['DUPLICATE_TASK', 'DUPLICATE_OUTPUT', 'UNKNOWN_NAME', 'DAG_CYCLE']);
    expect((err as DuckorchErrors).message.split('\n').filter((l) => !l.startsWith('  '))).toHaveLength(4);
  });
});

describe('TaskGraph.build: file globs', () => {
  it('makes a task reading a glob depend on the tasks writing files it matches', () => {
    const g = TaskGraph.build([
      t('export_a', ['a'], ['file:out/a.parquet']),
      t('export_b', ['b'], ['file:out/b.parquet']),
      t('export_csv', ['c'], ['file:out/c.csv']),
      t('combine', ['file:out/*.parquet'], ['all']),
    ]);
    expect(g.edges).toEqual([
      { upstream: 'export_a', downstream: 'combine' },
      { upstream: 'export_b', downstream: 'combine' },
    ]);
  });
});
