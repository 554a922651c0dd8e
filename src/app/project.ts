/**
 * The application service every interface calls: one object per open project database, with
 * one method per user-facing operation. It wires model, sql, store and runtime together and
 * holds no business rules of its own beyond that wiring.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { DuckDBInstance } from '@duckdb/node-api';
import type { Config } from '../config/config.js';
import { DuckorchError, DuckorchErrors } from '../errors.js';
import { deriveAssets } from '../model/assets.js';
import { TaskGraph } from '../model/graph/dag.js';
import { walkLineage, type LineageHop } from '../model/graph/lineage.js';
import { renderMermaid, type GraphMode } from '../model/graph/mermaid.js';
import { compareText, datasetKey, isFileDataset, parseDatasetName, quoteIdentifier, schemaOf } from '../model/names.js';
import { selectTasks, type SelectableTask } from '../model/selection.js';
import { didYouMean } from '../model/suggest.js';
import { codeVersion } from '../model/taskfile/code-version.js';
import { splitHeaderBlock } from '../model/taskfile/header-block.js';
import { writesDatabase, type TaskDefinition } from '../model/taskfile/task.js';
import type { FunctionRunner, RunEvent } from '../runtime/worker.js';
import { runTests, type TestOutcome } from '../runtime/test-runner.js';
import { definitionHash, snapshotId } from '../model/jobs/snapshot.js';
import { shortSnapshotId } from '../model/jobs/short-snapshot-id.js';
import { SqlAnalyzer } from '../sql/analyzer.js';
import { DuckDbSqlParser } from '../sql/duckdb-parser.js';
import { openDuckDb, type AccessMode } from '../store/duckdb/database.js';
import { DuckDbStore } from '../store/duckdb/duckdb-store.js';
import type { RegisteredTask, RegistrySnapshot, Store } from '../store/store.js';
import type { JobState } from '../model/jobs/job-state.js';
import {
  DEFAULT_PARTITION,
  type AttemptRecord,
  type JobRecord,
  type Ledger,
  type ClaimedJob,
  type JsonValue,
  type RunRecord,
  type RunMetadata,
  type DagSnapshot,
  type Snapshot,
  type TaskFailures,
  duplicateRun,
} from '../store/ledger.js';
import { existingRelations } from '../runtime/catalog.js';
import { assembleProject } from './assemble.js';
import { SnapshotCache } from './snapshot-cache.js';
import { registryChange } from './registry-change.js';
import { ANALYSIS_VERSION, discoverTaskFiles, displayPath, isTaskModuleFile, loadTaskFiles, type LoadedTaskFile } from './task-files.js';
import { loadTaskModuleFiles } from './task-modules.js';

export interface ProjectOptions {
  config: Config;
  access: AccessMode;
  /**
   * `path/module.ts:export`: the definitions come from this module's `Dag` instead of the
   * registry (no `register` needed), and history reads keep to its runs. Or the name of a DAG
   * whose snapshot is active (`snapshot --activate`): the definitions of that snapshot.
   */
  dag?: string;
  /**
   * With the ledger in PostgreSQL: `migrate` creates or migrates its schema (what `register`,
   * `run` and `init-db` do); `require` (the default) fails unless `init-db` did.
   */
  ledgerSchema?: 'migrate' | 'require';
  clock?: () => Date;
  random?: () => number;
  /**
   * The shared ledger, already open (a worker that opens the DuckDB file only while it holds the
   * database's lease keeps one ledger connection for its whole life); not closed with the project.
   */
  sharedLedger?: Ledger;
}

export interface Selection {
  select?: readonly string[];
  exclude?: readonly string[];
}

export interface RegisterResult {
  root: string;
  files: number;
  tasks: Array<{ name: string; file: string; change: 'added' | 'changed' | 'unchanged' }>;
  removed: string[];
  /** Tables and views of removed tasks that are still in the database. */
  leftBehind: Array<{ task: string; table: string }>;
  warnings: DuckorchError[];
}

export interface RunResult {
  /** Null when the selection was empty: nothing ran and no run was recorded. */
  run: RunRecord | null;
  /** The run's jobs, in the selection's order. */
  jobs: JobRecord[];
  warnings: string[];
}

export interface WorkOptions {
  concurrency?: number;
  workerId?: string;
  /** Cancels in-flight jobs (they end `cancelled`). */
  signal?: AbortSignal;
  /** A polite stop: no new claims; in-flight jobs get `graceMs` to finish, then go back to the queue. */
  shutdown?: AbortSignal;
  graceMs?: number;
  /** Return once no job is in flight or waiting to run. */
  untilIdle?: boolean;
  /** How often an idle worker looks for work when nothing wakes it (the ledger's notifications do). */
  pollMs?: number;
  onEvent?: (event: RunEvent) => void;
  /** Worker log lines not about one job: the ledger's connection lost and back. */
  onNotice?: (message: string) => void;
}

export interface RequeueFilter {
  task?: string;
  /** Only jobs that ended in this last while, or (`since`) at or after this time. */
  withinSeconds?: number;
  since?: Date;
  minAttempts?: number;
}

export interface StatusResult {
  /** The latest jobs, newest first. */
  jobs: JobRecord[];
  /** The failed attempts of those jobs (also of jobs that finally succeeded), by job id. */
  failedAttempts: Map<string, AttemptRecord[]>;
  runs: RunRecord[];
  removedTasks: string[];
}

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

export interface RunOptions extends Selection {
  maxParallel?: number;
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
  /** Called once the selection is known, before the first task starts. */
  onPlan?: (tasks: readonly string[]) => void;
  /** `--full-refresh`: incremental tasks start from the beginning instead of their recorded watermark. */
  fullRefresh?: boolean;
}

/** The PostgreSQL ledger named by the config, connected; its schema migrated, or checked to be. */
export async function openSharedLedger(
  config: Config,
  schema: 'migrate' | 'require' = 'require',
): Promise<{ ledger: Ledger; close: () => Promise<void> }> {
  const { ledger, pool, where } = await connectSharedLedger(config);
  try {
    if (schema === 'migrate') await ledger.migrate();
    else await ledger.requireSchema(where);
    return { ledger, close: () => pool.end() };
  } catch (err) {
    await pool.end();
    throw err;
  }
}

