/**
 * TypeScript and JavaScript task modules: loaded without a build step by jiti (which compiles
 * TypeScript on the fly), imported lazily so that commands that need no module (`--help`) never
 * load it. Inside a task module, `import … from 'duckorch'` means this very copy of duckorch,
 * wherever the module lives (also inside a checkout of this repository, which has no
 * `node_modules/duckorch`): values it creates are then the library's own.
 *
 * A module is evaluated anew by `loadTaskModule` (so that `register` after an edit sees the
 * edit) and kept per process; `resolveTaskFunction` uses the kept module, loading it once when
 * the process has not loaded it yet. A worker thread that runs Dag tasks (`dag-thread-entry.ts`)
 * keeps its own, reloading one that its process evaluated anew since (`moduleEvaluation`).
 *
 * Compiling TypeScript is most of what loading a module costs, so compiled code is kept per
 * process, by source and options, and shared with the process's threads (`configureTaskModules`).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as Jiti from 'jiti';
import { DuckorchError, DuckorchErrors, type SourceLocation } from '../errors.js';
import { didYouMean } from '../model/suggest.js';
import {
  assetDefinition,
  assetSpecOf,
  dagDefinitions,
  dagSpecOf,
  isAssetValue,
  isDagValue,
  type AnyFunction,
  type FunctionModuleRef,
} from '../model/taskfile/function-task.js';
import type { TaskDefinition } from '../model/taskfile/task.js';
import { taskLibrary } from '../task-library.js';
import { cachedTransform, cacheTransform } from './transform-cache.js';
import { contentHash, displayPath, TASK_MODULE_EXTENSIONS, type LoadedTaskFile } from './task-files.js';

export { isTaskModuleFile, TASK_MODULE_EXTENSIONS } from './task-files.js';

type ModuleExports = Record<string, unknown>;

interface Loader {
  import(id: string): Promise<unknown>;
}

type TransformOptions = Parameters<NonNullable<Jiti.JitiOptions['transform']>>[0];

/** How this process loads task modules; a worker thread sets it before loading any. */
export interface TaskModuleSetup {
  /** What `import … from 'duckorch'` gives a task module; by default `taskLibrary()`. */
  library?: () => Promise<unknown>;
  /** Compiled code to start from (another thread's, by `transformKey`). */
  transforms?: Iterable<[string, string]>;
  /** Told of each module this process compiles. */
  onTransform?: (key: string, code: string) => void;
}

let setup: TaskModuleSetup = {};

export function configureTaskModules(options: TaskModuleSetup): void {
  if (loaderPromise) throw new DuckorchError('INTERNAL', 'configureTaskModules() after a task module was loaded');
  setup = options;
  for (const [key, code] of options.transforms ?? []) keepTransform(key, code);
}

/** Compiled code by `transformKey`: bounded, oldest out first (a module edited many times leaves old versions behind). */
const transforms = new Map<string, string>();
const MAX_TRANSFORMS = 500;

function keepTransform(key: string, code: string): void {
  transforms.set(key, code);
  if (transforms.size > MAX_TRANSFORMS) transforms.delete(transforms.keys().next().value!);
}

/** The code this process compiled or was given, for a new thread to start from. */
export function compiledModules(): Array<[string, string]> {
  return [...transforms];
}

/** Adds code a thread compiled. */
export function addCompiledModule(key: string, code: string): void {
  keepTransform(key, code);
}

function transformKey(options: TransformOptions): string {
  return createHash('sha256').update(JSON.stringify(options)).digest('base64url');
}

let loaderPromise: Promise<Loader> | undefined;

