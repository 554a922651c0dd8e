/**
 * Runs of a DAG by name, as an application enqueues them (`src/client`): bound to the DAG's
 * active snapshot, one job per task with its upstream as the snapshot's graph says — what
 * `duck-orch --dag <name> enqueue` plans, with no selection and no worker settings (a task's
 * attempts are its own `retries` + 1). Planned from the ledger alone: no database file, no code.
 */
import { randomUUID } from 'node:crypto';
import { DuckorchError } from '../errors.js';
import { TaskGraph } from '../model/graph/dag.js';
import { jsonProblem } from '../model/json.js';
import { writesDatabase } from '../model/taskfile/task.js';
import type { JsonValue, Ledger, NewJob, NewRun, RunMetadata, RunRecord } from '../store/ledger.js';
import { unknownDag } from './definitions.js';
import { RUN_ID } from './runs.js';

/** One run to enqueue: its inputs (what root tasks receive), and optionally metadata and an id. */
export interface DagRunRequest {
  inputs: JsonValue;
  metadata?: RunMetadata;
  runId?: string;
}

interface DagPlan {
  snapshotId: string;
  jobs: readonly NewJob[];
}

/** What every enqueue of the client records as the run's trigger (the CLI's `enqueue` too). */
const TRIGGER = 'enqueue';

export class DagRunPlanner {
  /** Plans by snapshot id: a snapshot never changes, so its graph is worked out once. */
  private readonly plans = new Map<string, DagPlan>();

  constructor(private readonly ledger: Ledger) {}

  /** The runs, checked and planned on the DAG's active snapshot now; not yet enqueued. */
  async plan(dag: string, requests: readonly DagRunRequest[]): Promise<NewRun[]> {
    const checked = requests.map((r, i) => checkRequest(r, requests.length === 1 ? '' : `[${i}]`));
    const { snapshotId, jobs } = await this.planOf(dag);
    return checked.map((r) => ({
      id: r.runId ?? randomUUID(),
      snapshotId,
      trigger: TRIGGER,
      selector: null,
      inputs: r.inputs,
      // The same jobs for every run of a snapshot: the ledger gives each its own ids.
      jobs,
      dag,
      ...(r.metadata !== undefined ? { metadata: r.metadata } : {}),
    }));
  }

  /** Plans and enqueues the runs, all or none. */
  async enqueue(dag: string, requests: readonly DagRunRequest[], now: Date): Promise<RunRecord[]> {
    const runs = await this.plan(dag, requests);
    return runs.length === 1 ? [await this.ledger.enqueueRun(runs[0]!, now)] : this.ledger.enqueueRuns(runs, now);
  }

  private async planOf(dag: string): Promise<DagPlan> {
    const [active] = await this.ledger.dagSnapshots({ dag, activeOnly: true });
    if (!active)
      throw unknownDag(
        dag,
        (await this.ledger.dagSnapshots({ activeOnly: true })).map((d) => d.dag),
        'the name of a DAG whose snapshot is active',
      );
    const known = this.plans.get(active.snapshotId);
    if (known) return known;
    const snapshot = await this.ledger.loadSnapshot(active.snapshotId);
    if (!snapshot) throw new DuckorchError('INTERNAL', `the active snapshot ${active.snapshotId} of DAG \`${dag}\` is missing`);
    const definitions = [...snapshot.tasks.values()].map((t) => t.definition);
    const writer = definitions.find((d) => writesDatabase(d));
    if (writer)
      throw new DuckorchError(
        'USAGE',
        `task \`${writer.name}\` of DAG \`${dag}\` writes a database: its runs need the project's database file`,
        {
          hint: 'enqueue it with duck-orch --db <file> enqueue',
        },
      );
    // As `Runs.plan`: jobs in the graph's layers, each with its upstream tasks, sorted.
    const graph = TaskGraph.build(definitions);
    const byName = new Map(definitions.map((d) => [d.name, d]));
    const jobs = graph
      .layers()
      .flat()
      .map((name) => ({ task: name, upstream: [...graph.upstreamOf(name)].sort(), maxAttempts: byName.get(name)!.retries + 1 }));
    const plan = { snapshotId: snapshot.id, jobs };
    this.plans.set(snapshot.id, plan);
    return plan;
  }
}

/** A request's inputs are JSON, its metadata a JSON object, its run id a UUID (kept in lower case). */
function checkRequest(r: DagRunRequest, at: string): DagRunRequest {
  const inputs = r.inputs === undefined ? null : r.inputs;
  const problem = jsonProblem(inputs, `inputs${at}`);
  if (problem) throw new DuckorchError('USAGE', `${problem.path} is ${problem.what}`, { expected: 'inputs that are JSON' });
  if (r.metadata !== undefined) {
    const m: unknown = r.metadata;
    if (m === null || typeof m !== 'object' || Array.isArray(m))
      throw new DuckorchError('USAGE', `metadata${at} must be a JSON object, got ${JSON.stringify(m) ?? String(m)}`, {
        expected: 'e.g. { source: "nightly" }',
      });
    const bad = jsonProblem(m, `metadata${at}`);
    if (bad) throw new DuckorchError('USAGE', `${bad.path} is ${bad.what}`, { expected: 'metadata that is a JSON object' });
  }
  if (r.runId !== undefined && (typeof r.runId !== 'string' || !RUN_ID.test(r.runId)))
    throw new DuckorchError('USAGE', `runId${at} must be a UUID, got \`${String(r.runId)}\``, {
      expected: 'a UUID such as 2f1c9a4e-8b7d-4c3e-9f10-5a6b7c8d9e0f',
    });
  return {
    inputs,
    ...(r.metadata !== undefined ? { metadata: r.metadata } : {}),
    ...(r.runId !== undefined ? { runId: r.runId.toLowerCase() } : {}),
  };
}