/** A pool on the configured PostgreSQL with its settings (pool sizes, statement timeout), and the ledger on it. */
async function connectSharedLedger(config: Config) {
  const [{ connectPg, parsePgUrl }, { PgLedger }] = await Promise.all([
    import('../store/postgres/connect.js'),
    import('../store/postgres/pg-ledger.js'),
  ]);
  const pool = await connectPg(config.orch_database_url, {
    poolMax: config.orch_pg_pool_max,
    poolMin: config.orch_pg_pool_min,
    statementTimeoutMs: config.orch_statement_timeout_ms,
  });
  const u = parsePgUrl(config.orch_database_url);
  const where = `PostgreSQL ${u.hostname || 'localhost'}:${u.port || '5432'}/${decodeURIComponent(u.pathname.replace(/^\//, ''))}`;
  // For the tests of crash recovery only: this process dies between a task's data commit and its completion.
  const crashAfter = process.env.DUCKORCH_TEST_CRASH_AFTER_DATA_COMMIT;
  const ledger = new PgLedger(pool, {
    schema: config.orch_pg_schema,
    ...(config.orch_statement_timeout_ms > 0 ? { statementTimeoutMs: config.orch_statement_timeout_ms } : {}),
    ...(crashAfter
      ? {
          afterDataCommit: (job: ClaimedJob) => {
            if (job.task === crashAfter) process.kill(process.pid, 'SIGKILL');
          },
        }
      : {}),
  });
  return { ledger, pool, where };
}

/** What `init-db` did: the ledger's schema created or migrated (PostgreSQL), or the project database's (DuckDB). */
export interface InitResult {
  store: 'postgres' | 'duckdb';
  /** The schema and server, or the database file. */
  where: string;
  schema: string;
  version: number;
  applied: Array<{ id: number; name: string }>;
}

/** `init-db`: creates or migrates the PostgreSQL ledger's schema; nothing else is touched. */
export async function initSharedLedger(config: Config): Promise<InitResult> {
  const { ledger, pool, where } = await connectSharedLedger(config);
  try {
    const report = await ledger.migrate();
    return { store: 'postgres', where, ...report };
  } finally {
    await pool.end();
  }
}

/** `enqueue --run-id`: a UUID, written in lower case. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Where `--dag` takes the definitions from. */
type DagSource =
  | { kind: 'module'; name: string; tasks: RegisteredTask[] }
  | { kind: 'name'; name: string; active: DagSnapshot; snapshot: Snapshot; tasks: RegisteredTask[] };

/** A `--dag` value that can only be a module: a path, an extension or `:export`. */
function looksLikeModule(spec: string): boolean {
  return /[/\\:]/.test(spec) || /\.(?:[cm]?[jt]s|tsx|jsx)$/i.test(spec);
}

/** Runs one attempt of a TypeScript function task: its module loaded (afresh when it changed), its function called. */
export const runFunctionJob: FunctionRunner = async ({ job, task, inputs, instance, timeoutMs, signal, log, commit }) => {
  const context = {
    runId: job.runId,
    jobId: job.id,
    attempt: job.attempts,
    partitionKey: job.partitionKey === DEFAULT_PARTITION ? null : job.partitionKey,
    runInputs: job.runInputs,
  };
  if (task.function && task.function.dag !== null && task.function.isolation !== 'inline') {
    // A Dag task runs in a thread that its timeout terminates.
    const { runInDagThread } = await import('./dag-threads.js');
    return { result: (await runInDagThread({ task, inputs, context, timeoutMs, signal, log })).result, committed: false };
  }
  const [{ resolveTaskFunction }, { runFunctionAttempt }, { AttemptFailure }] = await Promise.all([
    import('./task-modules.js'),
    import('../runtime/function-task.js'),
    import('../runtime/attempt-failure.js'),
  ]);
  let fn;
  try {
    fn = await resolveTaskFunction(task);
  } catch (err) {
    // The module changed or went away since the run was planned: retrying will not bring it back.
    throw new AttemptFailure('definition', err instanceof Error ? err.message : String(err), {});
  }
  let committed = false;
  const { result } = await runFunctionAttempt({
    task,
    fn,
    inputs,
    context,
    instance,
    timeoutMs,
    signal,
    log,
    commit: async (outcome, tx) => {
      await commit(outcome.result, tx);
      committed = true;
    },
  });
  return { result, committed };
};

/** The content-addressed snapshot of every registered definition, with the graph's upstream edges. */
function snapshotOf(definitions: readonly TaskDefinition[], graph: TaskGraph, now: Date): Snapshot {
  const tasks = new Map(
    definitions.map((d) => [d.name, { definition: d, hash: definitionHash(d), upstream: [...graph.upstreamOf(d.name)].sort() }]),
  );
  return { id: snapshotId([...tasks].map(([name, t]) => ({ name, hash: t.hash, upstream: t.upstream }))), createdAt: now, tasks };
}

export class Project {
  private constructor(
    readonly dbFile: string,
    readonly instance: DuckDBInstance,
    readonly store: Store,
    private readonly options: Required<Pick<ProjectOptions, 'clock' | 'random'>> & ProjectOptions,
  ) {
    this.snapshots = new SnapshotCache(store.ledger);
  }

  /** Snapshots this project saved or loaded; a worker reads only the tasks it runs. */
  private readonly snapshots: SnapshotCache;

  static async open(options: ProjectOptions): Promise<Project> {
    const file = options.config.db;
    // The shared ledger when configured (first: an uninitialised one says to run init-db, whatever
    // the database file); else one writer at a time holds the file, and opening it to write also
    // recovers what a process that died left behind.
    const shared = options.sharedLedger
      ? { ledger: options.sharedLedger, close: async () => undefined }
      : options.config.orch_store === 'postgres'
        ? await openSharedLedger(options.config, options.ledgerSchema ?? 'require')
        : undefined;
    let instance: DuckDBInstance;
    let store: DuckDbStore;
    try {
      instance = await openDuckDb(file, options.access);
    } catch (err) {
      await shared?.close();
      throw err;
    }
    try {
      store = await DuckDbStore.open(instance, options.access, file, (options.clock ?? (() => new Date()))(), shared);
    } catch (err) {
      await shared?.close();
      instance.closeSync();
      throw err;
    }
    const clock = options.clock ?? (() => new Date());
    return new Project(file, instance, store, { ...options, clock, random: options.random ?? Math.random });
  }

  async close(): Promise<void> {
    await this.store.close();
    this.instance.closeSync();
  }

  private async analyzer(): Promise<{ analyzer: SqlAnalyzer; done: () => void }> {
    const conn = await this.instance.connect();
    return { analyzer: new SqlAnalyzer(DuckDbSqlParser.onConnection(conn)), done: () => conn.closeSync() };
  }

