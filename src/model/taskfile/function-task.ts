/**
 * TypeScript tasks as data: the options of `dag.task()` and `asset()` checked and normalised,
 * and turned into `TaskDefinition`s of kind `function` that join the same registry and graph as
 * SQL tasks. Pure: the library API (`src/lib/`) calls the checks eagerly, the loader
 * (`src/app/task-modules.ts`) recognises exported values and converts them.
 *
 * Values are recognised by a brand (`Symbol.for('duckorch.dag')`, `Symbol.for('duckorch.asset')`)
 * rather than by `instanceof`, so that a `Dag` made by another copy of the library — a task
 * module's own `node_modules/duckorch`, or the copy a loader evaluated — is still a Dag. The
 * brand's value is the version of the shape below; every copy reads `name` and `tasks` (a Dag)
 * or `spec` (an asset).
 */
import { DuckorchError, DuckorchErrors, type SourceLocation } from '../../errors.js';
import { DatasetSet, datasetKey, identifierParts, isFileDataset, parseDatasetName } from '../names.js';
import { didYouMean } from '../suggest.js';
import { PARTITION_FORM, parsePartitions, type PartitionDef } from '../partitions/definition.js';
import { codeVersion } from './code-version.js';
import { TASK_NAME, emptyHeader } from './parse-header.js';
import type { AssetDecl, TaskDefinition } from './task.js';

export const DAG_BRAND: unique symbol = Symbol.for('duckorch.dag') as never;
export const ASSET_BRAND: unique symbol = Symbol.for('duckorch.asset') as never;
/** The version of the shape branded values have; bumped if it ever changes incompatibly. */
export const BRAND_VERSION = 1;

/** Any function: a task's own signature is the library's business (`src/lib/`). */
export type AnyFunction = (...args: never[]) => unknown;

/** Where a task was declared in its module, from the call's stack frame. */
export interface CallSite {
  /** Absolute path (or URL) of the module, as the stack frame names it. */
  path: string;
  line: number;
  col: number;
}

/** One task of a Dag, normalised. */
export interface DagTaskSpec {
  name: string;
  requires: string[];
  timeoutSeconds: number | null;
  retries: number;
  /** Whether `retries` was given: a task that gives none gets `orch_max_attempts` when that is set. Absent from older copies. */
  retriesSet?: boolean;
  description: string | null;
  tags: string[];
  /** Where the function runs: `thread` (the default) or `inline`. Absent from older copies: `thread`. */
  isolation?: Isolation;
  /** `partitions`, parsed; absent or null: unpartitioned. */
  partitions?: PartitionDef | null;
  fn: AnyFunction;
  definedAt: CallSite | null;
}

/** Where a Dag task's function runs: in a worker thread that a timeout terminates, or in the worker's own thread. */
export type Isolation = 'thread' | 'inline';
const ISOLATIONS: readonly Isolation[] = ['thread', 'inline'];

export interface DagSpec {
  name: string;
  tasks: readonly DagTaskSpec[];
}

/** An `asset()`, normalised. */
export interface AssetSpec {
  /** The dataset it materialises, canonical. */
  dataset: string;
  /** The task's name: `task`, or the dataset's last part. */
  name: string;
  deps: string[];
  timeoutSeconds: number | null;
  retries: number;
  retriesSet?: boolean;
  description: string | null;
  group: string | null;
  owner: string | null;
  tags: string[];
  partitions?: PartitionDef | null;
  fn: AnyFunction;
  definedAt: CallSite | null;
}

function definitionError(message: string, options: { hint?: string; expected?: string } = {}): DuckorchError {
  return new DuckorchError('DAG_DEFINITION', message, options);
}

const TASK_NAME_FORM = 'letters, digits, `_`, `-` and `.`, starting with a letter or `_`';

function checkName(what: string, name: unknown): string {
  if (typeof name !== 'string' || name === '') {
    throw definitionError(`${what} needs a name`, { expected: `a non-empty string of ${TASK_NAME_FORM}` });
  }
  if (!TASK_NAME.test(name)) throw definitionError(`invalid ${what} name \`${name}\``, { expected: TASK_NAME_FORM });
  return name;
}

export function checkDagName(name: unknown): string {
  return checkName('Dag', name);
}

function checkKeys(what: string, options: object, known: readonly string[]): void {
  for (const k of Object.keys(options)) {
    if (known.includes(k)) continue;
    const hint = didYouMean(k, known) ?? ALIASES[k];
    throw definitionError(`unknown option \`${k}\` for ${what}`, {
      expected: known.map((n) => `\`${n}\``).join(', '),
      ...(hint ? { hint } : {}),
    });
  }
}

