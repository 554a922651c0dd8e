import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TaskGraph, type GraphTask } from '../../../src/model/graph/dag.js';
import { GRAPH_MODES, renderMermaid, statusClass, type GraphMode } from '../../../src/model/graph/mermaid.js';

function t(name: string, inputs: string[], outputs: string[], dependsOn: string[] = []): GraphTask {
  return { name, file: `tasks/${name}.sql`, inputs, outputs, dependsOn };
}

const GRAPH = TaskGraph.build([t('load', ['file:data/u.csv'], ['raw.users']), t('clean', ['raw.users'], ['stg.users'])]);
const STATUSES = new Map([
  ['load', 'success'],
  ['clean', 'test_failed'],
]);
const CLASS_DEFS = [
  '    classDef success fill:#cfc,stroke:#393',
  '    classDef failed fill:#fcc,stroke:#933',
  '    classDef running fill:#ffc,stroke:#993',
  '    classDef skipped fill:#eee,stroke:#999',
];

/** Node ids declared, edges drawn and class assignments of a rendered chart. */
function structure(out: string) {
  const lines = out.trimEnd().split('\n');
  expect(lines[0]).toBe('graph LR');
  const nodes: string[] = [];
  const edges: Array<[string, string]> = [];
  const classes: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    let m: RegExpExecArray | null;
    if ((m = /^ {4}class (\S+) (\w+)$/.exec(line))) for (const id of m[1]!.split(',')) classes.push([id, m[2]!]);
    else if ((m = /^ {4}classDef /.exec(line))) continue;
    else if ((m = /^ {4}(\S+) --> (\S+)$/.exec(line))) edges.push([m[1]!, m[2]!]);
    else if ((m = /^ {4}([A-Za-z0-9_]+)(\["|\[\("|\[\/").*("\]|"\)\]|"\/\])$/.exec(line))) nodes.push(m[1]!);
    else throw new Error(`unrecognised line: ${line}`);
  }
  return { nodes, edges, classes };
}