  /**
   * Registers every task file under `dir`, replacing what was registered from that folder
   * before. All-or-nothing: any error in any file, or in the graph they form, leaves the registry
   * untouched, and every problem is reported at once. Files unchanged since they were registered
   * keep their definitions without being analysed again.
   */
  async register(dir: string): Promise<RegisterResult> {
    if (this.options.dag !== undefined)
      throw new DuckorchError('USAGE', '--dag names the tasks directly: there is nothing to register', {
        hint: 'leave out --dag to register a folder, or run the other commands with --dag',
      });
    const { files, realPaths, modules, warnings } = await discoverTaskFiles(dir);
    const root = fs.realpathSync(dir);
    const previous = await this.store.loadRegistry();
    const reusable = new Map(
      previous.flatMap((t) =>
        t.fileHash ? [[t.definition.file, { hash: t.fileHash, definition: t.definition, warnings: t.warnings }]] : [],
      ),
    );
    const { analyzer, done } = await this.analyzer();
    let loaded;
    try {
      loaded = await loadTaskFiles(files, analyzer, { previous: reusable });
    } finally {
      done();
    }
    // TypeScript/JavaScript task modules beside the .sql files: evaluated, never reused from the registry.
    const loadedModules = await loadTaskModuleFiles(modules, new Map(previous.map((t) => [t.definition.name, t.definition])));
    for (const f of loaded) warnings.push(...f.warnings);
    warnings.push(...this.schemaCatalogClash([...loaded, ...loadedModules]));

    const isUnder = (p: string) => p === root || p.startsWith(root + path.sep);
    const kept: RegisteredTask[] = [];
    const replaced = new Map<string, RegisteredTask>();
    for (const t of previous) {
      if (t.sourceRoot !== root && !isUnder(t.filePath)) kept.push(t);
      else replaced.set(t.definition.name, t);
    }
    const fresh = [
      ...loaded.flatMap((f, i) => (f.task ? [{ ...f, task: f.task, realPath: realPaths[i]! }] : [])),
      ...loadedModules.flatMap((f) => (f.task ? [{ ...f, task: f.task }] : [])),
    ];
    const { definitions, graph, errors } = assembleProject([...kept.map((t) => t.definition), ...fresh.map((f) => f.task)]);
    errors.unshift(...loaded.flatMap((f) => f.errors), ...loadedModules.flatMap((f) => f.errors));
    if (errors.length > 0) throw new DuckorchErrors(errors);

    const now = this.options.clock();
    const all: RegisteredTask[] = [
      ...kept.map((t, i) => ({ ...t, definition: definitions[i]! })),
      ...fresh.map((f, i): RegisteredTask => {
        const definition = definitions[kept.length + i]!;
        const before = replaced.get(definition.name);
        // An unchanged task keeps the time its definition was first registered.
        const unchanged = before && before.definition === definition && before.filePath === f.realPath;
        return {
          definition,
          filePath: f.realPath,
          sourceRoot: root,
          registeredAt: unchanged ? before.registeredAt : now,
          fileHash: f.hash ?? null,
          warnings: f.warnings,
        };
      }),
    ];
    // Only what changed is written, when the registry it replaces was written by this same analysis.
    const sameAnalysis = previous.length > 0 && previous.every((t) => t.fileHash?.startsWith(`${ANALYSIS_VERSION}:`));
    await this.store.replaceRegistry(registrySnapshot(all, graph), now, sameAnalysis ? registryChange(previous, all) : undefined);
    this.registryMemo = undefined;
    // The snapshot of what is now registered, saved once here rather than by the next run.
    await this.store.ledger.saveSnapshot(
      snapshotOf(
        all.map((t) => t.definition),
        graph,
        now,
      ),
    );
    const freshNames = new Set(fresh.map((f) => f.task.name));
    const removed = [...replaced.values()].filter((t) => !freshNames.has(t.definition.name));
    return {
      root: displayPath(root),
      files: files.length + modules.length,
      tasks: all.slice(kept.length).map((t, i) => {
        const before = replaced.get(t.definition.name);
        const same = before && (fresh[i]!.reused || JSON.stringify(before.definition) === JSON.stringify(t.definition));
        return { name: t.definition.name, file: t.definition.file, change: !before ? 'added' : same ? 'unchanged' : 'changed' };
      }),
      removed: removed.map((t) => t.definition.name).sort(),
      leftBehind: await this.leftBehind(
        removed.map((t) => t.definition),
        graph,
      ),
      warnings,
    };
  }

  /**
   * DuckDB names a database after its file: in `chain.duckdb`, `chain.t` could be the catalog
   * `chain` or the schema `chain`, and DuckDB refuses to guess ("Ambiguous reference to catalog
   * or schema"), so every such task would fail at run time. Said once, at register.
   */
  private schemaCatalogClash(loaded: readonly LoadedTaskFile[]): DuckorchError[] {
    const catalog = path
      .basename(this.dbFile)
      .replace(/\.[^.]*$/, '')
      .toLowerCase();
    for (const f of loaded) {
      for (const name of [...(f.task?.outputs ?? []), ...(f.task?.inputs ?? [])]) {
        const schema = schemaOf(name);
        if (schema?.toLowerCase() !== catalog) continue;
        return [
          new DuckorchError('HEADER_VALUE', `schema \`${schema}\` has the name of the database ${path.basename(this.dbFile)}`, {
            location: { file: f.file, line: f.task!.bodyLine, col: 1 },
            hint: `DuckDB cannot tell whether \`${name}\` is in the schema or the database, and fails the task; rename the database file or the schema`,
          }),
        ];
      }
    }
    return [];
  }

  /** Tables and views that removed tasks wrote, still in the database, and no remaining task writes. */
  private async leftBehind(removed: readonly TaskDefinition[], graph: TaskGraph): Promise<Array<{ task: string; table: string }>> {
    const candidates = removed.flatMap((t) =>
      t.outputs.filter((o) => !isFileDataset(o) && !graph.producerOf(o)).map((table) => ({ task: t.name, table })),
    );
    if (candidates.length === 0) return [];
    const conn = await this.instance.connect();
    try {
      const existing = await existingRelations(
        conn,
        candidates.map((c) => c.table),
      );
      return candidates.filter((c) => existing.has(c.table)).sort((a, b) => compareText(a.task, b.task) || compareText(a.table, b.table));
    } finally {
      conn.closeSync();
    }
  }

  async registry(): Promise<{ tasks: RegisteredTask[]; graph: TaskGraph }> {
    // A process that may write holds the database's only write lock: the registry changes only
    // through its own `register`, so it is read once (an enqueue no longer costs O(registry)).
    if (this.options.access === 'read') return this.readRegistry();
    return (this.registryMemo ??= this.readRegistry().catch((err: unknown) => {
      this.registryMemo = undefined;
      throw err;
    }));
  }