async function loader(): Promise<Loader> {
  loaderPromise ??= (async () => {
    // Its CommonJS build: as an ES module it takes twice as long to load.
    const { createJiti } = createRequire(import.meta.url)('jiti') as typeof Jiti;
    // `duckorch` inside a task module is this copy: the same classes, whatever the module's location.
    const self: unknown = await (setup.library ?? taskLibrary)();
    // jiti's own compiler, for code not compiled yet.
    const compiler = createJiti(import.meta.url, { fsCache: false, moduleCache: false });
    return createJiti(import.meta.url, {
      // Not jiti's cache folder (beside the project): compiled code is kept by `transform-cache.ts`.
      fsCache: false,
      // Each load evaluates the module again, so that an edited module is seen.
      moduleCache: false,
      interopDefault: false,
      virtualModules: { duckorch: self },
      transform: (options) => {
        const key = transformKey(options);
        let code = transforms.get(key);
        if (code === undefined) {
          code = cachedTransform(key);
          if (code === undefined) {
            code = compiler.transform(options);
            cacheTransform(key, code);
          }
          keepTransform(key, code);
          setup.onTransform?.(key, code);
        }
        return { code };
      },
    });
  })();
  return loaderPromise;
}

/** Modules loaded by this process, by absolute path, with the evaluation (`moduleEvaluation`) they are of. */
const loaded = new Map<string, { exports: Promise<ModuleExports>; evaluation: number }>();

/** How many times this process evaluated a module anew (`register`, `--dag`): 0 when never. */
const evaluations = new Map<string, number>();

export function moduleEvaluation(absPath: string): number {
  return evaluations.get(absPath) ?? 0;
}

/** Loads a module and keeps it as the process's (or thread's) copy of it. */
function keep(absPath: string, file: string, evaluation: number): Promise<ModuleExports> {
  const exports = importModule(absPath, file);
  const entry = { exports, evaluation };
  loaded.set(absPath, entry);
  exports.catch(() => {
    if (loaded.get(absPath) === entry) loaded.delete(absPath);
  });
  return exports;
}

/** Evaluates a module anew, for this process and the threads that run its tasks. */
function evaluate(absPath: string, file: string): Promise<ModuleExports> {
  const evaluation = moduleEvaluation(absPath) + 1;
  evaluations.set(absPath, evaluation);
  return keep(absPath, file, evaluation);
}

async function importModule(absPath: string, file: string): Promise<ModuleExports> {
  const jiti = await loader();
  let mod: unknown;
  try {
    mod = await jiti.import(absPath);
  } catch (err) {
    throw loadError(err, absPath, file);
  }
  return (mod ?? {}) as ModuleExports;
}

/** Why a module did not load, at its `file:line:col` when that can be told. */
function loadError(err: unknown, absPath: string, file: string): DuckorchError {
  const hint = 'fix the module, or move it out of the task folder if it is not a task module';
  if (!(err instanceof Error)) {
    const shown = typeof err === 'string' ? JSON.stringify(err) : String(err);
    return new DuckorchError('MODULE_LOAD', `task module ${file} failed to load: it threw a non-Error value: ${shown}`, { hint });
  }
  const syntax = /^(?:\w*Error: )?(?:ParseError: )?([^\n]*?)\s*\n\s*(\S.*?):(\d+):(\d+)\s*$/s.exec(err.message);
  if (/ParseError|SyntaxError/.test(err.message) || err.name === 'SyntaxError') {
    const location = syntax ? { file, line: Number(syntax[3]), col: Number(syntax[4]) } : stackLocation(err, absPath, file);
    const what = (syntax?.[1] ?? err.message.split('\n')[0]!).trim();
    return new DuckorchError('MODULE_LOAD', `task module ${file} has a syntax error: ${what}`, {
      ...(location ? { location } : {}),
      hint: 'fix the syntax; TypeScript is compiled without type checking, so only syntax errors stop a module from loading',
    });
  }
  if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' || (err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
    const specifier = /Cannot find (?:module|package) '([^']+)'/.exec(err.message)?.[1];
    const location = specifier ? specifierLocation(absPath, file, specifier) : undefined;
    return new DuckorchError('MODULE_LOAD', `task module ${file} failed to load: ${err.message.split('\n')[0]}`, {
      ...(location ? { location } : {}),
      hint: specifier?.startsWith('.') ? 'check the relative path of the import' : 'install the package beside the module (npm install)',
    });
  }
  const location = stackLocation(err, absPath, file);
  if (err instanceof DuckorchError) {
    // A Dag or asset declared with bad options: the library's own error, at the module's line.
    return new DuckorchError(err.code, err.message, {
      ...(location ? { location } : {}),
      ...(err.expected ? { expected: err.expected } : {}),
      ...(err.hint ? { hint: err.hint } : {}),
    });
  }
  if (err.name === 'DuckorchError' && 'code' in err) {
    // From another copy of the library: keep what it says.
    const e = err as unknown as { code: DuckorchError['code']; hint?: string; expected?: string };
    return new DuckorchError(e.code, err.message, {
      ...(location ? { location } : {}),
      ...(e.expected ? { expected: e.expected } : {}),
      ...(e.hint ? { hint: e.hint } : {}),
    });
  }
  return new DuckorchError('MODULE_LOAD', `task module ${file} threw while loading: ${err.message || err.name}`, {
    ...(location ? { location } : {}),
    hint,
  });
}

