/**
 * `register` and `validate`: task files and modules read, analysed and checked as a whole
 * project, then stored in the registry all-or-nothing; and what the registry says about files
 * edited since.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DuckorchError, DuckorchErrors } from '../errors.js';
import { deriveAssets } from '../model/assets.js';
import { suggest } from '../model/suggest.js';
import type { TaskGraph } from '../model/graph/dag.js';
import { compareText, isFileDataset, schemaOf } from '../model/names.js';
import type { TaskDefinition } from '../model/taskfile/task.js';
import { existingRelations, readCatalog } from '../runtime/catalog.js';
import { SqlAnalyzer } from '../sql/analyzer.js';
import { DuckDbSqlParser } from '../sql/duckdb-parser.js';
import type { RegisteredTask, RegistrySnapshot } from '../store/store.js';
import { assembleProject, readLocation } from './assemble.js';
import type { ProjectContext } from './context.js';
import { snapshotOf, type Definitions } from './definitions.js';
import { registryChange } from './registry-change.js';
import { ANALYSIS_VERSION, discoverTaskFiles, displayPath, isTaskModuleFile, loadTaskFiles, type LoadedTaskFile } from './task-files.js';
import { loadTaskModuleFiles } from './task-modules.js';

export interface RegisterResult {
  root: string;
  files: number;
  tasks: Array<{ name: string; file: string; change: 'added' | 'changed' | 'unchanged' }>;
  removed: string[];
  /** Tables and views of removed tasks that are still in the database. */
  leftBehind: Array<{ task: string; table: string }>;
  warnings: DuckorchError[];
}

export interface RegisterOptions {
  /** Any warning is an error, and the registry is left as it was (`register --strict`, for CI). */
  strict?: boolean;
}

/**
 * Registers every task file under `dir`, replacing what was registered from that folder
 * before. All-or-nothing: any error in any file, or in the graph they form, leaves the registry
 * untouched, and every problem is reported at once. Files unchanged since they were registered
 * keep their definitions without being analysed again.
 */