  private registryMemo: Promise<{ tasks: RegisteredTask[]; graph: TaskGraph }> | undefined;
  private readonly registrySnapshots = new WeakMap<readonly RegisteredTask[], Snapshot>();
  private readonly savedSnapshots = new Set<string>();

  private async readRegistry(): Promise<{ tasks: RegisteredTask[]; graph: TaskGraph }> {
    const tasks = this.options.dag !== undefined ? (await this.dagSource()).tasks : await this.store.loadRegistry();
    return { tasks, graph: TaskGraph.build(tasks.map((t) => t.definition)) };
  }

  /** The snapshot of the registry as read, saved in the ledger once per process. */
  private async registrySnapshot(reg: { tasks: RegisteredTask[]; graph: TaskGraph }): Promise<Snapshot> {
    let snapshot = this.registrySnapshots.get(reg.tasks);
    if (!snapshot) {
      snapshot = snapshotOf(
        reg.tasks.map((t) => t.definition),
        reg.graph,
        this.options.clock(),
      );
      this.registrySnapshots.set(reg.tasks, snapshot);
    }
    if (!this.savedSnapshots.has(snapshot.id)) {
      await this.store.ledger.saveSnapshot(snapshot);
      this.savedSnapshots.add(snapshot.id);
      this.snapshots.add(snapshot);
    }
    return snapshot;
  }

  /** The settings this project was opened with. */
  get config(): Config {
    return this.options.config;
  }

  private dagSourcePromise: Promise<DagSource> | undefined;

