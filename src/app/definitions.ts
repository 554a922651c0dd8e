/**
 * The definitions a command works with: the registry (in the database file), or with `--dag` a
 * TypeScript module's `Dag`, or the active snapshot of a DAG by name (in the ledger, no file
 * needed); selection over them; and the content-addressed snapshots runs are bound to.
 */
import path from 'node:path';
import { DuckorchError, DuckorchErrors } from '../errors.js';
import { TaskGraph } from '../model/graph/dag.js';
import { definitionHash, snapshotId } from '../model/jobs/snapshot.js';
import { compareText } from '../model/names.js';
import { selectTasks, type SelectableTask } from '../model/selection.js';
import { didYouMean } from '../model/suggest.js';
import type { TaskDefinition } from '../model/taskfile/task.js';
import type { DagSnapshot, Snapshot } from '../store/ledger.js';
import type { RegisteredTask } from '../store/store.js';
import { assembleProject } from './assemble.js';
import type { ProjectContext } from './context.js';
import { SnapshotCache } from './snapshot-cache.js';
import { displayPath } from './task-files.js';

export interface Selection {
  select?: readonly string[];
  exclude?: readonly string[];
}

export interface Registry {
  tasks: RegisteredTask[];
  graph: TaskGraph;
}

/** Where `--dag` takes the definitions from. */
export type DagSource =
  | { kind: 'module'; name: string; tasks: RegisteredTask[] }
  | { kind: 'name'; name: string; active: DagSnapshot; snapshot: Snapshot; tasks: RegisteredTask[] };

/** A `--dag` value that can only be a module: a path, an extension or `:export`. */
export function looksLikeModule(spec: string): boolean {
  return /[/\\:]/.test(spec) || /\.(?:[cm]?[jt]s|tsx|jsx)$/i.test(spec);
}

/** The content-addressed snapshot of every definition, with the graph's upstream edges. */
export function snapshotOf(definitions: readonly TaskDefinition[], graph: TaskGraph, now: Date): Snapshot {
  const tasks = new Map(
    definitions.map((d) => [d.name, { definition: d, hash: definitionHash(d), upstream: [...graph.upstreamOf(d.name)].sort() }]),
  );
  return { id: snapshotId([...tasks].map(([name, t]) => ({ name, hash: t.hash, upstream: t.upstream }))), createdAt: now, tasks };
}

export function describeSelection(s: Selection): string | null {
  const parts = [
    ...(s.select?.length ? [`--select ${s.select.join(' ')}`] : []),
    ...(s.exclude?.length ? [`--exclude ${s.exclude.join(' ')}`] : []),
  ];
  return parts.length ? parts.join(' ') : null;
}

export function unknownName(what: string, name: string, candidates: readonly string[]): DuckorchError {
  const hint = didYouMean(name, candidates);
  return new DuckorchError('UNKNOWN_NAME', `unknown ${what} \`${name}\``, hint ? { hint } : {});
}