export async function register(
  ctx: ProjectContext,
  definitions: Definitions,
  dir: string,
  options: RegisterOptions = {},
): Promise<RegisterResult> {
  if (ctx.options.dag !== undefined)
    throw new DuckorchError('USAGE', '--dag names the tasks directly: there is nothing to register', {
      hint: 'leave out --dag to register a folder, or run the other commands with --dag',
    });
  const { instance, store } = await ctx.database();
  // DuckDB reads the registry while the folder is walked (its failure is awaited below, not unhandled meanwhile).
  const reading = store.loadRegistry();
  reading.catch(() => undefined);
  const { files, realPaths, modules, warnings } = await discoverTaskFiles(dir).catch(async (err: unknown) => {
    await reading.catch(() => undefined);
    throw err;
  });
  const root = fs.realpathSync(dir);
  const previous = await reading;
  const reusable = new Map(
    previous.flatMap((t) => (t.fileHash ? [[t.filePath, { hash: t.fileHash, definition: t.definition, warnings: t.warnings }]] : [])),
  );
  const conn = await instance.connect();
  let loaded;
  try {
    loaded = await loadTaskFiles(files, new SqlAnalyzer(DuckDbSqlParser.onConnection(conn)), { previous: reusable, realPaths });
  } finally {
    conn.closeSync();
  }
  // TypeScript/JavaScript task modules beside the .sql files: evaluated, never reused from the registry.
  const loadedModules =
    modules.length === 0 ? [] : await loadTaskModuleFiles(modules, new Map(previous.map((t) => [t.definition.name, t.definition])));
  for (const f of loaded) warnings.push(...f.warnings);
  warnings.push(...schemaCatalogClash(ctx.dbFile, [...loaded, ...loadedModules]));

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
  const assembled = assembleProject([...kept.map((t) => t.definition), ...fresh.map((f) => f.task)]);
  const { graph, errors } = assembled;
  errors.unshift(...loaded.flatMap((f) => f.errors), ...loadedModules.flatMap((f) => f.errors));
  if (errors.length > 0) throw new DuckorchErrors(errors);
  warnings.push(...(await missingTables(ctx, assembled.definitions, graph)));
  if (options.strict && warnings.length > 0) throw new DuckorchErrors(warnings);

  const now = ctx.clock();
  const all: RegisteredTask[] = [
    ...kept.map((t, i) => ({ ...t, definition: assembled.definitions[i]! })),
    ...fresh.map((f, i): RegisteredTask => {
      const definition = assembled.definitions[kept.length + i]!;
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
  const change = sameAnalysis ? registryChange(previous, all) : undefined;
  await store.replaceRegistry(registryRows(all, graph, change?.tasks), now, change);
  definitions.forgetRegistry();
  // The snapshot of what is now registered, saved once here rather than by the next run, and
  // recorded as this database's registry (what `status` tells removed tasks by).
  const ledger = await ctx.ledger();
  const snapshot = snapshotOf(
    all.map((t) => t.definition),
    graph,
    now,
  );
  await ledger.saveSnapshot(snapshot);
  await ledger.recordRegistration(store.databaseId, snapshot.id, now);
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
    leftBehind: await leftBehind(
      ctx,
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
function schemaCatalogClash(dbFile: string, loaded: readonly LoadedTaskFile[]): DuckorchError[] {
  const catalog = path
    .basename(dbFile)
    .replace(/\.[^.]*$/, '')
    .toLowerCase();
  for (const f of loaded) {
    for (const name of [...(f.task?.outputs ?? []), ...(f.task?.inputs ?? [])]) {
      const schema = schemaOf(name);
      if (schema?.toLowerCase() !== catalog) continue;
      return [
        new DuckorchError('HEADER_VALUE', `schema \`${schema}\` has the name of the database ${path.basename(dbFile)}`, {
          location: { file: f.file, line: f.task!.bodyLine, col: 1 },
          hint: `DuckDB cannot tell whether \`${name}\` is in the schema or the database, and fails the task; rename the database file or the schema`,
        }),
      ];
    }
  }
  return [];
}

/**
 * Tables that tasks read, that no task writes and that are not in the database: a typo, or a
 * source not loaded yet, which would fail the task at run time. Files are left alone: a relative
 * path is resolved where the task runs.
 */
async function missingTables(ctx: ProjectContext, tasks: readonly TaskDefinition[], graph: TaskGraph): Promise<DuckorchError[]> {
  const reads = tasks.flatMap((t) =>
    t.inputs.filter((i) => !isFileDataset(i) && !graph.producerOf(i)).map((table) => ({ task: t, table })),
  );
  if (reads.length === 0) return [];
  const conn = await (await ctx.database()).instance.connect();
  let catalog;
  try {
    catalog = await readCatalog(conn);
  } finally {
    conn.closeSync();
  }
  const known = [...catalog.names, ...tasks.flatMap((t) => t.outputs.filter((o) => !isFileDataset(o)))];
  const db = path.basename(ctx.dbFile);
  return reads
    .filter((r) => !catalog.has(r.table))
    .map(({ task, table }) => {
      const close = suggest(table, known);
      return new DuckorchError(
        'UNKNOWN_NAME',
        `table ${table} is read by task ${task.name}, written by no task, and does not exist in ${db}`,
        {
          location: readLocation(task, table),
          ...(close !== undefined ? { hint: `did you mean ${close}?` } : {}),
        },
      );
    });
}

/** Tables and views that removed tasks wrote, still in the database, and no remaining task writes. */
async function leftBehind(
  ctx: ProjectContext,
  removed: readonly TaskDefinition[],
  graph: TaskGraph,
): Promise<Array<{ task: string; table: string }>> {
  const candidates = removed.flatMap((t) =>
    t.outputs.filter((o) => !isFileDataset(o) && !graph.producerOf(o)).map((table) => ({ task: t.name, table })),
  );
  if (candidates.length === 0) return [];
  const conn = await (await ctx.database()).instance.connect();
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

/**
 * The registry rows of a set of tasks: the tasks, and what their graph and assets derive from
 * them; with `only`, what derives from those tasks alone (the rows a partial write replaces: an
 * asset, and so its checks, belongs to one task).
 */
function registryRows(tasks: RegisteredTask[], graph: TaskGraph, only?: ReadonlySet<string>): RegistrySnapshot {
  const { assets, edges, checks } = deriveAssets(
    tasks.map((t) => t.definition),
    only,
  );
  if (!only) return { tasks, taskEdges: graph.edges, lineageEdges: graph.lineage, assets, assetEdges: edges, assetChecks: checks };
  const names = [...only].filter((n) => graph.tasks.has(n));
  return {
    tasks,
    taskEdges: names.flatMap((downstream) => [...graph.upstreamOf(downstream)].map((upstream) => ({ upstream, downstream }))),
    lineageEdges: names.flatMap((n) => graph.lineageOf(n)),
    assets,
    assetEdges: edges,
    assetChecks: checks,
  };
}

export interface Validation {
  /** One entry per task file, and per task of a module (a module's errors in one entry of their own). */
  files: LoadedTaskFile[];
  /** How many files were checked: a module counts once, whatever its tasks. */
  fileCount: number;
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
  return { files: loaded, fileCount: files.length + modules.length, errors, warnings, project };
}
