import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DuckorchError } from '../../src/errors.js';
import { TaskGraph, type GraphTask } from '../../src/model/graph/dag.js';
import { selectTasks, type SelectableTask } from '../../src/model/selection.js';

interface Spec {
  name: string;
  file: string;
  inputs: string[];
  outputs: string[];
  tags?: string[];
  group?: string;
  asset?: string;
}

//   seed ──> clean ──> report ──> export
//     │
//     └───> side         other (isolated)   events_task
const SPECS: Spec[] = [
  { name: 'seed', file: 'tasks/seed.sql', inputs: [], outputs: ['raw.users'], tags: ['raw'] },
  { name: 'clean', file: 'tasks/staging/clean.sql', inputs: ['raw.users'], outputs: ['staging.users'], tags: ['daily'], group: 'core' },
  { name: 'side', file: 'tasks/staging/side.sql', inputs: ['raw.users'], outputs: ['staging.side'], group: 'core' },
  {
    name: 'report',
    file: 'tasks/marts/report.sql',
    inputs: ['staging.users'],
    outputs: ['marts.report'],
    tags: ['daily', 'Finance'],
    group: 'finance',
    asset: 'marts.report',
  },
  { name: 'export', file: 'tasks/marts/export.sql', inputs: ['marts.report'], outputs: ['file:out/report.csv'] },
  { name: 'other', file: 'tasks/other.sql', inputs: [], outputs: ['misc.t'] },
  { name: 'events_task', file: 'tasks/events.sql', inputs: [], outputs: ['events'] },
];

const ALL = SPECS.map((s) => s.name).sort();

const graph = TaskGraph.build(
  SPECS.map((s): GraphTask => ({ name: s.name, file: s.file, inputs: s.inputs, outputs: s.outputs, dependsOn: [] })),
);
const tasks: SelectableTask[] = SPECS.map((s) => ({
  name: s.name,
  file: s.file,
  tags: s.tags ?? [],
  group: s.group ?? null,
  produces: [...new Set([...s.outputs, ...(s.asset ? [s.asset] : [])])],
}));

function select(select?: string[], exclude?: string[]): string[] {
  return [...selectTasks(graph, tasks, select, exclude).selected].sort();
}

function selectorError(sel: string[], exclude?: string[]): DuckorchError {
  try {
    selectTasks(graph, tasks, sel, exclude);
  } catch (err) {
    expect(err).toBeInstanceOf(DuckorchError);
    return err as DuckorchError;
  }
  throw new Error(`expected ${sel.join(' ')} to throw`);
}