/** The first stack frame in the module itself (jiti keeps the module's line numbers). */
function stackLocation(err: Error, absPath: string, file: string): SourceLocation | undefined {
  for (const line of (err.stack ?? '').split('\n')) {
    const m = /^\s*at (?:.*\()?(.+?):(\d+):(\d+)\)?$/.exec(line);
    if (!m) continue;
    const p = m[1]!.startsWith('file://') ? decodeURI(m[1]!.slice('file://'.length)) : m[1]!;
    if (p === absPath) return { file, line: Number(m[2]), col: Number(m[3]) };
  }
  return undefined;
}

/** Where the module names an import it could not resolve. */
function specifierLocation(absPath: string, file: string, specifier: string): SourceLocation | undefined {
  let text: string;
  try {
    text = fs.readFileSync(absPath, 'utf8');
  } catch {
    return undefined;
  }
  for (const quote of ["'", '"', '`']) {
    const i = text.indexOf(`${quote}${specifier}${quote}`);
    if (i < 0) continue;
    const before = text.slice(0, i).split('\n');
    return { file, line: before.length, col: before.at(-1)!.length + 1 };
  }
  return undefined;
}

/** Exported names in a stable order, each value once: a Dag exported as `etl` and as `default` is `etl`. */
function taskExports(mod: ModuleExports): Array<[string, unknown]> {
  const names = Object.keys(mod).sort((a, b) => (a === 'default' ? 1 : b === 'default' ? -1 : 0));
  const seen = new Set<unknown>();
  const out: Array<[string, unknown]> = [];
  for (const name of names) {
    const value = mod[name];
    if (!isDagValue(value) && !isAssetValue(value)) continue;
    if (seen.has(value)) continue;
    seen.add(value);
    out.push([name, value]);
  }
  return out;
}

function definitionsOf(name: string, value: unknown, absPath: string, file: string): TaskDefinition[] {
  const ref: FunctionModuleRef = { module: absPath, exportName: name, file };
  const dag = dagSpecOf(value);
  if (dag) return dagDefinitions(dag, ref);
  return [assetDefinition(assetSpecOf(value)!, ref)];
}

/**
 * The task definitions of every Dag and asset a module exports (none for a helper module).
 * Throws `DuckorchError` (or `DuckorchErrors`) when the module does not load or declares
 * something wrong.
 */
export async function loadTaskModule(absPath: string, file: string): Promise<TaskDefinition[]> {
  const mod = await evaluate(absPath, file);
  const errors: DuckorchError[] = [];
  const definitions: TaskDefinition[] = [];
  for (const [name, value] of taskExports(mod)) {
    try {
      definitions.push(...definitionsOf(name, value, absPath, file));
    } catch (err) {
      errors.push(...errorList(err));
    }
  }
  if (errors.length === 1) throw errors[0]!;
  if (errors.length > 1) throw new DuckorchErrors(errors);
  return definitions;
}

function errorList(err: unknown): DuckorchError[] {
  if (err instanceof DuckorchErrors) return err.errors;
  if (err instanceof DuckorchError) return [err];
  throw err;
}

/**
 * `register`'s view of task modules: one entry per task (or one carrying the module's errors),
 * every problem reported rather than thrown. A task whose definition is unchanged keeps the
 * previous definition object.
 */
