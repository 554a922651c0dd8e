/**
 * The task graph inferred from what tasks read and write. A task depends on the task that
 * produces one of its inputs, and on the tasks named by `@depends_on`. Every dataset has at
 * most one producing task; the graph must be acyclic.
 */
import { DuckorchError, DuckorchErrors, formatLocation, type SourceLocation } from '../../errors.js';
import picomatch from 'picomatch';
import { compareText, datasetKey, FILE_PREFIX, isFileDataset, isFileGlob } from '../names.js';
import { didYouMean } from '../suggest.js';

export interface GraphTask {
  name: string;
  file: string;
  inputs: readonly string[];
  outputs: readonly string[];
  dependsOn: readonly string[];
  /** Where header values start, to point graph errors at the line that causes them. */
  keyLocations?: Partial<Record<string, { line: number; col: number }>>;
  /** Dataset edges within the task (per statement); every input to every output when absent. */
  lineage?: ReadonlyArray<{ src: string; dst: string }>;
}

export interface TaskEdge {
  upstream: string;
  downstream: string;
}

export interface LineageEdge {
  src: string;
  dst: string;
  via: string;
}

/** Why a task depends on another: it reads what the other writes, or names it. */
export type EdgeCause =
  | { kind: 'reads'; dataset: string }
  /** A file glob it reads matches a file the other writes. */
  | { kind: 'glob'; glob: string; file: string }
  | { kind: 'depends_on' };

/**
 * Where in its file a task reads what its upstream writes (or names it), for the edges of a
 * cycle error. The graph knows only header locations; callers that know the SQL find reads in it.
 */
export type EdgeLocator<T extends GraphTask> = (task: T, cause: EdgeCause) => SourceLocation | undefined;

export class TaskGraph {
  readonly tasks: ReadonlyMap<string, GraphTask>;
  /** dataset → producing task */
  readonly producers: ReadonlyMap<string, string>;
  private readonly up: ReadonlyMap<string, Set<string>>;
  private readonly down = new Map<string, Set<string>>();
  /** Per task, the files other tasks produce that each of its file-glob inputs matches. */
  private readonly globMatches: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;
  // Worked out when first asked for: registering a large project after one edit needs none of them for most tasks.
  private edgeList: TaskEdge[] | undefined;
  private lineageList: LineageEdge[] | undefined;
  private producerKeys: Map<string, string> | undefined;

  private constructor(
    tasks: Map<string, GraphTask>,
    producers: Map<string, string>,
    up: Map<string, Set<string>>,
    globMatches: Map<string, Map<string, string[]>>,
  ) {
    this.tasks = tasks;
    this.producers = producers;
    this.up = up;
    this.globMatches = globMatches;
    for (const name of tasks.keys()) this.down.set(name, new Set());
    for (const [downstream, ups] of up) for (const upstream of ups) this.down.get(upstream)!.add(downstream);
  }

  /** Every edge, by upstream then downstream name. */
  get edges(): readonly TaskEdge[] {
    if (!this.edgeList) {
      const edges: TaskEdge[] = [];
      for (const [downstream, ups] of this.up) for (const upstream of ups) edges.push({ upstream, downstream });
      this.edgeList = edges.sort((a, b) => compareText(a.upstream, b.upstream) || compareText(a.downstream, b.downstream));
    }
    return this.edgeList;
  }

  /** Dataset edges through every task (see `lineageOf`). */
  get lineage(): readonly LineageEdge[] {
    this.lineageList ??= [...this.tasks.keys()].flatMap((name) => this.lineageOf(name));
    return this.lineageList;
  }

  /** Dataset edges through a task: its own, and through each file its file globs match. */
  lineageOf(name: string): LineageEdge[] {
    const t = this.tasks.get(name);
    if (!t) return [];
    const lineage: LineageEdge[] = [];
    const globs = this.globMatches.get(t.name);
    const within = t.lineage ?? t.inputs.flatMap((src) => t.outputs.map((dst) => ({ src, dst })));
    // A task's own edges are distinct; a glob read adds every produced file it matches, so walks go through them.
    const seen = globs ? new Set<string>() : undefined;
    for (const { src, dst } of within) {
      for (const from of globs ? [src, ...(globs.get(src) ?? [])] : [src]) {
        if (from === dst) continue;
        if (seen) {
          const key = `${from}\u0000${dst}`;
          if (seen.has(key)) continue;
          seen.add(key);
        }
        lineage.push({ src: from, dst, via: t.name });
      }
    }
    return lineage;
  }

  /** Builds the graph, or throws every problem `analyse` finds. */
  static build(taskList: readonly GraphTask[]): TaskGraph {
    const { graph, errors } = TaskGraph.analyse(taskList);
    if (errors.length === 1) throw errors[0]!;
    if (errors.length > 1) throw new DuckorchErrors(errors);
    return graph;
  }

