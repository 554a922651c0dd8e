/**
 * Mermaid flowcharts of the project: `lineage` (datasets), `dag` (tasks) and `combined`
 * (datasets linked through the tasks that read and write them). Status classes are applied
 * to the ids of nodes that are actually drawn, which the original never managed.
 */
import { isFileDataset } from '../names.js';
import type { TaskGraph } from './dag.js';

export type GraphMode = 'lineage' | 'dag' | 'combined';
export const GRAPH_MODES: readonly GraphMode[] = ['lineage', 'dag', 'combined'];

export type RunStatus = 'success' | 'failed' | 'running' | 'skipped';

const CLASS_STYLES: Record<RunStatus, string> = {
  success: 'fill:#cfc,stroke:#393',
  failed: 'fill:#fcc,stroke:#933',
  running: 'fill:#ffc,stroke:#993',
  skipped: 'fill:#eee,stroke:#999',
};

export function statusClass(status: string | undefined): RunStatus | undefined {
  // Job states (and duckOrch's run statuses) to the four classes a picture needs.
  switch (status) {
    case 'succeeded':
    case 'success':
      return 'success';
    case 'dead':
    case 'failed':
    case 'test_failed':
      return 'failed';
    case 'processing':
    case 'pending':
    case 'running':
      return 'running';
    case 'skipped':
    case 'blocked':
    case 'cancelled':
      return 'skipped';
    default:
      return undefined;
  }
}

class NodeIds {
  private readonly byKey = new Map<string, string>();
  private readonly used = new Set<string>();
  id(prefix: string, name: string): string {
    const key = `${prefix}:${name}`;
    const known = this.byKey.get(key);
    if (known) return known;
    const base = `${prefix}_${name.replace(/[^A-Za-z0-9]/g, '_')}`;
    let id = base;
    for (let n = 2; this.used.has(id); n++) id = `${base}_${n}`;
    this.used.add(id);
    this.byKey.set(key, id);
    return id;
  }
}

function label(text: string): string {
  return `"${text.replace(/"/g, '#quot;')}"`;
}

function datasetNode(id: string, name: string): string {
  return isFileDataset(name) ? `${id}[/${label(name)}/]` : `${id}[(${label(name)})]`;
}

export interface MermaidOptions {
  mode: GraphMode;
  /** Tasks to draw; all when undefined. */
  tasks?: ReadonlySet<string>;
  /** Latest run status per task. */
  statuses?: ReadonlyMap<string, string>;
}

export function renderMermaid(graph: TaskGraph, options: MermaidOptions): string {
  const ids = new NodeIds();
  const include = (task: string) => !options.tasks || options.tasks.has(task);
  const nodes: string[] = [];
  const edges: string[] = [];
  const classes = new Map<RunStatus, string[]>();
  const addClass = (status: string | undefined, id: string) => {
    const cls = statusClass(status);
    if (!cls) return;
    const members = classes.get(cls);
    if (members) members.push(id);
    else classes.set(cls, [id]);
  };
  const declared = new Set<string>();
  const declareDataset = (name: string) => {
    const id = ids.id('d', name);
    if (!declared.has(id)) {
      declared.add(id);
      nodes.push(`    ${datasetNode(id, name)}`);
      // A dataset takes the status of the task that last produced it.
      const producer = graph.producers.get(name);
      if (options.mode === 'lineage' && producer) addClass(options.statuses?.get(producer), id);
    }
    return id;
  };
  const taskNames = [...graph.tasks.keys()].filter(include).sort();

  if (options.mode === 'dag' || options.mode === 'combined') {
    for (const name of taskNames) {
      const id = ids.id('t', name);
      nodes.push(`    ${id}[${label(name)}]`);
      addClass(options.statuses?.get(name), id);
    }
  }
  if (options.mode === 'dag') {
    for (const e of graph.edges)
      if (include(e.upstream) && include(e.downstream)) edges.push(`    ${ids.id('t', e.upstream)} --> ${ids.id('t', e.downstream)}`);
  } else if (options.mode === 'lineage') {
    for (const name of taskNames) {
      const t = graph.tasks.get(name)!;
      for (const d of [...graph.inputsOf(name), ...t.outputs]) declareDataset(d);
    }
    for (const e of graph.lineage) if (include(e.via)) edges.push(`    ${ids.id('d', e.src)} --> ${ids.id('d', e.dst)}`);
  } else {
    for (const name of taskNames) {
      const t = graph.tasks.get(name)!;
      const tid = ids.id('t', name);
      for (const input of graph.inputsOf(name)) edges.push(`    ${declareDataset(input)} --> ${tid}`);
      for (const output of t.outputs) edges.push(`    ${tid} --> ${declareDataset(output)}`);
    }
  }

  const lines = ['graph LR', ...nodes, ...[...new Set(edges)]];
  if (classes.size > 0) {
    for (const cls of Object.keys(CLASS_STYLES) as RunStatus[]) lines.push(`    classDef ${cls} ${CLASS_STYLES[cls]}`);
    for (const [cls, members] of classes) lines.push(`    class ${members.join(',')} ${cls}`);
  }
  return lines.join('\n') + '\n';
}