describe('selectTasks: the dbt grammar', () => {
  it.each<[string, string[]]>([
    ['clean', ['clean']],
    ['CLEAN', ['clean']],
    ['+report', ['clean', 'report', 'seed']],
    ['report+', ['export', 'report']],
    ['+report+', ['clean', 'export', 'report', 'seed']],
    ['1+report', ['clean', 'report']],
    ['2+export', ['clean', 'export', 'report']],
    ['0+report', ['report']],
    ['seed+1', ['clean', 'seed', 'side']],
    ['seed+2', ['clean', 'report', 'seed', 'side']],
    ['1+report+1', ['clean', 'export', 'report']],
    ['@clean', ['clean', 'export', 'report', 'seed']],
    ['@seed', ['clean', 'export', 'report', 'seed', 'side']],
    ['@other', ['other']],
    ['tag:daily', ['clean', 'report']],
    ['tag:DAILY', ['clean', 'report']],
    ['tag:finance', ['report']],
    ['tag:daily+', ['clean', 'export', 'report']],
    ['+tag:finance', ['clean', 'report', 'seed']],
    ['group:core', ['clean', 'side']],
    ['group:finance', ['report']],
    ['path:tasks/marts', ['export', 'report']],
    ['path:tasks/marts/', ['export', 'report']],
    ['path:./tasks/marts', ['export', 'report']],
    ['path:tasks/seed', ['seed']],
    ['path:tasks/seed.sql', ['seed']],
    ['path:tasks', ALL],
    ['path:tasks/**/c*.sql', ['clean']],
    ['path:tasks/*.sql', ['events_task', 'other', 'seed']],
    ['task:clean', ['clean']],
    ['task:s*', ['seed', 'side']],
    ['asset:raw.users', ['seed']],
    ['asset:marts.*', ['report']],
    // Dataset and asset names select their producer.
    ['raw.users', ['seed']],
    ['Raw.Users', ['seed']],
    ['"raw"."users"', ['seed']],
    ['staging.*', ['clean', 'side']],
    ['main.events', ['events_task']],
    ['events', ['events_task']],
    ['file:out/report.csv', ['export']],
    ['+file:out/report.csv', ['clean', 'export', 'report', 'seed']],
    ['raw.users+1', ['clean', 'seed', 'side']],
    // Paths work without `path:` when they look like one.
    ['tasks/marts/report.sql', ['report']],
    ['tasks/staging', ['clean', 'side']],
    // Globs over names.
    ['*', ALL],
    ['?ide', ['side']],
    ['[cs]*', ['clean', 'seed', 'side']],
    ['*port', ['export', 'report']],
  ])('%s', (selector, expected) => {
    expect(select([selector])).toEqual(expected);
  });

  it('space is a union, comma an intersection', () => {
    expect(select(['clean other'])).toEqual(['clean', 'other']);
    expect(select(['clean', 'other'])).toEqual(['clean', 'other']);
    expect(select(['  clean   other  '])).toEqual(['clean', 'other']);
    expect(select(['tag:daily,group:finance'])).toEqual(['report']);
    expect(select(['+report,tag:daily'])).toEqual(['clean', 'report']);
    expect(select(['group:core,tag:daily other'])).toEqual(['clean', 'other']);
    expect(select(['tag:daily,group:core,clean'])).toEqual(['clean']);
    expect(select(['tag:raw,group:core'])).toEqual([]);
    expect(select(['clean,'])).toEqual(['clean']);
  });

  it('no selection, or an empty one, means every task', () => {
    expect(select()).toEqual(ALL);
    expect(select([])).toEqual(ALL);
  });

  it('--exclude removes tasks after selection, with the same grammar', () => {
    expect(select(undefined, ['tag:daily'])).toEqual(['events_task', 'export', 'other', 'seed', 'side']);
    expect(select(['+export'], ['seed'])).toEqual(['clean', 'export', 'report']);
    expect(select(['+export'], ['+clean'])).toEqual(['export', 'report']);
    expect(select(['@seed'], ['report+ side'])).toEqual(['clean', 'seed']);
    expect(select(['clean'], ['clean'])).toEqual([]);
    expect(select(['clean'], [])).toEqual(['clean']);
  });
});

describe('selectTasks: errors', () => {
  it('a selector matching nothing throws SELECTOR with a did-you-mean hint', () => {
    const e = selectorError(['clen']);
    expect(e.code).toBe('SELECTOR');
    expect(e.message).toBe('selector `clen` matches no task or asset');
    expect(e.hint).toBe('did you mean `clean`?');
    expect(e.expected).toMatch(/tag:x/);
  });

  it.each(['tag:nothing', 'group:nope', 'path:tasks/mart', 'task:raw.users', 'asset:clean', 'nope+', '+nope'])(
    '%s matches nothing',
    (sel) => {
      const e = selectorError([sel]);
      expect(e.code).toBe('SELECTOR');
      expect(e.message).toBe(`selector \`${sel}\` matches no task or asset`);
    },
  );

  it('an empty part of an intersection is an error even if the other part matches', () => {
    expect(selectorError(['clean,tag:nothing']).message).toBe('selector `tag:nothing` matches no task or asset');
  });

  it('an unknown method throws SELECTOR with a hint', () => {
    const e = selectorError(['tags:daily']);
    expect(e.code).toBe('SELECTOR');
    expect(e.message).toBe('unknown selector method `tags:` in `tags:daily`');
    expect(e.hint).toBe('did you mean `tag:`?');
  });

  it('`@` cannot be combined with a `+` prefix', () => {
    const e = selectorError(['@+clean']);
    expect(e.code).toBe('SELECTOR');
    expect(e.message).toBe('`@` cannot be combined with a `+` prefix in `@+clean`');
    expect(selectorError(['@2+clean']).code).toBe('SELECTOR');
  });

  it.each(['+', '@', '2+'])('%j is not a selector', (sel) => {
    expect(selectorError([sel]).code).toBe('SELECTOR');
  });

  it('the exclusion is parsed too', () => {
    expect(selectorError(['clean'], ['tags:x']).code).toBe('SELECTOR');
  });
});