  /**
   * Builds the graph and finds every problem at once: a duplicate task name, a dataset written
   * by two tasks, an unknown `@depends_on`, a cycle. The graph is returned even when there are
   * problems (the first task of a name and the first writer of a dataset win), so that callers
   * can report them all together with other errors.
   */
  static analyse<T extends GraphTask>(taskList: readonly T[], locate?: EdgeLocator<T>): { graph: TaskGraph; errors: DuckorchError[] } {
    const errors: DuckorchError[] = [];
    const tasks = new Map<string, T>();
    const at = (t: GraphTask, key?: string) => ({ location: { file: t.file, line: 1, col: 1, ...(key ? t.keyLocations?.[key] : {}) } });
    for (const t of taskList) {
      const other = tasks.get(t.name);
      if (other) {
        errors.push(
          new DuckorchError('DUPLICATE_TASK', `task \`${t.name}\` is defined twice: in ${other.file} and in ${t.file}`, {
            ...at(t, 'task'),
            hint: 'task names must be unique; rename one with `-- @task name=<other_name>`',
          }),
        );
        continue;
      }
      tasks.set(t.name, t);
    }
    const producers = new Map<string, string>();
    for (const t of tasks.values()) {
      for (const out of t.outputs) {
        const other = producers.get(out);
        if (other && other !== t.name) {
          errors.push(
            new DuckorchError(
              'DUPLICATE_OUTPUT',
              `\`${out}\` is written by two tasks: ${other} (${tasks.get(other)!.file}) and ${t.name} (${t.file})`,
              {
                ...at(t, 'outputs'),
                hint: 'each table must have one producing task: merge the two, or declare `-- @outputs` on one of them to name what it really produces',
              },
            ),
          );
          continue;
        }
        producers.set(out, t.name);
      }
    }
    const up = new Map<string, Set<string>>();
    for (const name of tasks.keys()) up.set(name, new Set());
    const addEdge = (upstream: string, downstream: string) => {
      if (upstream !== downstream) up.get(downstream)!.add(upstream);
    };
    let producedFiles: string[] | undefined;
    const globMatches = new Map<string, Map<string, string[]>>();
    for (const t of tasks.values()) {
      for (const input of t.inputs) {
        const producer = producers.get(input);
        if (producer) addEdge(producer, t.name);
        // `read_parquet('out/*.parquet')` depends on the tasks writing files the glob matches.
        if (isFileGlob(input)) {
          const matches = picomatch(input.slice(FILE_PREFIX.length));
          producedFiles ??= [...producers.keys()].filter(isFileDataset);
          for (const file of producedFiles) {
            if (!matches(file.slice(FILE_PREFIX.length)) || file === input) continue;
            addEdge(producers.get(file)!, t.name);
            const byGlob = globMatches.get(t.name) ?? new Map<string, string[]>();
            byGlob.set(input, [...(byGlob.get(input) ?? []), file]);
            globMatches.set(t.name, byGlob);
          }
        }
      }
      for (const dep of t.dependsOn) {
        if (tasks.has(dep)) addEdge(dep, t.name);
        else {
          const hint = didYouMean(dep, [...tasks.keys()]);
          errors.push(
            new DuckorchError('UNKNOWN_NAME', `task \`${t.name}\` depends on unknown task \`${dep}\``, {
              ...at(t, 'depends_on'),
              ...(hint ? { hint } : {}),
            }),
          );
        }
      }
    }
    const graph = new TaskGraph(tasks, producers, up, globMatches);
    const cycle = graph.findCycle();
    if (cycle) errors.push(graph.cycleError(cycle, (name, cause) => locate?.(tasks.get(name)!, cause)));
    return { graph, errors };
  }

  /**
   * Names the tasks of a cycle and, for each edge, where the downstream task reads what the
   * upstream one writes (or names it in `@depends_on`); the error points at the edge that
   * closes the cycle.
   */
  private cycleError(cycle: readonly string[], locate: (task: string, cause: EdgeCause) => SourceLocation | undefined): DuckorchError {
    const edges = cycle.slice(1).map((downstream, k) => {
      const upstream = cycle[k]!;
      const task = this.tasks.get(downstream)!;
      const cause = this.causeOf(upstream, downstream);
      const fallback = { file: task.file, line: 1, col: 1, ...(cause.kind === 'depends_on' ? task.keyLocations?.depends_on : {}) };
      const what =
        cause.kind === 'reads'
          ? `reads ${cause.dataset}, written by ${upstream}`
          : cause.kind === 'glob'
            ? `reads ${cause.glob}, which matches ${cause.file} written by ${upstream}`
            : `names ${upstream} in @depends_on`;
      return { location: locate(downstream, cause) ?? fallback, text: `${downstream} ${what}` };
    });
    const lines = edges.map((e) => `\n  ${formatLocation(e.location)}: ${e.text}`).join('');
    return new DuckorchError('DAG_CYCLE', `the tasks form a cycle: ${cycle.join(' → ')}${lines}`, {
      location: edges.at(-1)!.location,
      hint: 'a task cannot (indirectly) read what it writes; break the cycle by changing what one of these tasks reads',
    });
  }