  /** Where `--dag` takes its tasks from: a module (loaded now), or the active snapshot of a DAG name. */
  private dagSource(): Promise<DagSource> {
    const spec = this.options.dag;
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
        registeredAt: this.options.clock(),
        fileHash: null,
        warnings: [],
      }));
    if (!looksLikeModule(spec)) {
      const [active] = await this.store.ledger.dagSnapshots({ dag: spec, activeOnly: true });
      if (active) {
        const snapshot = await this.store.ledger.loadSnapshot(active.snapshotId);
        if (!snapshot) throw new DuckorchError('INTERNAL', `the active snapshot ${active.snapshotId} of DAG \`${spec}\` is missing`);
        this.snapshots.add(snapshot);
        return { kind: 'name', name: spec, active, snapshot, tasks: asTasks([...snapshot.tasks.values()].map((t) => t.definition)) };
      }
      const { moduleExists } = await import('./task-modules.js');
      if (!moduleExists(spec, process.cwd())) {
        const names = (await this.store.ledger.dagSnapshots({ activeOnly: true })).map((d) => d.dag).sort(compareText);
        const hint = didYouMean(spec, names);
        throw new DuckorchError('UNKNOWN_NAME', `unknown DAG \`${spec}\`: no DAG of that name has an active snapshot`, {
          expected: 'the name of a DAG whose snapshot is active, or path/module.ts:export',
          hint:
            hint ??
            (names.length > 0
              ? `DAGs with an active snapshot: ${names.map((n) => `\`${n}\``).join(', ')}`
              : 'activate one first: duck-orch snapshot --activate --dag path/module.ts:export'),
        });
      }
    }
    const definitions = await this.moduleDefinitions(spec);
    const name = definitions[0]?.function?.dag;
    if (name === undefined || name === null) throw new DuckorchError('DAG_DEFINITION', `the Dag of --dag ${spec} has no tasks`);
    return { kind: 'module', name, tasks: asTasks(definitions) };
  }

  /** A Dag module's definitions, checked as a project is (unknown `requires`, cycles). */
  private async moduleDefinitions(spec: string): Promise<TaskDefinition[]> {
    const { loadDagSpec } = await import('./task-modules.js');
    const { definitions, errors } = assembleProject(await loadDagSpec(spec, process.cwd()));
    if (errors.length > 0) throw new DuckorchErrors(errors);
    return definitions;
  }

  /** The names of the current definitions (the registry's, or `--dag`'s). */
  private async taskNames(): Promise<string[]> {
    return this.options.dag !== undefined ? (await this.dagSource()).tasks.map((t) => t.definition.name) : this.store.registeredTaskNames();
  }

  /** With `--dag`, history reads keep to its runs and tasks (Orchex's ops were schema-wide). */
  private async scope(): Promise<{ tasks?: string[]; dag?: string }> {
    if (this.options.dag === undefined) return {};
    const source = await this.dagSource();
    return { tasks: source.tasks.map((t) => t.definition.name), dag: source.name };
  }

  /** The attempts a job of `def` gets: its own `retries` + 1, else `orch_max_attempts` when set. */
  private maxAttempts(def: TaskDefinition): number {
    const own = def.keyLocations.retries !== undefined;
    return own || this.options.config.orch_max_attempts === undefined ? def.retries + 1 : this.options.config.orch_max_attempts;
  }

  private async requireRegistry(): Promise<{ tasks: RegisteredTask[]; graph: TaskGraph }> {
    const reg = await this.registry();
    if (reg.tasks.length === 0) {
      throw new DuckorchError('UNKNOWN_NAME', `no tasks are registered in ${this.dbFile}`, {
        hint: 'register a folder of .sql task files first: duck-orch register <dir>',
      });
    }
    return reg;
  }

  /**
   * Task names matching a selection, in topological order. A selection that is valid but selects
   * nothing (an empty intersection, everything excluded) is not an error: it comes with a warning.
   */
  async select(selection: Selection): Promise<{ tasks: RegisteredTask[]; graph: TaskGraph; selected: string[]; warnings: string[] }> {
    const { tasks, graph } = await this.requireRegistry();
    const selectable = this.selectable(tasks);
    const { selected, warnings } = selectTasks(graph, selectable, selection.select, selection.exclude);
    if (selected.size === 0) warnings.push(`nothing was selected by ${describeSelection(selection) ?? 'the selection'}`);
    return { tasks, graph, selected: graph.layers(selected).flat(), warnings };
  }

  private readonly selectables = new WeakMap<readonly RegisteredTask[], SelectableTask[]>();

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

  /** The selected tasks in run order, each with what it reads, writes and is linked to. */
  async list(selection: Selection): Promise<{ tasks: TaskListing[]; warnings: string[] }> {
    const { tasks, graph, selected, warnings } = await this.select(selection);
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

  /** Runs the selected tasks. A selection that is valid but empty runs nothing and records no run (as dbt does). */
  async run(options: RunOptions = {}): Promise<RunResult> {
    await this.databaseFree();
    const planned = await this.plan(options, 'run', null);
    if (!planned.run) return { run: null, jobs: [], warnings: planned.warnings };
    options.onPlan?.(planned.run.tasks);
    return { ...(await this.workRun(planned.run, options)), warnings: planned.warnings };
  }

  /** Creates a run of the selection without working it: `duck-orch worker` (or `run`'s own worker) picks it up. */
  async enqueue(
    options: Selection & { inputs?: JsonValue; metadata?: RunMetadata; runId?: string } = {},
  ): Promise<{ run: RunRecord | null; warnings: string[] }> {
    if (options.runId !== undefined && !UUID.test(options.runId))
      throw new DuckorchError('USAGE', `--run-id must be a UUID, got \`${options.runId}\``, {
        expected: 'a UUID such as 2f1c9a4e-8b7d-4c3e-9f10-5a6b7c8d9e0f',
      });
    const runId = options.runId?.toLowerCase();
    if (runId !== undefined && (await this.store.ledger.getRun(runId))) throw duplicateRun(runId);
    return this.plan(options, 'enqueue', options.inputs ?? null, {
      ...(runId !== undefined ? { runId } : {}),
      ...(options.metadata !== undefined ? { metadata: options.metadata } : {}),
    });
  }

  /**
   * Takes a snapshot of `--dag`'s code (a module, or the module a DAG name's active snapshot
   * came from) and records it for the DAG; with `activate`, makes it what `--dag <name>` means.
   */
  async snapshot(options: { activate: boolean }): Promise<DagSnapshot & { recorded: boolean; activated: boolean }> {
    if (this.options.dag === undefined)
      throw new DuckorchError('USAGE', 'snapshot needs the DAG to take: --dag path/module.ts:export (or $DUCKORCH_DAG)', {
        hint: 'e.g. duck-orch snapshot --activate --dag dags/etl.ts:etl',
      });
    const source = await this.dagSource();
    // By name: the DAG's code as it is now where its active snapshot was taken from.
    const taken =
      source.kind === 'name'
        ? await this.moduleDefinitions(`${source.active.module}:${source.active.exportName}`)
        : source.tasks.map((t) => t.definition);
    // The module by its absolute path, so that the same code gives the same snapshot from any folder.
    const defs = taken.map((d) => ({ ...d, file: d.function?.module ?? d.file }));
    const first = defs[0]!.function!;
    const name = first.dag ?? source.name;
    const now = this.options.clock();
    const snapshot = snapshotOf(defs, TaskGraph.build(defs), now);
    await this.store.ledger.saveSnapshot(snapshot);
    const { recorded, activated } = await this.store.ledger.recordDagSnapshot(
      { dag: name, snapshotId: snapshot.id, module: first.module, exportName: first.exportName },
      options.activate,
      now,
    );
    const entry = (await this.store.ledger.dagSnapshots({ dag: name })).find((d) => d.snapshotId === snapshot.id)!;
    return { ...entry, recorded, activated };
  }

  /** The snapshots taken of DAGs (of `--dag`'s DAG only, when given), newest first. */
  async dagSnapshots(): Promise<DagSnapshot[]> {
    if (this.options.dag === undefined) return this.store.ledger.dagSnapshots();
    const spec = this.options.dag;
    // A name whose DAG has snapshots but none active is still a name to list.
    if (!looksLikeModule(spec)) {
      const all = await this.store.ledger.dagSnapshots({ dag: spec });
      if (all.length > 0) return all;
    }
    return this.store.ledger.dagSnapshots({ dag: (await this.dagSource()).name });
  }

  /**
   * Puts every job of a run (by default the latest) that ended dead, failed, blocked, skipped or
   * cancelled back to pending, on the current definitions, and works the run again; jobs that
   * succeeded are not re-run (dbt's `retry`).
   */
  async retryFailed(options: Omit<RunOptions, keyof Selection> & { runId?: string } = {}): Promise<RunResult & { retried: number }> {
    const ledger = this.store.ledger;
    await this.databaseFree();
    const target = options.runId !== undefined ? await this.resolveRun(options.runId) : (await ledger.listRuns(1))[0];
    if (!target) throw new DuckorchError('UNKNOWN_NAME', 'there is no run to retry yet', { hint: 'start one with: duck-orch run' });
    const snapshot = await this.registrySnapshot(await this.requireRegistry());
    await this.createOutputSchemas(target.tasks.flatMap((n) => snapshot.tasks.get(n)?.definition ?? []));
    const retried = await ledger.retryRun(target.id, this.options.clock(), snapshot.id);
    const run = (await ledger.getRun(target.id))!;
    options.onPlan?.(run.tasks);
    return { ...(await this.workRun(run, options)), warnings: [], retried };
  }

  /** Requeues dead jobs across runs (Orchex's `retry-dead`); a worker then works them. */
  async retryDead(filter: RequeueFilter = {}): Promise<number> {
    return this.requeue('dead', filter);
  }

  /** Requeues failed jobs (waiting for their retry) across runs at once, attempts reset (Orchex's `retry-failed`). */
  async retryFailedJobs(filter: RequeueFilter = {}): Promise<number> {
    return this.requeue('failed', filter);
  }

  private async requeue(state: 'dead' | 'failed', filter: RequeueFilter): Promise<number> {
    const now = this.options.clock();
    const since = filter.since ?? (filter.withinSeconds !== undefined ? new Date(now.getTime() - filter.withinSeconds * 1000) : undefined);
    const { dag } = await this.scope();
    return this.store.ledger.retryJobs(
      {
        states: [state],
        ...(filter.task !== undefined ? { task: filter.task } : {}),
        ...(since !== undefined ? { since } : {}),
        ...(filter.minAttempts !== undefined ? { minAttempts: filter.minAttempts } : {}),
        ...(dag !== undefined ? { dag } : {}),
      },
      now,
    );
  }

  /** Jobs being processed whose worker has not renewed its lease in time: a worker that stopped (Orchex's `stale-locks`). */
  async staleLeases(): Promise<JobRecord[]> {
    const now = this.options.clock();
    return (await this.store.ledger.listJobs({ states: ['processing'], limit: 100_000, ...(await this.scope()) })).filter(
      (j) => j.leaseExpiresAt !== null && j.leaseExpiresAt.getTime() <= now.getTime(),
    );
  }

  /** Cancels a run's unfinished jobs. */
  async cancel(runId: string): Promise<{ run: RunRecord; cancelled: number }> {
    const run = await this.resolveRun(runId);
    const cancelled = await this.store.ledger.cancelRun(run.id, 'cancelled by the user', this.options.clock());
    return { run: (await this.store.ledger.getRun(run.id))!, cancelled: cancelled.length };
  }

  /** Works queued runs until `shutdown` (or, with `untilIdle`, until nothing is left to do). */
  async work(options: WorkOptions): Promise<void> {
    const current = new Set(await this.taskNames());
    const source = this.options.dag !== undefined ? await this.dagSource() : undefined;
    // A DAG by name runs the code of its snapshots: refuse to start on code that is not the active snapshot's.
    if (source?.kind === 'name') await this.checkDeployedCode(source.active, source.snapshot);
    const { work } = await import('../runtime/worker.js');
    await work({
      ...this.workerBase(options.concurrency ?? this.options.config.orch_max_parallel, options),
      workerId: options.workerId ?? `worker-${process.pid}-${randomUUID().slice(0, 8)}`,
      definition: async (job) => {
        // By name, every run has its own snapshot; the current one says nothing about older runs.
        if (source?.kind !== 'name' && !current.has(job.task))
          return { missing: `task \`${job.task}\` was removed from the project after the run was planned` };
        return (await this.snapshots.task(job.snapshotId, job.task)) ?? { missing: `task \`${job.task}\` is not in the run's snapshot` };
      },
      ...(options.shutdown ? { shutdown: options.shutdown } : {}),
      ...(options.graceMs !== undefined ? { graceMs: options.graceMs } : {}),
      ...(options.untilIdle ? { untilIdle: true } : {}),
      ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
      ...(options.onNotice ? { onNotice: options.onNotice } : {}),
      // A worker for one --dag leaves other DAGs' jobs to their own workers, and a worker of the
      // registry leaves every DAG's jobs alone.
      dag: source ? source.name : null,
    });
  }

  /** The code versions of a DAG's tasks in the module as it is on this machine now, by module:export. */
  private readonly deployed = new Map<string, Promise<Map<string, string>>>();

  private deployedVersions(module: string, exportName: string): Promise<Map<string, string>> {
    const spec = `${module}:${exportName}`;
    let found = this.deployed.get(spec);
    if (!found) {
      found = import('./task-modules.js').then(async ({ loadDagSpec }) => {
        const defs = await loadDagSpec(spec, process.cwd());
        return new Map(defs.map((d) => [d.name, d.codeVersion]));
      });
      this.deployed.set(spec, found);
    }
    return found;
  }

  /** Fails when the code a DAG's active snapshot was taken of is not the code on this machine. */
  private async checkDeployedCode(active: DagSnapshot, snapshot: Snapshot): Promise<void> {
    const here = await this.deployedVersions(active.module, active.exportName);
    const names = new Set([...here.keys(), ...snapshot.tasks.keys()]);
    const differ = [...names].filter((n) => here.get(n) !== snapshot.tasks.get(n)?.definition.codeVersion).sort();
    if (differ.length === 0) return;
    throw new DuckorchError(
      'SNAPSHOT_MISMATCH',
      `the code of DAG \`${active.dag}\` in ${active.module} is not its active snapshot ${shortSnapshotId(active.snapshotId)} ` +
        `(tasks that differ: ${differ.join(', ')})`,
      {
        hint: `deploy the code the snapshot was taken of, or activate this code: duck-orch snapshot --activate --dag ${active.module}:${active.exportName}`,
      },
    );
  }

  async queueDepth(runId?: string): Promise<Partial<Record<JobState, number>>> {
    return this.store.ledger.queueDepth({
      ...(runId === undefined ? {} : { runId: (await this.resolveRun(runId)).id }),
      ...(await this.scope()),
    });
  }

  /** Tasks whose attempts failed in the last `withinSeconds`. */
  async failures(withinSeconds: number, limit: number): Promise<TaskFailures[]> {
    const since = new Date(this.options.clock().getTime() - withinSeconds * 1000);
    return this.store.ledger.failures(since, limit, (await this.scope()).tasks);
  }

  /** A run by id or by a unique prefix of it (the summary shows 8 characters). */
  async resolveRun(idOrPrefix: string): Promise<RunRecord> {
    const found = await this.store.ledger.findRuns(idOrPrefix, 2);
    if (found.length === 1) return found[0]!;
    if (found.length > 1)
      throw new DuckorchError('UNKNOWN_NAME', `\`${idOrPrefix}\` matches more than one run`, {
        hint: 'give more characters of the run id',
      });
    const recent = (await this.store.ledger.listRuns(5)).map((r) => `${r.id.slice(0, 8)} (${r.state}, ${r.createdAt.toISOString()})`);
    throw new DuckorchError('UNKNOWN_NAME', `unknown run \`${idOrPrefix}\``, {
      hint: recent.length ? `recent runs: ${recent.join(', ')}` : 'no run has been recorded yet',
    });
  }

  /** Saves the snapshot of the current definitions and enqueues a run of the selection on it. */
  private async plan(
    options: Selection,
    trigger: string,
    inputs: JsonValue,
    extra: { runId?: string; metadata?: RunMetadata } = {},
  ): Promise<{ run: RunRecord | null; warnings: string[] }> {
    const { tasks, graph, selected, warnings } = await this.select(options);
    if (selected.length === 0) return { run: null, warnings };
    const byName = new Map(tasks.map((t) => [t.definition.name, t.definition]));
    const chosen = new Set(selected);
    const source = this.options.dag !== undefined ? await this.dagSource() : undefined;
    if (source?.kind !== 'name') warnings.push(...staleFiles(tasks.filter((t) => chosen.has(t.definition.name))));
    await this.createOutputSchemas(selected.map((n) => byName.get(n)!));
    // A DAG by name runs its active snapshot as stored (its definitions read back need not hash the same).
    const snapshot = source?.kind === 'name' ? source.snapshot : await this.registrySnapshot({ tasks, graph });
    this.snapshots.add(snapshot);
    const run = await this.store.ledger.enqueueRun(
      {
        id: extra.runId ?? randomUUID(),
        snapshotId: snapshot.id,
        trigger,
        selector: describeSelection(options),
        inputs,
        jobs: selected.map((name) => ({
          task: name,
          upstream: [...graph.upstreamOf(name)].filter((u) => chosen.has(u)).sort(),
          maxAttempts: this.maxAttempts(byName.get(name)!),
          // A shared ledger gives this database's jobs only to the worker that holds it.
          ...(writesDatabase(byName.get(name)!) ? { database: this.store.databaseId } : {}),
        })),
        ...(source ? { dag: source.name } : {}),
        ...(extra.metadata ? { metadata: extra.metadata } : {}),
      },
      this.options.clock(),
    );
    return { run, warnings };
  }

  /** By DAG name a run is bound to its snapshot's code: code that changed since is not run in its place. */
  private async requireSnapshotCode(job: ClaimedJob, task: TaskDefinition): Promise<void> {
    if (this.options.dag === undefined || !task.function || (await this.dagSource()).kind !== 'name') return;
    const here = (await this.deployedVersions(task.function.module, task.function.exportName)).get(task.name);
    if (here === task.codeVersion) return;
    const { AttemptFailure } = await import('../runtime/attempt-failure.js');
    throw new AttemptFailure(
      'definition',
      `the code of task \`${task.name}\` in ${task.function.module} is not the code of this run's snapshot ` +
        `${shortSnapshotId(job.snapshotId)}; deploy that code and \`duck-orch retry-dead\`, or enqueue a new run`,
      {},
    );
  }

  private workerBase(concurrency: number, options: { signal?: AbortSignal; onEvent?: (e: RunEvent) => void; fullRefresh?: boolean }) {
    const functions: FunctionRunner = async (attempt) => {
      await this.requireSnapshotCode(attempt.job, attempt.task);
      return runFunctionJob(attempt);
    };
    return {
      functions,
      ledger: this.store.ledger,
      instance: this.instance,
      concurrency,
      leaseMs: this.options.config.orch_lease * 1000,
      ...(this.options.config.orch_task_timeout !== undefined ? { defaultTimeoutMs: this.options.config.orch_task_timeout * 1000 } : {}),
      retry: { baseMs: this.options.config.orch_retry_base * 1000, maxMs: this.options.config.orch_retry_max * 1000 },
      clock: this.options.clock,
      random: this.options.random,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      ...(options.fullRefresh ? { fullRefresh: true } : {}),
    };
  }

  /** Works one run in-process until nothing of it is left to do; a cancelled run cancels what never started. */
  private async workRun(run: RunRecord, options: Omit<RunOptions, keyof Selection>): Promise<Omit<RunResult, 'warnings'>> {
    const ledger = this.store.ledger;
    const { work } = await import('../runtime/worker.js');
    await this.holdingDatabase(() =>
      work({
        ...this.workerBase(options.maxParallel ?? this.options.config.orch_max_parallel, options),
        workerId: `run-${process.pid}-${run.id.slice(0, 8)}`,
        definition: async (job) =>
          (await this.snapshots.task(job.snapshotId, job.task)) ?? { missing: `task \`${job.task}\` is not in the run's snapshot` },
        runId: run.id,
      }),
    );
    if (options.signal?.aborted) {
      // Tasks that never started are cancelled too, and say so.
      for (const job of await ledger.cancelRun(run.id, 'the run was cancelled before it started', this.options.clock()))
        options.onEvent?.({ type: 'skip', task: job.task, job });
    }
    return this.outcome(run.id);
  }

  private holds = 0;

  /** Fails, before anything is planned, when a worker elsewhere holds the database (see `holdingDatabase`). */
  private async databaseFree(): Promise<void> {
    await this.holdingDatabase(async () => undefined);
  }

  /**
   * With a shared ledger, a `run` works its database's jobs itself: it holds the database's lease
   * meanwhile, as a worker does, so that no worker elsewhere writes the file at the same time.
   */
  private async holdingDatabase<T>(fn: () => Promise<T>): Promise<T> {
    // A worker's project is opened by the lease it holds (`database-lease.ts`).
    if (this.options.config.orch_store !== 'postgres' || this.options.sharedLedger) return fn();
    const ledger = this.store.ledger;
    const id = this.store.databaseId;
    const holder = `run-${process.pid}`;
    const leaseMs = this.options.config.orch_lease * 1000;
    const lease = await ledger.holdDatabase(id, holder, leaseMs, this.options.clock());
    if (lease.worker !== holder)
      throw new DuckorchError(
        'DB_LOCKED',
        `database ${this.dbFile} is held by worker ${lease.worker} (its lease on the shared ledger runs until ${lease.expiresAt.toISOString()})`,
        {
          hint: 'that worker works the queued runs: `duck-orch enqueue` queues one for it; or stop it and run again',
        },
      );
    this.holds++;
    const renew = setInterval(
      () => void ledger.holdDatabase(id, holder, leaseMs, this.options.clock()).catch(() => undefined),
      leaseMs / 3,
    );
    renew.unref();
    try {
      return await fn();
    } finally {
      clearInterval(renew);
      if (--this.holds === 0) await ledger.releaseDatabase(id, holder).catch(() => undefined);
    }
  }

  /** A run and its jobs in plan order, as written. */
  private async outcome(runId: string): Promise<Omit<RunResult, 'warnings'>> {
    const ledger = this.store.ledger;
    await ledger.flush();
    const run = (await ledger.getRun(runId))!;
    const order = new Map(run.tasks.map((n, i) => [n, i]));
    const jobs = (await ledger.listJobs({ runId, limit: Math.max(1, run.tasks.length) * 1000 })).sort(
      (a, b) => (order.get(a.task) ?? 0) - (order.get(b.task) ?? 0),
    );
    return { run, jobs };
  }

  /**
   * A run asked for by another process while this one holds the database (see
   * `remote/socket.ts`): planned here, worked by a loop of its own (`workHere`, in a `run`) or
   * by this process's worker, and returned once done.
   */
  async runForOther(options: Omit<RunOptions, 'signal' | 'onEvent' | 'onPlan'>, workHere: boolean): Promise<RunResult> {
    const planned = await this.plan(options, 'run', null);
    if (!planned.run) return { run: null, jobs: [], warnings: planned.warnings };
    if (workHere) return { ...(await this.workRun(planned.run, options)), warnings: planned.warnings };
    for (;;) {
      const run = await this.store.ledger.getRun(planned.run.id);
      if (!run || run.finishedAt !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { ...(await this.outcome(planned.run.id)), warnings: planned.warnings };
  }

  /** `CREATE SCHEMA IF NOT EXISTS` for every schema the run writes to, once, before tasks run in parallel. */
  private async createOutputSchemas(tasks: readonly TaskDefinition[]): Promise<void> {
    // One per name as DuckDB compares names; quoted, so that `Sales Data` and `Finance` are created as written.
    const schemas = new Map<string, string>();
    for (const t of tasks)
      for (const s of t.outputs.map(schemaOf)) if (s !== undefined && !schemas.has(s.toLowerCase())) schemas.set(s.toLowerCase(), s);
    if (schemas.size === 0) return;
    const conn = await this.instance.connect();
    try {
      for (const s of schemas.values()) await conn.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(s)}`);
    } finally {
      conn.closeSync();
    }
  }

  async test(selection: Selection = {}): Promise<{ outcomes: TestOutcome[]; warnings: string[] }> {
    const { tasks, selected, warnings } = await this.select(selection);
    const chosen = new Set(selected);
    const defs = tasks.map((t) => t.definition).filter((t) => chosen.has(t.name));
    const outcomes = await runTests(this.instance, defs);
    const at = this.options.clock();
    if (this.options.access !== 'read') {
      await this.store.recordTestResults(
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

  /**
   * The latest task runs, newest first. The history of a task that is no longer registered stays
   * reachable: its runs are listed, and its name is among `removedTasks`.
   */
  async status(options: { limit: number; task?: string }): Promise<StatusResult> {
    const ledger = this.store.ledger;
    const names = new Set(await this.taskNames());
    const jobs = await ledger.listJobs({
      limit: options.limit,
      ...(await this.scope()),
      ...(options.task !== undefined ? { task: options.task } : {}),
    });
    if (options.task !== undefined && !names.has(options.task) && jobs.length === 0) throw unknownName('task', options.task, [...names]);
    const failedAttempts = new Map<string, AttemptRecord[]>();
    // Every listed job's attempts: a job retried with `retry-failed` starts counting again at 1.
    for (const a of await ledger.listAttempts(jobs.map((j) => j.id)))
      if (a.outcome === 'failed' || a.outcome === 'lost') failedAttempts.set(a.jobId, [...(failedAttempts.get(a.jobId) ?? []), a]);
    return {
      jobs,
      failedAttempts,
      runs: options.task === undefined ? await ledger.listRuns(Math.min(options.limit, 10)) : [],
      removedTasks: [...new Set(jobs.map((r) => r.task).filter((n) => !names.has(n)))].sort(),
    };
  }

  async graph(mode: GraphMode, selection: Selection & { statuses?: boolean } = {}): Promise<{ mermaid: string; warnings: string[] }> {
    const { graph, selected, warnings } = await this.select(selection);
    let statuses: Map<string, string> | undefined;
    if (selection.statuses !== false) {
      statuses = new Map((await this.store.ledger.taskStates()).map((t) => [t.name, t.status as string]));
      // What runs right now shows as running, over its last finished state.
      for (const j of await this.store.ledger.listJobs({ states: ['processing'], limit: 100_000 })) statuses.set(j.task, j.state);
    }
    return { mermaid: renderMermaid(graph, { mode, tasks: new Set(selected), ...(statuses ? { statuses } : {}) }), warnings };
  }

  /** Downstream (`impact`) or upstream (`lineage`) datasets of a table, with the task that links each hop. */
  async walk(table: string, direction: 'up' | 'down'): Promise<{ table: string; hops: LineageHop[] }> {
    const { tasks } = await this.requireRegistry();
    const known = new Map(tasks.flatMap((t) => [...t.definition.inputs, ...t.definition.outputs].map((n) => [datasetKey(n), n])));
    const parsed = parseDatasetName(table);
    const name = parsed === undefined ? undefined : known.get(datasetKey(parsed));
    if (name === undefined) throw unknownName('table', table, [...known.values()]);
    return { table: name, hops: walkLineage(await this.store.loadLineageEdges(), name, direction) };
  }
}

/** The registry rows of a set of tasks: the tasks, and what their graph and assets derive from them. */
function registrySnapshot(tasks: RegisteredTask[], graph: TaskGraph): RegistrySnapshot {
  const { assets, edges, checks } = deriveAssets(tasks.map((t) => t.definition));
  return { tasks, taskEdges: graph.edges, lineageEdges: graph.lineage, assets, assetEdges: edges, assetChecks: checks };
}

function describeSelection(s: Selection): string | null {
  const parts = [
    ...(s.select?.length ? [`--select ${s.select.join(' ')}`] : []),
    ...(s.exclude?.length ? [`--exclude ${s.exclude.join(' ')}`] : []),
  ];
  return parts.length ? parts.join(' ') : null;
}

/** Task files edited (or deleted) since they were registered: the run uses the registered SQL. */
function staleFiles(tasks: readonly RegisteredTask[]): string[] {
  const out: string[] = [];
  for (const t of tasks) {
    let text: string;
    try {
      text = fs.readFileSync(t.filePath, 'utf8');
    } catch {
      out.push(`${t.definition.file} no longer exists; running the registered version of task ${t.definition.name}`);
      continue;
    }
    // A TypeScript module is loaded afresh when its task runs; only SQL runs the registered text.
    if (t.definition.kind === 'sql' && codeVersion(splitHeaderBlock(text.replace(/^\uFEFF/, '')).body) !== t.definition.codeVersion) {
      out.push(`${t.definition.file} changed since it was registered; run \`duck-orch register\` to use the new SQL`);
    }
  }
  return out;
}