describe('selectTasks: empty selections and exclusions that match nothing', () => {
  it('a valid selection may be empty, without an error', () => {
    expect(selectTasks(graph, tasks, ['tag:raw,tag:daily'], undefined)).toEqual({ selected: new Set(), warnings: [] });
    expect(selectTasks(graph, tasks, ['clean'], ['clean'])).toEqual({ selected: new Set(), warnings: [] });
  });

  it('an exclusion that matches nothing is a warning, as in dbt', () => {
    expect(selectTasks(graph, tasks, ['clean'], ['claen', 'zzz'])).toEqual({
      selected: new Set(['clean']),
      warnings: ['--exclude `claen` matches no task or asset (did you mean `clean`?)', '--exclude `zzz` matches no task or asset'],
    });
  });
});

describe('selectTasks: paths and quoted names', () => {
  const nested: SelectableTask[] = [
    {
      name: 'a',
      file: 'tasks/40_marts/a.sql',
      absolutePath: '/p/tasks/40_marts/a.sql',
      tags: [],
      group: null,
      produces: ['"Sales Data".Orders'],
    },
    { name: 'b', file: 'tasks/40_marts/sub/b.sql', absolutePath: '/p/tasks/40_marts/sub/b.sql', tags: [], group: null, produces: ['b'] },
    { name: 'c', file: 'tasks/50_export/c.sql', absolutePath: '/p/tasks/50_export/c.sql', tags: [], group: null, produces: ['c'] },
  ];
  const g = TaskGraph.build(nested.map((t) => ({ name: t.name, file: t.file, inputs: [], outputs: [...t.produces], dependsOn: [] })));
  const pick = (sel: string[]) => [...selectTasks(g, nested, sel, undefined).selected].sort();

  it.each<[string, string[]]>([
    ['path:tasks/40_*', ['a', 'b']],
    ['path:tasks/*_export', ['c']],
    ['path:tasks/**/b.sql', ['b']],
    ['path:/p/tasks/40_marts', ['a', 'b']],
    ['path:/p/tasks/*/c.sql', ['c']],
    ['"Sales Data".orders', ['a']],
    ['"sales data".ORDERS+', ['a']],
    ['"Sales Data".Orders,path:tasks/40_*', ['a']],
  ])('%s → %j', (sel, expected) => {
    expect(pick([sel])).toEqual(expected);
  });

  it('a quoted name with a space is one selector, also among others', () => {
    expect(pick(['c "Sales Data".orders'])).toEqual(['a', 'c']);
  });
});

describe('selectTasks: properties', () => {
  const atom = fc.constantFrom(
    'seed',
    'clean',
    'side',
    'report',
    'export',
    'other',
    'events_task',
    'tag:daily',
    'tag:raw',
    'group:core',
    'path:tasks/marts',
    'raw.users',
    'staging.*',
    '*',
    'file:out/report.csv',
  );
  const decorated = fc
    .tuple(fc.constantFrom('', '+', '1+', '@'), atom, fc.constantFrom('', '+', '+1'))
    .map(([p, a, s]) => `${p}${a}${p === '@' ? '' : s}`);
  const expr = fc
    .array(
      fc.array(decorated, { minLength: 1, maxLength: 3 }).map((parts) => parts.join(',')),
      { minLength: 1, maxLength: 3 },
    )
    .map((xs) => xs.join(' '));

  it('results are always a subset of the tasks', () => {
    fc.assert(
      fc.property(expr, fc.option(expr, { nil: undefined }), (sel, exc) => {
        const out = select([sel], exc === undefined ? undefined : [exc]);
        for (const n of out) expect(ALL).toContain(n);
      }),
    );
  });

  it('excluded tasks never appear, and exclusion only removes', () => {
    fc.assert(
      fc.property(expr, expr, (sel, exc) => {
        const selected = select([sel]);
        const excluded = select([exc]);
        const out = select([sel], [exc]);
        expect(out).toEqual(selected.filter((n) => !excluded.includes(n)));
      }),
    );
  });

  it('union is the union of its parts; intersection is within each part', () => {
    fc.assert(
      fc.property(decorated, decorated, (a, b) => {
        const A = select([a]);
        const B = select([b]);
        expect(select([`${a} ${b}`])).toEqual([...new Set([...A, ...B])].sort());
        expect(select([`${a},${b}`])).toEqual(A.filter((n) => B.includes(n)));
      }),
    );
  });

  it('`+x` contains x and everything upstream; `x+` everything downstream', () => {
    fc.assert(
      fc.property(atom, (a) => {
        const base = new Set(select([a]));
        const up = select([`+${a}`]);
        const down = select([`${a}+`]);
        expect(up).toEqual([...new Set([...base, ...graph.walk(base, 'up')])].sort());
        expect(down).toEqual([...new Set([...base, ...graph.walk(base, 'down')])].sort());
      }),
    );
  });
});