export async function loadTaskModuleFiles(
  modules: ReadonlyArray<{ path: string; realPath: string }>,
  previous: ReadonlyMap<string, TaskDefinition> = new Map(),
): Promise<Array<LoadedTaskFile & { realPath: string }>> {
  const out: Array<LoadedTaskFile & { realPath: string }> = [];
  for (const m of modules) {
    const absolutePath = path.resolve(m.path);
    const file = displayPath(absolutePath);
    let hash: string | undefined;
    try {
      hash = contentHash(fs.readFileSync(absolutePath, 'utf8'));
    } catch {
      hash = undefined;
    }
    const base = { file, absolutePath, hash, reused: false, realPath: m.realPath, warnings: [] as DuckorchError[] };
    try {
      const defs = await loadTaskModule(absolutePath, file);
      for (const d of defs) {
        const before = previous.get(d.name);
        const same = before !== undefined && JSON.stringify(before) === JSON.stringify(d);
        out.push({ ...base, task: same ? before : d, errors: [], reused: same });
      }
    } catch (err) {
      out.push({ ...base, task: undefined, errors: errorList(err) });
    }
  }
  return out;
}

/** The kept module; loaded when there is none, or (`evaluation` given, in a thread) when the process evaluated it anew since. */
async function keptModule(absPath: string, file: string, evaluation?: number): Promise<ModuleExports> {
  const kept = loaded.get(absPath);
  if (kept && (evaluation === undefined || kept.evaluation === evaluation)) return kept.exports;
  if (!fs.existsSync(absPath)) {
    throw new DuckorchError('FILE_NOT_FOUND', `task module ${file} no longer exists`, {
      hint: 'register the task folder again, or restore the module',
    });
  }
  return keep(absPath, file, evaluation ?? 0);
}

/**
 * The function to call for a `function` task, from its module (loaded once per process, or per
 * thread: see `keptModule`).
 */
export async function resolveTaskFunction(
  def: Pick<TaskDefinition, 'name' | 'kind' | 'file' | 'function'>,
  evaluation?: number,
): Promise<AnyFunction> {
  const source = def.function;
  if (def.kind !== 'function' || !source) {
    throw new DuckorchError('INTERNAL', `task \`${def.name}\` is not a function task`);
  }
  const file = def.file;
  const mod = await keptModule(source.module, file, evaluation);
  const again = 'register the task folder again';
  if (!Object.hasOwn(mod, source.exportName)) {
    const hint = didYouMean(source.exportName, Object.keys(mod));
    throw new DuckorchError('UNKNOWN_NAME', `task module ${file} no longer exports \`${source.exportName}\` (task \`${def.name}\`)`, {
      hint: hint ? `${hint} (${again})` : again,
    });
  }
  const value = mod[source.exportName];
  if (source.dag === null) {
    const spec = assetSpecOf(value);
    if (!spec)
      throw new DuckorchError('UNKNOWN_NAME', `export \`${source.exportName}\` of ${file} is no longer an asset()`, { hint: again });
    if (spec.name !== def.name) {
      throw new DuckorchError(
        'UNKNOWN_NAME',
        `export \`${source.exportName}\` of ${file} is now task \`${spec.name}\`, not \`${def.name}\``,
        {
          hint: again,
        },
      );
    }
    return spec.fn;
  }
  const dag = dagSpecOf(value);
  if (!dag) throw new DuckorchError('UNKNOWN_NAME', `export \`${source.exportName}\` of ${file} is no longer a Dag`, { hint: again });
  const task = dag.tasks.find((t) => t.name === def.name);
  if (!task) {
    const hint = didYouMean(
      def.name,
      dag.tasks.map((t) => t.name),
    );
    throw new DuckorchError('UNKNOWN_NAME', `Dag \`${dag.name}\` (${file}) has no task \`${def.name}\` any more`, {
      hint: hint ? `${hint} (${again})` : again,
    });
  }
  return task.fn;
}

/**
 * `--dag path/module[:export]`: the definitions of one Dag, straight from its module. Without
 * `:export`, the module's only Dag export, or its `default` export.
 */