/** A DAG name that no active snapshot has: the closest name, or the DAGs there are. */
export function unknownDag(
  spec: string,
  activeDags: readonly string[],
  expected = 'the name of a DAG whose snapshot is active, or path/module.ts:export',
): DuckorchError {
  const names = [...activeDags].sort(compareText);
  return new DuckorchError('UNKNOWN_NAME', `unknown DAG \`${spec}\`: no DAG of that name has an active snapshot`, {
    expected,
    hint:
      didYouMean(spec, names) ??
      (names.length > 0
        ? `DAGs with an active snapshot: ${names.map((n) => `\`${n}\``).join(', ')}`
        : 'activate one first: duck-orch snapshot --activate --dag path/module.ts:export'),
  });
}

export class Definitions {
  /** Snapshots this project saved or loaded; a worker reads only the tasks it runs. */
  readonly snapshots: SnapshotCache;
  private registryMemo: Promise<Registry> | undefined;
  private readonly registrySnapshots = new WeakMap<readonly RegisteredTask[], Snapshot>();
  private readonly savedSnapshots = new Set<string>();
  private readonly selectables = new WeakMap<readonly RegisteredTask[], SelectableTask[]>();
  private dagSourcePromise: Promise<DagSource> | undefined;

  constructor(private readonly ctx: ProjectContext) {
    this.snapshots = new SnapshotCache(() => ctx.ledger());
  }

  /** The `--dag` of this project, if any. */
  get dag(): string | undefined {
    return this.ctx.options.dag;
  }

  async registry(): Promise<Registry> {
    // A process that may write holds the database's only write lock: the registry changes only
    // through its own `register`, so it is read once (an enqueue no longer costs O(registry)).
    // A DAG's definitions do not change under a process either.
    if (this.ctx.options.access === 'read' && this.dag === undefined) return this.readRegistry();
    return (this.registryMemo ??= this.readRegistry().catch((err: unknown) => {
      this.registryMemo = undefined;
      throw err;
    }));
  }

  /** The registry changed (this process registered): read it again when next asked. */
  forgetRegistry(): void {
    this.registryMemo = undefined;
  }

  private async readRegistry(): Promise<Registry> {
    const tasks = this.dag !== undefined ? (await this.dagSource()).tasks : await (await this.ctx.database()).store.loadRegistry();
    return { tasks, graph: TaskGraph.build(tasks.map((t) => t.definition)) };
  }

  async requireRegistry(): Promise<Registry> {
    const reg = await this.registry();
    if (reg.tasks.length === 0) {
      throw new DuckorchError('UNKNOWN_NAME', `no tasks are registered in ${this.ctx.dbFile}`, {
        hint: 'register a folder of .sql task files first: duck-orch register <dir>',
      });
    }
    return reg;
  }

  /** The snapshot of the registry as read, saved in the ledger once per process. */
  async registrySnapshot(reg: Registry): Promise<Snapshot> {
    let snapshot = this.registrySnapshots.get(reg.tasks);
    if (!snapshot) {
      snapshot = snapshotOf(
        reg.tasks.map((t) => t.definition),
        reg.graph,
        this.ctx.clock(),
      );
      this.registrySnapshots.set(reg.tasks, snapshot);
    }
    if (!this.savedSnapshots.has(snapshot.id)) {
      await (await this.ctx.ledger()).saveSnapshot(snapshot);
      this.savedSnapshots.add(snapshot.id);
      this.snapshots.add(snapshot);
    }
    return snapshot;
  }

  /** Where `--dag` takes its tasks from: a module (loaded now), or the active snapshot of a DAG name. */
  dagSource(): Promise<DagSource> {
    const spec = this.dag;
    if (spec === undefined) throw new DuckorchError('INTERNAL', 'no --dag');
    this.dagSourcePromise ??= this.resolveDag(spec);
    return this.dagSourcePromise;
  }

  private async resolveDag(spec: string): Promise<DagSource> {
    const asTasks = (definitions: readonly TaskDefinition[]): RegisteredTask[] =>
      definitions.map((definition) => ({
        definition,
        filePath: definition.function?.module ?? definition.file,
        sourceRoot: path.dirname(definition.function?.module ?? definition.file),
        registeredAt: this.ctx.clock(),
        fileHash: null,
        warnings: [],
      }));
    if (!looksLikeModule(spec)) {
      const ledger = await this.ctx.ledger();
      const [active] = await ledger.dagSnapshots({ dag: spec, activeOnly: true });
      if (active) {
        const snapshot = await ledger.loadSnapshot(active.snapshotId);
        if (!snapshot) throw new DuckorchError('INTERNAL', `the active snapshot ${active.snapshotId} of DAG \`${spec}\` is missing`);
        this.snapshots.add(snapshot);
        return { kind: 'name', name: spec, active, snapshot, tasks: asTasks([...snapshot.tasks.values()].map((t) => t.definition)) };
      }
      const { moduleExists } = await import('./task-modules.js');
      if (!moduleExists(spec, process.cwd()))
        throw unknownDag(
          spec,
          (await ledger.dagSnapshots({ activeOnly: true })).map((d) => d.dag),
        );
    }
    const definitions = await this.moduleDefinitions(spec);
    const name = definitions[0]?.function?.dag;
    if (name === undefined || name === null) throw new DuckorchError('DAG_DEFINITION', `the Dag of --dag ${spec} has no tasks`);
    return { kind: 'module', name, tasks: asTasks(definitions) };
  }

  /** A Dag module's definitions, checked as a project is (unknown `requires`, cycles). */
  async moduleDefinitions(spec: string): Promise<TaskDefinition[]> {
    const { loadDagSpec } = await import('./task-modules.js');
    const { definitions, errors } = assembleProject(await loadDagSpec(spec, process.cwd()));
    if (errors.length > 0) throw new DuckorchErrors(errors);
    return definitions;
  }

  /** The names of the current definitions (the registry's, or `--dag`'s). */
  async taskNames(): Promise<string[]> {
    return this.dag !== undefined
      ? (await this.dagSource()).tasks.map((t) => t.definition.name)
      : (await this.ctx.database()).store.registeredTaskNames();
  }

  private readonly nameSets = new WeakMap<readonly RegisteredTask[], ReadonlySet<string>>();

  /** The names of the current definitions as a set, once per registry read (a worker asks at every job). */
  async currentNames(): Promise<ReadonlySet<string>> {
    const { tasks } = await this.registry();
    let names = this.nameSets.get(tasks);
    if (!names) this.nameSets.set(tasks, (names = new Set(tasks.map((t) => t.definition.name))));
    return names;
  }

  /** With `--dag`, history reads keep to its runs and tasks (Orchex's ops were schema-wide). */
  async scope(): Promise<{ tasks?: string[]; dag?: string }> {
    if (this.dag === undefined) return {};
    const source = await this.dagSource();
    return { tasks: source.tasks.map((t) => t.definition.name), dag: source.name };
  }

  /** The attempts a job of `def` gets when enqueued: its own `retries` + 1, else `orch_max_attempts` when set. */
  maxAttempts(def: TaskDefinition): number {
    const own = def.keyLocations.retries !== undefined;
    return own || this.ctx.config.orch_max_attempts === undefined ? def.retries + 1 : this.ctx.config.orch_max_attempts;
  }

  /**
   * Task names matching a selection, in topological order. A selection that is valid but selects
   * nothing (an empty intersection, everything excluded) is not an error: it comes with a warning.
   */
  async select(selection: Selection): Promise<Registry & { selected: string[]; warnings: string[] }> {
    const { tasks, graph } = await this.requireRegistry();
    const { selected, warnings } = selectTasks(graph, this.selectable(tasks), selection.select, selection.exclude);
    if (selected.size === 0) warnings.push(`nothing was selected by ${describeSelection(selection) ?? 'the selection'}`);
    return { tasks, graph, selected: graph.layers(selected).flat(), warnings };
  }

  /** What selectors match tasks by, once per registry read. */
  private selectable(tasks: readonly RegisteredTask[]): SelectableTask[] {
    const known = this.selectables.get(tasks);
    if (known) return known;
    const selectable: SelectableTask[] = tasks.map((t) => ({
      name: t.definition.name,
      file: displayPath(t.filePath),
      absolutePath: t.filePath.split(path.sep).join('/'),
      tags: [...t.definition.tags, ...(t.definition.asset?.tags ?? [])],
      group: t.definition.asset?.group ?? null,
      produces: [...new Set([...t.definition.outputs, ...(t.definition.asset ? [t.definition.asset.name] : [])])],
    }));
    this.selectables.set(tasks, selectable);
    return selectable;
  }
}
