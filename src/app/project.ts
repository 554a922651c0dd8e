/**
 * The application service every interface calls: one object per project, with one method per
 * user-facing operation, each delegated to the room of its capability — definitions and
 * selection (`definitions.ts`), registration (`registration.ts`), runs (`runs.ts`), working
 * jobs (`working.ts`), history (`history.ts`), views and tests (`views.ts`). It holds no rules of
 * its own beyond that wiring. The project's DuckDB file is opened when something needs it
 * (`context.ts`): with the ledger in PostgreSQL, commands about runs and jobs never open it.
 */
import { Automation, type Simulation } from './automation.js';
import type { AutomationState } from '../model/automation/evaluate.js';
import type { DuckDBInstance } from '@duckdb/node-api';
import type { Config } from '../config/config.js';
import { DuckorchError } from '../errors.js';
import { TaskGraph } from '../model/graph/dag.js';
import type { GraphMode } from '../model/graph/mermaid.js';
import type { LineageHop } from '../model/graph/lineage.js';
import type { JobState } from '../model/jobs/job-state.js';
import type { TestOutcome } from '../runtime/test-runner.js';
import type { DagSnapshot, JobRecord, Ledger, RequeuedJob, RunRecord, TaskFailures } from '../store/ledger.js';
import type { DuckDbStore } from '../store/duckdb/duckdb-store.js';
import { Assets, type AssetQueries } from './assets.js';
import { Plans, type PlannedAsset } from './plans.js';
import { Backfills, type BackfillOptions, type BackfillResult } from './backfills.js';
import { ProjectContext, type ProjectOptions } from './context.js';
import { Definitions, looksLikeModule, snapshotOf, type Registry, type Selection } from './definitions.js';
import { History, type StatusResult } from './history.js';
import type { RegisterOptions, RegisterResult } from './registration.js';
import { Runs, type EnqueueOptions, type RequeueFilter, type RunOptions, type RunResult } from './runs.js';
import { openSharedLedger } from './shared-ledger.js';
import { Views, type TaskListing } from './views.js';
import { Working, type WorkOptions } from './working.js';

export type { AssetHealth, AssetQueries, AssetView, Freshness, PartitionsView } from './assets.js';
export type { BackfillOptions, BackfillResult } from './backfills.js';
export type { PlannedAsset } from './plans.js';
export type { ProjectOptions } from './context.js';
export type { Selection } from './definitions.js';
export { unknownName } from './definitions.js';
export type { StatusResult } from './history.js';
export type { RegisterOptions, RegisterResult, Validation } from './registration.js';
export type { EnqueueOptions, RequeueFilter, RunOptions, RunResult } from './runs.js';
export { initSharedLedger, openSharedLedger, type InitResult } from './shared-ledger.js';
export type { TaskListing } from './views.js';
export { runFunctionJob, type WorkOptions } from './working.js';

export class Project {
  private readonly definitions: Definitions;
  private readonly runs: Runs;
  private readonly working: Working;
  private readonly history: History;
  private readonly views: Views;
  private readonly backfills: Backfills;
  private readonly assets: Assets;
  private readonly plans: Plans;
  private readonly automation: Automation;

  private constructor(private readonly ctx: ProjectContext) {
    this.definitions = new Definitions(ctx);
    this.working = new Working(ctx, this.definitions);
    this.runs = new Runs(ctx, this.definitions, this.working);
    this.history = new History(ctx, this.definitions, this.runs);
    this.views = new Views(ctx, this.definitions);
    this.backfills = new Backfills(ctx, this.definitions, this.runs);
    this.assets = new Assets(ctx, this.definitions);
    this.plans = new Plans(ctx, this.definitions, this.runs);
    this.automation = new Automation(ctx, this.definitions, this.assets);
  }

  /**
   * Opens the project: the PostgreSQL ledger when configured (first: an uninitialised one says to
   * run init-db, whatever the database file), else the database file, which holds the ledger (one
   * writer at a time; opening it to write also recovers what a process that died left behind).
   */
  static async open(options: ProjectOptions): Promise<Project> {
    const shared = options.sharedLedger
      ? { ledger: options.sharedLedger, close: async () => undefined }
      : options.config.orch_store === 'postgres'
        ? await openSharedLedger(options.config, options.ledgerSchema ?? 'require')
        : undefined;
    const ctx = new ProjectContext(options, shared);
    if (!shared) {
      try {
        await ctx.database();
      } catch (err) {
        await ctx.close();
        throw err;
      }
    }
    return new Project(ctx);
  }