/** The names other orchestrators (and SQL headers) use, pointed at ours. */
const ALIASES: Readonly<Record<string, string>> = {
  depends_on: 'did you mean `requires`?',
  dependsOn: 'did you mean `requires`?',
  upstream: 'did you mean `requires`?',
  timeout_seconds: 'did you mean `timeout` (seconds)?',
  timeoutSeconds: 'did you mean `timeout` (seconds)?',
  inputs: 'did you mean `deps`?',
  reads: 'did you mean `deps`?',
};

function optionalText(what: string, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw definitionError(`${what} must be a string, got ${typeof value}`);
  return value;
}

function stringList(what: string, value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw definitionError(`${what} must be an array of strings`, { expected: `e.g. ['a', 'b']` });
  }
  return [...(value as string[])];
}

function checkRetries(what: string, value: unknown): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw definitionError(`${what}: \`retries\` must be a whole number ≥ 0, got ${describe(value)}`, {
      expected: 'retries after a failed attempt, e.g. retries: 2',
    });
  }
  return value;
}

function checkTimeout(what: string, value: unknown): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw definitionError(`${what}: \`timeout\` must be a positive number of seconds, got ${describe(value)}`, {
      expected: 'seconds, e.g. timeout: 30',
    });
  }
  return value;
}

function checkIsolation(what: string, value: unknown): Isolation {
  if (value === undefined || value === null) return 'thread';
  if (!ISOLATIONS.includes(value as Isolation)) {
    throw definitionError(`${what}: \`isolation\` must be 'thread' or 'inline', got ${describe(value)}`, {
      expected: "isolation: 'inline' to run the function in the worker's own thread (a timeout cannot stop it there)",
    });
  }
  return value as Isolation;
}

function checkFunction(what: string, fn: unknown): AnyFunction {
  if (typeof fn !== 'function') {
    throw definitionError(`${what} needs a function as its second argument, got ${describe(fn)}`, {
      expected: 'async (…) => result',
    });
  }
  return fn as AnyFunction;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  return typeof value;
}

function checkOptionsObject(what: string, options: unknown): Record<string, unknown> {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw definitionError(`${what} takes an options object first, got ${describe(options)}`, { expected: '{ name: … }' });
  }
  return options as Record<string, unknown>;
}

export const DAG_TASK_OPTIONS = ['name', 'requires', 'timeout', 'retries', 'description', 'tags', 'isolation', 'partitions'] as const;

/** `partitions: 'daily(start=2026-01-01)'`: the grammar of `@partitions_by`. */
function checkPartitions(what: string, value: unknown): PartitionDef | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw definitionError(`${what}: \`partitions\` must be a string`, { expected: PARTITION_FORM });
  const parsed = parsePartitions(value);
  if (!parsed.ok) throw definitionError(`${what}: \`partitions\`: ${parsed.error.message}`, { expected: PARTITION_FORM });
  return parsed.value;
}

/** Checks the options of `dag.task(options, fn)`; the Dag checks the name is not taken. */
export function normaliseDagTask(dagName: string, options: unknown, fn: unknown, definedAt: CallSite | null): DagTaskSpec {
  const o = checkOptionsObject(`task of Dag \`${dagName}\``, options);
  const name = checkName('task', o.name);
  const what = `task \`${name}\` of Dag \`${dagName}\``;
  checkKeys(what, o, DAG_TASK_OPTIONS);
  const requires = stringList(`${what}: \`requires\``, o.requires);
  for (const r of requires) {
    if (!TASK_NAME.test(r)) throw definitionError(`${what}: invalid task name \`${r}\` in \`requires\``, { expected: TASK_NAME_FORM });
    if (r === name) throw definitionError(`${what} requires itself`);
  }
  return {
    name,
    requires: [...new Set(requires)],
    timeoutSeconds: checkTimeout(what, o.timeout),
    retries: checkRetries(what, o.retries),
    retriesSet: o.retries !== undefined && o.retries !== null,
    description: optionalText(`${what}: \`description\``, o.description),
    tags: stringList(`${what}: \`tags\``, o.tags),
    isolation: checkIsolation(what, o.isolation),
    partitions: checkPartitions(what, o.partitions),
    fn: checkFunction(what, fn),
    definedAt,
  };
}

export const ASSET_OPTIONS = ['name', 'deps', 'task', 'timeout', 'retries', 'description', 'group', 'owner', 'tags', 'partitions'] as const;