export async function loadDagSpec(spec: string, cwd: string): Promise<TaskDefinition[]> {
  const { modulePath, exportName } = splitDagSpec(spec);
  const absPath = resolveModulePath(modulePath, cwd, spec);
  const file = displayPath(absPath, cwd);
  const mod = await evaluate(absPath, file);
  let name: string;
  if (exportName !== undefined) {
    if (!Object.hasOwn(mod, exportName)) {
      const exported = Object.keys(mod);
      const hint = didYouMean(exportName, exported);
      throw new DuckorchError('UNKNOWN_NAME', `${file} has no export \`${exportName}\``, {
        hint: hint ?? (exported.length > 0 ? `its exports: ${exported.map((e) => `\`${e}\``).join(', ')}` : 'it exports nothing'),
      });
    }
    name = exportName;
  } else {
    const dags = taskExports(mod).filter(([, v]) => isDagValue(v));
    if (dags.length === 1) name = dags[0]![0];
    else if (Object.hasOwn(mod, 'default')) name = 'default';
    else if (dags.length === 0) {
      throw new DuckorchError('UNKNOWN_NAME', `${file} exports no Dag`, {
        hint: "export one: export const dag = new Dag('name')",
      });
    } else {
      throw new DuckorchError('USAGE', `${file} exports several Dags: ${dags.map(([n]) => `\`${n}\``).join(', ')}`, {
        hint: `name one: --dag ${modulePath}:${dags[0]![0]}`,
      });
    }
  }
  const value = mod[name];
  const dag = dagSpecOf(value);
  if (!dag) {
    const what = isAssetValue(value) ? 'an asset(), not a Dag' : `not a Dag (it is ${describeValue(value)})`;
    throw new DuckorchError('DAG_DEFINITION', `export \`${name}\` of ${file} is ${what}`, {
      hint: 'point --dag at an export made with new Dag(…); register a folder to run assets',
    });
  }
  return dagDefinitions(dag, { module: absPath, exportName: name, file });
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object')
    return `an object${value.constructor?.name && value.constructor.name !== 'Object' ? ` (${value.constructor.name})` : ''}`;
  return `a ${typeof value}`;
}

/** `dags/etl.ts:pipeline` → module and export; a Windows drive's colon is not an export separator. */
export function splitDagSpec(spec: string): { modulePath: string; exportName: string | undefined } {
  const m = /^(.+):([A-Za-z_$][A-Za-z0-9_$]*)$/.exec(spec);
  if (m && !/^[A-Za-z]$/.test(m[1]!)) return { modulePath: m[1]!, exportName: m[2] };
  return { modulePath: spec, exportName: undefined };
}

/** Whether `--dag <spec>` names a module file (as written, or with a module extension added). */
export function moduleExists(spec: string, cwd: string): boolean {
  const abs = path.resolve(cwd, splitDagSpec(spec).modulePath);
  const candidates = path.extname(abs) === '' ? [abs, ...TASK_MODULE_EXTENSIONS.map((ext) => abs + ext)] : [abs];
  return candidates.some((c) => fs.statSync(c, { throwIfNoEntry: false })?.isFile() === true);
}

function resolveModulePath(modulePath: string, cwd: string, spec: string): string {
  const abs = path.resolve(cwd, modulePath);
  const candidates = path.extname(abs) === '' ? TASK_MODULE_EXTENSIONS.map((ext) => abs + ext) : [abs];
  for (const c of candidates) {
    const stat = fs.statSync(c, { throwIfNoEntry: false });
    if (stat?.isFile()) {
      if (!TASK_MODULE_EXTENSIONS.some((ext) => c.toLowerCase().endsWith(ext))) {
        throw new DuckorchError('USAGE', `--dag ${spec}: ${displayPath(c, cwd)} is not a task module`, {
          expected: `a ${TASK_MODULE_EXTENSIONS.join(', ')} file, optionally followed by :export`,
        });
      }
      return fs.realpathSync(c);
    }
  }
  throw new DuckorchError('FILE_NOT_FOUND', `--dag ${spec}: module ${displayPath(abs, cwd)} does not exist`, {
    expected: 'path/to/module.ts[:export]',
  });
}