  async close(): Promise<void> {
    await this.ctx.close();
  }

  /** The settings this project was opened with. */
  get config(): Config {
    return this.ctx.config;
  }

  get dbFile(): string {
    return this.ctx.dbFile;
  }

  /** The ledger (PostgreSQL's, or the database file's). */
  ledger(): Promise<Ledger> {
    return this.ctx.ledger();
  }

  /** The database file, opened if it was not. */
  database(): Promise<{ instance: DuckDBInstance; store: DuckDbStore }> {
    return this.ctx.database();
  }

  /** The same project answering as if opened with another `--dag` (a holder answering another process's question). */
  withDag(dag: string | undefined): Project {
    if (dag === this.ctx.options.dag) return this;
    const options = { ...this.ctx.options };
    delete options.dag;
    return new Project(this.ctx.sharing({ ...options, ...(dag !== undefined ? { dag } : {}) }));
  }

  async register(dir: string, options: RegisterOptions = {}): Promise<RegisterResult> {
    // Loaded when used: the SQL analysis it needs costs commands that register nothing.
    const { register } = await import('./registration.js');
    return register(this.ctx, this.definitions, dir, options);
  }

  registry(): Promise<Registry> {
    return this.definitions.registry();
  }

  select(selection: Selection) {
    return this.definitions.select(selection);
  }

  list(selection: Selection): Promise<{ tasks: TaskListing[]; warnings: string[] }> {
    return this.views.list(selection);
  }

  graph(mode: GraphMode, selection: Selection & { statuses?: boolean } = {}): Promise<{ mermaid: string; warnings: string[] }> {
    return this.views.graph(mode, selection);
  }

  walk(table: string, direction: 'up' | 'down'): Promise<{ table: string; hops: LineageHop[] }> {
    return this.views.walk(table, direction);
  }

  test(selection: Selection = {}): Promise<{ outcomes: TestOutcome[]; warnings: string[] }> {
    return this.views.test(selection);
  }

  run(options: RunOptions = {}): Promise<RunResult> {
    return this.runs.run(options);
  }

  /** The asset view: listings, one asset, its materialisations and partitions, health. */
  asset<K extends keyof AssetQueries>(query: K, ...args: Parameters<AssetQueries[K]>): ReturnType<AssetQueries[K]> {
    return (this.assets[query] as (...a: Parameters<AssetQueries[K]>) => ReturnType<AssetQueries[K]>).apply(this.assets, args);
  }

  /** An asset's `@automation` condition evaluated now (or `at`), against the ledger or a given state; nothing enqueued. */
  simulate(asset: string, options: { at?: Date; state?: AutomationState } = {}): Promise<Simulation> {
    return this.automation.simulate(asset, options);
  }

  /** Every asset with an `@automation` condition, evaluated now (nothing recorded or enqueued). */
  automationStatus(): Promise<Simulation[]> {
    return this.automation.status();
  }

  /** What is stale and why (of the selected tasks' assets), without running anything. */
  plan(selection: Selection = {}): Promise<{ assets: PlannedAsset[]; warnings: string[] }> {
    return this.plans.plan(selection);
  }

  /** Runs exactly what `plan` lists. */
  runStale(options: Omit<RunOptions, 'partition'> = {}): Promise<RunResult> {
    return this.plans.runStale(options);
  }

  /** A run of partitions of assets (a range, keys, or what is missing), worked here unless only enqueued. */
  backfill(options: BackfillOptions): Promise<BackfillResult> {
    return this.backfills.backfill(options);
  }

  /** Builds a range of an asset again: an interval task forgets and reprocesses it; a partitioned asset's partitions are rebuilt. */
  restate(options: BackfillOptions & { from: string; to: string }): Promise<BackfillResult> {
    return this.backfills.restate(options);
  }

  enqueue(options: EnqueueOptions = {}): Promise<{ run: RunRecord | null; warnings: string[] }> {
    return this.runs.enqueue(options);
  }