/** Checks the options of `asset(options, fn)`. */
export function normaliseAsset(options: unknown, fn: unknown, definedAt: CallSite | null): AssetSpec {
  const o = checkOptionsObject('asset()', options);
  if (typeof o.name !== 'string' || o.name.trim() === '') {
    throw definitionError('asset() needs a `name`: the dataset it materialises', { expected: "a dataset name, e.g. 'analytics.scores'" });
  }
  const dataset = parseDatasetName(o.name);
  if (dataset === undefined) {
    throw definitionError(`invalid dataset name \`${o.name}\` for asset()`, {
      expected: "schema.table, e.g. 'analytics.scores', or file:path",
    });
  }
  const what = `asset \`${dataset}\``;
  checkKeys(what, o, ASSET_OPTIONS);
  let name: string;
  if (o.task !== undefined && o.task !== null) name = checkName('task', o.task);
  else {
    name = defaultTaskName(dataset);
    if (!TASK_NAME.test(name)) {
      throw definitionError(`${what}: its last part \`${name}\` is not a valid task name`, {
        hint: "name the task with the `task` option, e.g. task: 'build_scores'",
      });
    }
  }
  const deps: string[] = [];
  for (const d of stringList(`${what}: \`deps\``, o.deps)) {
    const parsed = parseDatasetName(d);
    if (parsed === undefined)
      throw definitionError(`${what}: invalid dataset name \`${d}\` in \`deps\``, { expected: 'schema.table or file:path' });
    if (datasetKey(parsed) === datasetKey(dataset)) throw definitionError(`${what} lists itself in \`deps\``);
    deps.push(parsed);
  }
  return {
    dataset,
    name,
    deps: [...new DatasetSet(deps)],
    timeoutSeconds: checkTimeout(what, o.timeout),
    retries: checkRetries(what, o.retries),
    retriesSet: o.retries !== undefined && o.retries !== null,
    description: optionalText(`${what}: \`description\``, o.description),
    group: optionalText(`${what}: \`group\``, o.group),
    owner: optionalText(`${what}: \`owner\``, o.owner),
    tags: stringList(`${what}: \`tags\``, o.tags),
    partitions: checkPartitions(what, o.partitions),
    fn: checkFunction(what, fn),
    definedAt,
  };
}

/** `analytics.scores` → `scores`; `file:out/scores.parquet` → `scores`. */
function defaultTaskName(dataset: string): string {
  if (isFileDataset(dataset)) {
    const base = dataset
      .split('/')
      .at(-1)!
      .replace(/^file:/, '');
    return base.replace(/\.[^.]*$/, '');
  }
  return identifierParts(dataset).at(-1)!;
}

type Branded = Record<PropertyKey, unknown>;

function branded(value: unknown, brand: symbol): Branded | undefined {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return undefined;
  return (value as Branded)[brand] === BRAND_VERSION ? (value as Branded) : undefined;
}

export function isDagValue(value: unknown): boolean {
  return branded(value, DAG_BRAND) !== undefined;
}

export function isAssetValue(value: unknown): boolean {
  return branded(value, ASSET_BRAND) !== undefined;
}

/** The Dag a branded value describes, from whichever copy of the library made it. */
export function dagSpecOf(value: unknown): DagSpec | undefined {
  const v = branded(value, DAG_BRAND);
  if (!v) return undefined;
  return { name: v.name as string, tasks: v.tasks as DagTaskSpec[] };
}

export function assetSpecOf(value: unknown): AssetSpec | undefined {
  const v = branded(value, ASSET_BRAND);
  return v ? (v.spec as AssetSpec) : undefined;
}

/** Where a task's code lives and how it is shown. */
export interface FunctionModuleRef {
  /** Absolute path of the module. */
  module: string;
  exportName: string;
  /** The module as the user sees it (relative to the working directory when inside it). */
  file: string;
}

function locationOf(site: CallSite | null, ref: FunctionModuleRef): SourceLocation {
  // The frame names the module by path, or by file URL for native ESM.
  const same =
    site && (site.path === ref.module || site.path === `file://${ref.module}` || decodeURI(site.path) === `file://${ref.module}`);
  return same ? { file: ref.file, line: site.line, col: site.col } : { file: ref.file, line: 1, col: 1 };
}

function baseDefinition(ref: FunctionModuleRef, at: SourceLocation): Omit<TaskDefinition, 'name' | 'codeVersion' | 'function'> {
  return {
    ...emptyHeader(),
    kind: 'function',
    // Graph errors (a duplicate name, an unknown dependency) point at the declaring call.
    keyLocations: {
      task: { line: at.line, col: at.col },
      outputs: { line: at.line, col: at.col },
      depends_on: { line: at.line, col: at.col },
    },
    file: ref.file,
    sql: '',
    bodyLine: at.line,
    bodyCol: at.col,
    inputs: [],
    outputs: [],
    lineage: [],
    statementCount: 0,
  };
}

/**
 * A code version that changes when the function's source or its options change: an edited
 * function is a new version of the task (as an edited SQL body is).
 */
export function functionCodeVersion(fn: AnyFunction, options: Record<string, unknown>): string {
  return codeVersion(JSON.stringify({ fn: fn.toString(), options }));
}

/**
 * The definitions of a Dag's tasks. Every `requires` must name a task of the same Dag, and the
 * Dag must be acyclic; all problems are reported together (`DuckorchErrors`).
 */