describe('renderMermaid', () => {
  it('lineage mode: dataset nodes, dataset edges, datasets styled by their producer', () => {
    expect(renderMermaid(GRAPH, { mode: 'lineage', statuses: STATUSES })).toBe(
      [
        'graph LR',
        '    d_raw_users[("raw.users")]',
        '    d_stg_users[("stg.users")]',
        '    d_file_data_u_csv[/"file:data/u.csv"/]',
        '    d_file_data_u_csv --> d_raw_users',
        '    d_raw_users --> d_stg_users',
        ...CLASS_DEFS,
        '    class d_raw_users success',
        '    class d_stg_users failed',
        '',
      ].join('\n'),
    );
  });

  it('dag mode: task nodes sorted by name, task edges, task classes', () => {
    expect(renderMermaid(GRAPH, { mode: 'dag', statuses: STATUSES })).toBe(
      [
        'graph LR',
        '    t_clean["clean"]',
        '    t_load["load"]',
        '    t_load --> t_clean',
        ...CLASS_DEFS,
        '    class t_clean failed',
        '    class t_load success',
        '',
      ].join('\n'),
    );
  });

  it('combined mode: datasets linked through the tasks that read and write them', () => {
    expect(renderMermaid(GRAPH, { mode: 'combined' })).toBe(
      [
        'graph LR',
        '    t_clean["clean"]',
        '    t_load["load"]',
        '    d_raw_users[("raw.users")]',
        '    d_stg_users[("stg.users")]',
        '    d_file_data_u_csv[/"file:data/u.csv"/]',
        '    d_raw_users --> t_clean',
        '    t_clean --> d_stg_users',
        '    d_file_data_u_csv --> t_load',
        '    t_load --> d_raw_users',
        '',
      ].join('\n'),
    );
  });

  it('emits no class definitions without statuses', () => {
    for (const mode of GRAPH_MODES) expect(renderMermaid(GRAPH, { mode })).not.toContain('class');
  });

  it('groups tasks sharing a status on one class line', () => {
    const g = TaskGraph.build([t('a', [], []), t('b', [], []), t('c', [], [])]);
    const out = renderMermaid(g, {
      mode: 'dag',
      statuses: new Map([
        ['a', 'running'],
        ['b', 'skipped'],
        ['c', 'running'],
      ]),
    });
    expect(out).toContain('    class t_a,t_c running\n');
    expect(out).toContain('    class t_b skipped\n');
  });

  it('ignores statuses of unknown tasks and unknown status values', () => {
    const g = TaskGraph.build([t('a', [], ['x'])]);
    const out = renderMermaid(g, {
      mode: 'dag',
      statuses: new Map([
        ['ghost', 'success'],
        ['a', 'weird'],
      ]),
    });
    expect(out).toBe('graph LR\n    t_a["a"]\n');
  });

  it('draws a lone task and its lone outputs', () => {
    const g = TaskGraph.build([t('solo', [], ['only.table'])]);
    expect(renderMermaid(g, { mode: 'dag' })).toBe('graph LR\n    t_solo["solo"]\n');
    expect(renderMermaid(g, { mode: 'lineage' })).toBe('graph LR\n    d_only_table[("only.table")]\n');
  });

  it('keeps ids distinct for names that collide after sanitising', () => {
    const g = TaskGraph.build([t('a.b', [], ['x.y']), t('a_b', ['x.y'], ['x_y']), t('a-b', ['x_y'], ['x-y']), t('a_b_2', [], ['x_y_2'])]);
    for (const mode of GRAPH_MODES) {
      const s = structure(
        renderMermaid(g, {
          mode,
          statuses: new Map([
            ['a.b', 'success'],
            ['a_b', 'failed'],
            ['a-b', 'running'],
            ['a_b_2', 'skipped'],
          ]),
        }),
      );
      expect(new Set(s.nodes).size).toBe(s.nodes.length);
      if (mode !== 'lineage') expect(s.nodes.filter((n) => n.startsWith('t_'))).toHaveLength(4);
      if (mode !== 'dag') expect(s.nodes.filter((n) => n.startsWith('d_'))).toHaveLength(4);
      const classed = new Map(s.classes);
      if (mode !== 'lineage') expect(new Set(s.classes.map(([id]) => id)).size).toBe(4);
      for (const [id] of s.classes) expect(s.nodes).toContain(id);
      expect(classed.size).toBe(s.classes.length);
    }
  });

  it('links the right nodes when ids collide', () => {
    const g = TaskGraph.build([t('p', [], ['a.b']), t('q', ['a.b'], ['a_b'])]);
    const out = renderMermaid(g, { mode: 'lineage' });
    expect(out).toContain('    d_a_b[("a.b")]');
    expect(out).toContain('    d_a_b_2[("a_b")]');
    expect(out).toContain('    d_a_b --> d_a_b_2');
  });

  it('escapes double quotes in labels', () => {
    const g = TaskGraph.build([t('q', [], ['"odd name".t'])]);
    expect(renderMermaid(g, { mode: 'lineage' })).toContain('    d__odd_name__t[("#quot;odd name#quot;.t")]');
  });

  it('draws only the selected tasks', () => {
    const g = TaskGraph.build([t('a', [], ['x']), t('b', ['x'], ['y']), t('c', ['y'], ['z'])]);
    const only = new Set(['b', 'c']);
    expect(renderMermaid(g, { mode: 'dag', tasks: only })).toBe('graph LR\n    t_b["b"]\n    t_c["c"]\n    t_b --> t_c\n');
    expect(renderMermaid(g, { mode: 'lineage', tasks: only })).toBe(
      'graph LR\n    d_x[("x")]\n    d_y[("y")]\n    d_z[("z")]\n    d_x --> d_y\n    d_y --> d_z\n',
    );
  });

  it('every edge endpoint and every class member is a declared node (random projects)', () => {
    const nameArb = fc.constantFrom('a', 'a.b', 'a_b', 'a-b', 'A b', 'x', 'x.y', 'x_y', 'file:x/y.csv', 'z"q');
    const taskArb = fc.record({
      inputs: fc.uniqueArray(nameArb, { maxLength: 3 }),
      outputs: fc.uniqueArray(nameArb, { maxLength: 2 }),
      status: fc.constantFrom('success', 'failed', 'test_failed', 'running', 'skipped', 'queued', undefined),
    });
    fc.assert(
      fc.property(fc.array(taskArb, { maxLength: 6 }), fc.constantFrom<GraphMode>(...GRAPH_MODES), (specs, mode) => {
        // Keep each dataset with one producer and make the graph acyclic: task i may only read outputs of earlier tasks.
        const produced = new Map<string, number>();
        const outputsOf = specs.map((s, i) => {
          const outputs = s.outputs.filter((o) => !produced.has(o));
          for (const o of outputs) produced.set(o, i);
          return outputs;
        });
        const tasks = specs.map((s, i) => {
          const inputs = s.inputs.filter((n) => (produced.get(n) ?? -1) < i);
          return t(['t.1', 't_1', 'T 1', 'u', 'v-w', 'v_w'][i]!, inputs, outputsOf[i]!);
        });
        const graph = TaskGraph.build(tasks);
        const statuses = new Map(specs.flatMap((s, i) => (s.status ? [[tasks[i]!.name, s.status] as const] : [])));
        const out = renderMermaid(graph, { mode, statuses });
        const s = structure(out);
        const declared = new Set(s.nodes);
        expect(declared.size).toBe(s.nodes.length);
        for (const [from, to] of s.edges) {
          expect(declared.has(from)).toBe(true);
          expect(declared.has(to)).toBe(true);
        }
        for (const [id, cls] of s.classes) {
          expect(declared.has(id)).toBe(true);
          expect(['success', 'failed', 'running', 'skipped']).toContain(cls);
        }
        if (s.classes.length > 0) for (const def of CLASS_DEFS) expect(out).toContain(`${def}\n`);
        // One node per task (dag/combined) and per dataset (lineage/combined).
        const datasets = new Set(tasks.flatMap((x) => [...x.inputs, ...x.outputs]));
        const expectedNodes = (mode === 'lineage' ? 0 : tasks.length) + (mode === 'dag' ? 0 : datasets.size);
        expect(s.nodes).toHaveLength(expectedNodes);
      }),
      { numRuns: 300 },
    );
  });
});

describe('statusClass', () => {
  it.each<[string | undefined, string | undefined]>([
    ['success', 'success'],
    ['failed', 'failed'],
    ['test_failed', 'failed'],
    ['running', 'running'],
    ['skipped', 'skipped'],
    ['queued', undefined],
    [undefined, undefined],
  ])('%j → %j', (status, cls) => {
    expect(statusClass(status)).toBe(cls);
  });
});
