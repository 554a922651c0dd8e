/** Looking at the definitions: the task list, the Mermaid graph coloured by state, lineage walks, and `@test`s against the data. */
import { walkLineage, type LineageHop } from '../model/graph/lineage.js';
import { renderMermaid, type GraphMode } from '../model/graph/mermaid.js';
import { datasetKey, parseDatasetName } from '../model/names.js';
import { runTests, type TestOutcome } from '../runtime/test-runner.js';
import type { ProjectContext } from './context.js';
import { unknownName, type Definitions, type Selection } from './definitions.js';

export interface TaskListing {
  name: string;
  file: string;
  inputs: string[];
  outputs: string[];
  upstream: string[];
  downstream: string[];
  tags: string[];
  retries: number;
  timeout_seconds: number | null;
}

export class Views {
  constructor(
    private readonly ctx: ProjectContext,
    private readonly definitions: Definitions,
  ) {}

  /** The selected tasks in run order, each with what it reads, writes and is linked to. */
  async list(selection: Selection): Promise<{ tasks: TaskListing[]; warnings: string[] }> {
    const { tasks, graph, selected, warnings } = await this.definitions.select(selection);
    const byName = new Map(tasks.map((t) => [t.definition.name, t.definition]));
    const listing = selected.map((name) => {
      const t = byName.get(name)!;
      return {
        name,
        file: t.file,
        inputs: t.inputs,
        outputs: t.outputs,
        upstream: [...graph.upstreamOf(name)].sort(),
        downstream: [...graph.downstreamOf(name)].sort(),
        tags: t.tags,
        retries: t.retries,
        timeout_seconds: t.timeoutSeconds,
      };
    });
    return { tasks: listing, warnings };
  }

  async graph(mode: GraphMode, selection: Selection & { statuses?: boolean } = {}): Promise<{ mermaid: string; warnings: string[] }> {
    const { graph, selected, warnings } = await this.definitions.select(selection);
    let statuses: Map<string, string> | undefined;
    if (selection.statuses !== false) {
      const ledger = await this.ctx.ledger();
      statuses = new Map((await ledger.taskStates()).map((t) => [t.name, t.status as string]));
      // What runs right now shows as running, over its last finished state.
      for (const j of await ledger.listJobs({ states: ['processing'], limit: 100_000 })) statuses.set(j.task, j.state);
    }
    return { mermaid: renderMermaid(graph, { mode, tasks: new Set(selected), ...(statuses ? { statuses } : {}) }), warnings };
  }

  /** Downstream (`impact`) or upstream (`lineage`) datasets of a table, with the task that links each hop. */
  async walk(table: string, direction: 'up' | 'down'): Promise<{ table: string; hops: LineageHop[] }> {
    const { tasks } = await this.definitions.requireRegistry();
    const known = new Map(tasks.flatMap((t) => [...t.definition.inputs, ...t.definition.outputs].map((n) => [datasetKey(n), n])));
    const parsed = parseDatasetName(table);
    const name = parsed === undefined ? undefined : known.get(datasetKey(parsed));
    if (name === undefined) throw unknownName('table', table, [...known.values()]);
    return { table: name, hops: walkLineage(await (await this.ctx.database()).store.loadLineageEdges(), name, direction) };
  }

  /** Runs the selected tasks' `@test`s against the current data; a writer records the results. */
  async test(selection: Selection = {}): Promise<{ outcomes: TestOutcome[]; warnings: string[] }> {
    const { tasks, selected, warnings } = await this.definitions.select(selection);
    const chosen = new Set(selected);
    const defs = tasks.map((t) => t.definition).filter((t) => chosen.has(t.name));
    // Nothing to check against the data (a DAG's tasks have no @test): the file is not opened, nor created.
    if (defs.every((d) => d.tests.length === 0)) return { outcomes: [], warnings };
    const { instance, store } = await this.ctx.database();
    const outcomes = await runTests(instance, defs);
    const at = this.ctx.clock();
    if (this.ctx.options.access !== 'read') {
      await store.recordTestResults(
        outcomes.map((o) => ({
          taskName: o.task,
          testIndex: o.index,
          pipelineRunId: null,
          executedAt: at,
          status: o.status,
          actual: o.actual,
          message: o.message,
        })),
      );
    }
    return { outcomes, warnings };
  }
}