  /** Why `downstream` depends on `upstream`: the first of its inputs the other writes, a glob match, or `@depends_on`. */
  private causeOf(upstream: string, downstream: string): EdgeCause {
    const task = this.tasks.get(downstream)!;
    const dataset = task.inputs.find((i) => this.producers.get(i) === upstream);
    if (dataset !== undefined) return { kind: 'reads', dataset };
    for (const [glob, files] of this.globMatches.get(downstream) ?? []) {
      const file = files.find((f) => this.producers.get(f) === upstream);
      if (file !== undefined) return { kind: 'glob', glob, file };
    }
    return { kind: 'depends_on' };
  }

  /** The task writing a dataset, matching its name as DuckDB does. */
  producerOf(dataset: string): string | undefined {
    this.producerKeys ??= new Map([...this.producers].map(([d, t]) => [datasetKey(d), t]));
    return this.producerKeys.get(datasetKey(dataset));
  }

  /** What a task reads, with the files other tasks produce that its file globs match. */
  inputsOf(name: string): readonly string[] {
    const t = this.tasks.get(name);
    if (!t) return [];
    const matched = this.globMatches.get(name);
    return matched ? [...new Set([...t.inputs, ...[...matched.values()].flat()])] : t.inputs;
  }

  upstreamOf(name: string): ReadonlySet<string> {
    return this.up.get(name) ?? new Set();
  }

  downstreamOf(name: string): ReadonlySet<string> {
    return this.down.get(name) ?? new Set();
  }

  /** Kahn layers: each layer's tasks depend only on earlier layers. Sorted by name. */
  layers(subset?: ReadonlySet<string>): string[][] {
    const members = subset ?? new Set(this.tasks.keys());
    const indegree = new Map<string, number>();
    for (const n of members) indegree.set(n, [...this.upstreamOf(n)].filter((u) => members.has(u)).length);
    const layers: string[][] = [];
    let current = [...members].filter((n) => indegree.get(n) === 0).sort();
    while (current.length > 0) {
      layers.push(current);
      const next: string[] = [];
      for (const n of current) {
        for (const d of this.downstreamOf(n)) {
          if (!members.has(d)) continue;
          const left = indegree.get(d)! - 1;
          indegree.set(d, left);
          if (left === 0) next.push(d);
        }
      }
      current = next.sort();
    }
    return layers;
  }

  /** Tasks reachable upstream (`direction = 'up'`) or downstream, up to `depth` hops (all when undefined). */
  walk(start: Iterable<string>, direction: 'up' | 'down', depth?: number): Set<string> {
    const out = new Set<string>();
    let frontier = [...start];
    for (let d = 0; frontier.length > 0 && (depth === undefined || d < depth); d++) {
      const next: string[] = [];
      for (const n of frontier) {
        for (const m of direction === 'up' ? this.upstreamOf(n) : this.downstreamOf(n)) {
          if (!out.has(m)) {
            out.add(m);
            next.push(m);
          }
        }
      }
      frontier = next;
    }
    return out;
  }

  /** Whether every task can be ordered after its upstream tasks (Kahn): the common case, settled without sorting. */
  private isAcyclic(): boolean {
    const waiting = new Map<string, number>();
    const ready: string[] = [];
    for (const [name, ups] of this.up) {
      if (ups.size === 0) ready.push(name);
      else waiting.set(name, ups.size);
    }
    let ordered = 0;
    while (ready.length > 0) {
      ordered++;
      for (const d of this.down.get(ready.pop()!)!) {
        const left = waiting.get(d)! - 1;
        waiting.set(d, left);
        if (left === 0) ready.push(d);
      }
    }
    return ordered === this.tasks.size;
  }

  /** One cycle as a closed path (`a → b → a`), or undefined when the graph is acyclic. */
  private findCycle(): string[] | undefined {
    if (this.isAcyclic()) return undefined;
    const state = new Map<string, 'visiting' | 'done'>();
    const stack: string[] = [];
    const visit = (n: string): string[] | undefined => {
      state.set(n, 'visiting');
      stack.push(n);
      for (const d of [...this.downstreamOf(n)].sort()) {
        const s = state.get(d);
        if (s === 'visiting') return [...stack.slice(stack.indexOf(d)), d];
        if (s === undefined) {
          const found = visit(d);
          if (found) return found;
        }
      }
      stack.pop();
      state.set(n, 'done');
      return undefined;
    };
    for (const n of [...this.tasks.keys()].sort()) {
      if (state.has(n)) continue;
      const found = visit(n);
      if (found) return found;
    }
    return undefined;
  }
}