export function dagDefinitions(dag: DagSpec, ref: FunctionModuleRef): TaskDefinition[] {
  const errors: DuckorchError[] = [];
  const names = dag.tasks.map((t) => t.name);
  for (const t of dag.tasks) {
    for (const r of t.requires) {
      if (names.includes(r)) continue;
      const hint = didYouMean(r, names);
      errors.push(
        new DuckorchError(
          'DAG_DEFINITION',
          `task \`${t.name}\` of Dag \`${dag.name}\` requires \`${r}\`, which is not a task of that Dag`,
          {
            location: locationOf(t.definedAt, ref),
            hint: hint ?? `its tasks: ${names.map((n) => `\`${n}\``).join(', ')}`,
          },
        ),
      );
    }
  }
  const cycle = findCycle(dag.tasks);
  if (cycle) {
    const first = dag.tasks.find((t) => t.name === cycle[0])!;
    errors.push(
      new DuckorchError('DAG_CYCLE', `the tasks of Dag \`${dag.name}\` form a cycle: ${cycle.join(' → ')}`, {
        location: locationOf(first.definedAt, ref),
        hint: 'remove one of these `requires`',
      }),
    );
  }
  if (errors.length === 1) throw errors[0]!;
  if (errors.length > 1) throw new DuckorchErrors(errors);
  return dag.tasks.map((t) => {
    const at = locationOf(t.definedAt, ref);
    const base = baseDefinition(ref, at);
    // Where `retries` was given, as a SQL file's `@retries` is recorded: tasks without it get `orch_max_attempts`.
    if (t.retriesSet) base.keyLocations = { ...base.keyLocations, retries: { line: at.line, col: at.col } };
    // Recorded only when inline, so that the definitions (and code versions) of thread tasks are what they were before the option existed.
    const inline = t.isolation === 'inline' ? { isolation: 'inline' as const } : {};
    return {
      ...base,
      name: t.name,
      description: t.description,
      tags: t.tags,
      retries: t.retries,
      timeoutSeconds: t.timeoutSeconds,
      dependsOn: [...t.requires],
      partitions: t.partitions ?? null,
      codeVersion: functionCodeVersion(t.fn, {
        dag: dag.name,
        requires: t.requires,
        timeout: t.timeoutSeconds,
        retries: t.retries,
        ...inline,
        // Only when set, so that code versions of unpartitioned tasks stay what they were.
        ...(t.partitions ? { partitions: t.partitions } : {}),
      }),
      function: { module: ref.module, exportName: ref.exportName, dag: dag.name, ...inline },
    };
  });
}

/** The definition of an `asset()`: it reads `deps` and writes its dataset, which is its asset. */
export function assetDefinition(spec: AssetSpec, ref: FunctionModuleRef): TaskDefinition {
  const at = locationOf(spec.definedAt, ref);
  const asset: AssetDecl = {
    name: spec.dataset,
    kind: 'table',
    group: spec.group,
    owner: spec.owner,
    description: spec.description,
    tags: spec.tags,
  };
  const inputs = [...spec.deps].sort();
  const base = baseDefinition(ref, at);
  if (spec.retriesSet) base.keyLocations = { ...base.keyLocations, retries: { line: at.line, col: at.col } };
  return {
    ...base,
    name: spec.name,
    description: spec.description,
    owner: spec.owner,
    tags: spec.tags,
    retries: spec.retries,
    timeoutSeconds: spec.timeoutSeconds,
    asset,
    declaredInputs: [...spec.deps],
    declaredOutputs: [spec.dataset],
    inputs,
    outputs: [spec.dataset],
    lineage: inputs.map((src) => ({ src, dst: spec.dataset })),
    partitions: spec.partitions ?? null,
    codeVersion: functionCodeVersion(spec.fn, {
      asset: spec.dataset,
      deps: spec.deps,
      timeout: spec.timeoutSeconds,
      retries: spec.retries,
      ...(spec.partitions ? { partitions: spec.partitions } : {}),
    }),
    function: { module: ref.module, exportName: ref.exportName, dag: null },
  };
}

/** One cycle among the tasks as a closed path (`a → b → a`), or undefined. */
function findCycle(tasks: readonly DagTaskSpec[]): string[] | undefined {
  const requires = new Map(tasks.map((t) => [t.name, t.requires]));
  const state = new Map<string, 'active' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'active') return [...stack.slice(stack.indexOf(name)), name];
    state.set(name, 'active');
    stack.push(name);
    for (const r of requires.get(name) ?? []) {
      const found = requires.has(r) ? visit(r) : undefined;
      if (found) return found;
    }
    stack.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const t of tasks) {
    const found = visit(t.name);
    if (found) return found;
  }
  return undefined;
}