  retryFailed(options: Omit<RunOptions, keyof Selection> & { runId?: string } = {}): Promise<RunResult & { retried: number }> {
    return this.runs.retryFailed(options);
  }

  /** Requeues dead jobs across runs (Orchex's `retry-dead`); a worker then works them. */
  retryDead(filter: RequeueFilter = {}): Promise<RequeuedJob[]> {
    return this.runs.requeue('dead', filter);
  }

  /** Requeues failed jobs (waiting for their retry) across runs at once, attempts reset (Orchex's `retry-failed`). */
  retryFailedJobs(filter: RequeueFilter = {}): Promise<RequeuedJob[]> {
    return this.runs.requeue('failed', filter);
  }

  cancel(runId: string): Promise<{ run: RunRecord; cancelled: number; stopping: number }> {
    return this.runs.cancel(runId);
  }

  resolveRun(idOrPrefix: string): Promise<RunRecord> {
    return this.runs.resolveRun(idOrPrefix);
  }

  /** A run asked for by another process while this one holds the database (see `remote/socket.ts`). */
  runForOther(options: Omit<RunOptions, 'signal' | 'onEvent' | 'onPlan'>, workHere: boolean): Promise<RunResult> {
    return this.runs.runForOther(options, workHere);
  }

  work(options: WorkOptions): Promise<void> {
    return this.working.work(options);
  }

  status(options: { limit: number; task?: string }): Promise<StatusResult> {
    return this.history.status(options);
  }

  queueDepth(runId?: string): Promise<Partial<Record<JobState, number>>> {
    return this.history.queueDepth(runId);
  }

  failures(withinSeconds: number, limit: number): Promise<TaskFailures[]> {
    return this.history.failures(withinSeconds, limit);
  }

  staleLeases(): Promise<JobRecord[]> {
    return this.history.staleLeases();
  }

  /**
   * Takes a snapshot of `--dag`'s code (a module, or the module a DAG name's active snapshot
   * came from) and records it for the DAG; with `activate`, makes it what `--dag <name>` means.
   */
  async snapshot(options: { activate: boolean }): Promise<DagSnapshot & { recorded: boolean; activated: boolean }> {
    if (this.definitions.dag === undefined)
      throw new DuckorchError('USAGE', 'snapshot needs the DAG to take: --dag path/module.ts:export (or $DUCKORCH_DAG)', {
        hint: 'e.g. duck-orch snapshot --activate --dag dags/etl.ts:etl',
      });
    const source = await this.definitions.dagSource();
    // By name: the DAG's code as it is now where its active snapshot was taken from.
    const taken =
      source.kind === 'name'
        ? await this.definitions.moduleDefinitions(`${source.active.module}:${source.active.exportName}`)
        : source.tasks.map((t) => t.definition);
    // The module by its absolute path, so that the same code gives the same snapshot from any folder.
    const defs = taken.map((d) => ({ ...d, file: d.function?.module ?? d.file }));
    const first = defs[0]!.function!;
    const name = first.dag ?? source.name;
    const now = this.ctx.clock();
    const snapshot = snapshotOf(defs, TaskGraph.build(defs), now);
    const ledger = await this.ctx.ledger();
    await ledger.saveSnapshot(snapshot);
    const { recorded, activated } = await ledger.recordDagSnapshot(
      { dag: name, snapshotId: snapshot.id, module: first.module, exportName: first.exportName },
      options.activate,
      now,
    );
    const entry = (await ledger.dagSnapshots({ dag: name })).find((d) => d.snapshotId === snapshot.id)!;
    return { ...entry, recorded, activated };
  }

  /** The snapshots taken of DAGs (of `--dag`'s DAG only, when given), newest first. */
  async dagSnapshots(): Promise<DagSnapshot[]> {
    const ledger = await this.ctx.ledger();
    const spec = this.definitions.dag;
    if (spec === undefined) return ledger.dagSnapshots();
    // A name whose DAG has snapshots but none active is still a name to list.
    if (!looksLikeModule(spec)) {
      const all = await ledger.dagSnapshots({ dag: spec });
      if (all.length > 0) return all;
    }
    return ledger.dagSnapshots({ dag: (await this.definitions.dagSource()).name });
  }
}