export function unknownName(what: string, name: string, candidates: readonly string[]): DuckorchError {
  const hint = didYouMean(name, candidates);
  return new DuckorchError('UNKNOWN_NAME', `unknown ${what} \`${name}\``, hint ? { hint } : {});
}

export interface Validation {
  files: LoadedTaskFile[];
  /** Problems of the project as a whole (cycles, two writers, unknown dependencies): checked when a folder is given. */
  errors: DuckorchError[];
  warnings: DuckorchError[];
  /** A folder was among the paths. */
  project: boolean;
}

/** Parses and analyses task files and folders without any project database: what `validate` does. */
export async function validatePaths(paths: readonly string[]): Promise<Validation> {
  const files: string[] = [];
  const modules: Array<{ path: string; realPath: string }> = [];
  const warnings: DuckorchError[] = [];
  let project = false;
  for (const p of paths) {
    if (fs.statSync(p, { throwIfNoEntry: false })?.isDirectory()) {
      const found = await discoverTaskFiles(p);
      files.push(...found.files);
      modules.push(...found.modules);
      warnings.push(...found.warnings);
      project = true;
    } else if (isTaskModuleFile(p) && fs.existsSync(p)) modules.push({ path: p, realPath: fs.realpathSync(p) });
    else files.push(p);
  }
  const parser = await DuckDbSqlParser.inMemory();
  let loaded: LoadedTaskFile[];
  try {
    loaded = await loadTaskFiles(files, new SqlAnalyzer(parser));
  } finally {
    parser.close();
  }
  // One entry per task of each module (a module's errors in one entry of their own).
  loaded.push(...(await loadTaskModuleFiles(modules)));
  const errors = project ? assembleProject(loaded.flatMap((f) => (f.task ? [f.task] : []))).errors : [];
  return { files: loaded, errors, warnings, project };
}
