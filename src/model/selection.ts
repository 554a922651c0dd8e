/**
 * dbt's node selection grammar over tasks and assets:
 *
 *   `name`        a task, or the task producing the asset/table `name`
 *   `+name`       it and all its upstream tasks;   `2+name` up to two hops up
 *   `name+`       it and all its downstream tasks; `name+1` one hop down
 *   `@name`       it, its downstream tasks, and everything those need upstream
 *   `tag:daily`   tasks tagged `daily` (task or asset tags)
 *   `group:sales` tasks whose asset is in group `sales`
 *   `path:tasks/x` tasks whose file is `tasks/x` or under it (globs allowed)
 *   `task:x`, `asset:x` match only task names or only asset names
 *
 * Space separates a union, comma an intersection. `*` and `?` glob within names.
 */
import picomatch from 'picomatch';
import { DuckorchError } from '../errors.js';
import type { TaskGraph } from './graph/dag.js';
import { datasetKey, parseDatasetName } from './names.js';
import { didYouMean } from './suggest.js';

export interface SelectableTask {
  name: string;
  /** Path relative to the working directory, with `/` separators. */
  file: string;
  /** Absolute path, with `/` separators, for `path:/…` selectors. */
  absolutePath?: string;
  tags: readonly string[];
  group: string | null;
  /** Datasets and asset names this task produces. */
  produces: readonly string[];
}

const METHODS = ['tag', 'group', 'path', 'task', 'asset'] as const;
type Method = (typeof METHODS)[number] | 'default';

interface Atom {
  text: string;
  at: boolean;
  up: number | undefined | null; // null: no `+` prefix; undefined: unlimited
  down: number | undefined | null;
  method: Method;
  value: string;
}

const ATOM = /^(@)?(?:(\d*)\+)?(?:([a-z_]+):)?(.+?)(?:\+(\d*))?$/;

export const SELECTOR_FORM =
  'name, +name, name+, 2+name, @name, tag:x, group:x, path:dir, task:x or asset:x; space = union, comma = intersection';

function parseAtom(text: string): Atom {
  const m = ATOM.exec(text);
  if (!m || m[4] === undefined || m[4] === '') throw selectorError(`invalid selector \`${text}\``);
  const [, at, upN, rawMethod, rawValue, downN] = m;
  // `file:data/x.csv` is a dataset name, not a selector method.
  const method = rawMethod === 'file' ? undefined : rawMethod;
  const value = rawMethod === 'file' ? `file:${rawValue}` : rawValue;
  if (method !== undefined && !(METHODS as readonly string[]).includes(method)) {
    throw selectorError(
      `unknown selector method \`${method}:\` in \`${text}\``,
      didYouMean(method, METHODS, (m) => `\`${m}:\``),
    );
  }
  if (at && upN !== undefined) throw selectorError(`\`@\` cannot be combined with a \`+\` prefix in \`${text}\``);
  const hops = (n: string | undefined) => (n === undefined ? null : n === '' ? undefined : Number(n));
  return {
    text,
    at: at !== undefined,
    up: hops(upN),
    down: hops(downN),
    method: (method as Method | undefined) ?? 'default',
    value: value!,
  };
}

function selectorError(message: string, hint?: string): DuckorchError {
  return new DuckorchError('SELECTOR', message, { expected: SELECTOR_FORM, ...(hint ? { hint } : {}) });
}

function matcher(value: string): (candidate: string) => boolean {
  if (/[*?[\]]/.test(value)) {
    const isMatch = picomatch(value.toLowerCase(), { dot: true });
    return (c) => isMatch(c.toLowerCase());
  }
  const lower = value.toLowerCase();
  return (c) => c.toLowerCase() === lower;
}

/** `path:` matches a task file or a folder it is in, by its path relative to the working directory or, for `/…`, its absolute path. */
function matchPath(task: SelectableTask, value: string): boolean {
  const v = value.replace(/\\/g, '/').replace(/^\.\//, '').replace(/\/+$/, '');
  const file = v.startsWith('/') ? (task.absolutePath ?? task.file) : task.file;
  if (/[*?[\]]/.test(v)) {
    const isMatch = picomatch(v, { dot: true });
    // `path:tasks/40_*` selects what is in the folders the glob matches, as well as files it matches.
    const parts = file.split('/');
    return parts.some((_, i) => isMatch(parts.slice(0, i + 1).join('/')));
  }
  return file === v || file.startsWith(`${v}/`) || file === `${v}.sql`;
}

function baseMatches(atom: Atom, tasks: readonly SelectableTask[]): Set<string> {
  const out = new Set<string>();
  const is = matcher(atom.value);
  const dataset = parseDatasetName(atom.value);
  const isDataset = (t: SelectableTask) =>
    t.produces.some((p) => is(p) || (dataset !== undefined && datasetKey(p) === datasetKey(dataset)));
  const looksLikePath = atom.value.includes('/') || atom.value.endsWith('.sql');
  for (const t of tasks) {
    let hit: boolean;
    switch (atom.method) {
      case 'tag':
        hit = t.tags.some(is);
        break;
      case 'group':
        hit = t.group !== null && is(t.group);
        break;
      case 'path':
        hit = matchPath(t, atom.value);
        break;
      case 'task':
        hit = is(t.name);
        break;
      case 'asset':
        hit = isDataset(t);
        break;
      default:
        hit = is(t.name) || isDataset(t) || (looksLikePath && matchPath(t, atom.value));
    }
    if (hit) out.add(t.name);
  }
  return out;
}

/** What a selector of this method could have named, for "did you mean". */
function candidatesFor(method: Method, tasks: readonly SelectableTask[]): string[] {
  switch (method) {
    case 'tag':
      return tasks.flatMap((t) => t.tags);
    case 'group':
      return tasks.flatMap((t) => (t.group === null ? [] : [t.group]));
    case 'path':
      return tasks.map((t) => t.file);
    case 'task':
      return tasks.map((t) => t.name);
    case 'asset':
      return tasks.flatMap((t) => t.produces);
    default:
      return [...tasks.map((t) => t.name), ...tasks.flatMap((t) => t.produces)];
  }
}

function expand(atom: Atom, base: Set<string>, graph: TaskGraph): Set<string> {
  const out = new Set(base);
  if (atom.at) {
    const down = graph.walk(base, 'down');
    for (const d of down) out.add(d);
    for (const u of graph.walk(out, 'up')) out.add(u);
    return out;
  }
  if (atom.up !== null) for (const u of graph.walk(base, 'up', atom.up)) out.add(u);
  if (atom.down !== null) for (const d of graph.walk(base, 'down', atom.down)) out.add(d);
  return out;
}

/** Splits at `separator`s outside double quotes, so that `"Sales Data".orders` stays one value. */
function splitOutsideQuotes(text: string, separator: RegExp): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (const c of text) {
    if (c === '"') quoted = !quoted;
    if (!quoted && separator.test(c)) {
      out.push(current);
      current = '';
    } else current += c;
  }
  out.push(current);
  return out.filter((p) => p !== '');
}

/**
 * The tasks a list of selector expressions names. A selector that names nothing that exists is
 * an error under `--select`, and a warning under `--exclude` (as in dbt).
 */
function evaluate(
  expressions: readonly string[],
  tasks: readonly SelectableTask[],
  graph: TaskGraph,
  onNothing: (part: string, hint: string | undefined) => void,
): Set<string> {
  const union = new Set<string>();
  for (const token of expressions.flatMap((e) => splitOutsideQuotes(e, /\s/))) {
    let intersection: Set<string> | undefined;
    for (const part of splitOutsideQuotes(token, /,/)) {
      const atom = parseAtom(part);
      const base = baseMatches(atom, tasks);
      if (base.size === 0) onNothing(part, didYouMean(atom.value, candidatesFor(atom.method, tasks)));
      const selected = expand(atom, base, graph);
      intersection = intersection ? new Set([...intersection].filter((n) => selected.has(n))) : selected;
    }
    for (const n of intersection ?? []) union.add(n);
  }
  return union;
}

export interface SelectionResult {
  selected: Set<string>;
  /** `--exclude` selectors that matched nothing. */
  warnings: string[];
}

/** Applies `--select` and `--exclude`; no `--select` means every task. The result may be empty. */
export function selectTasks(
  graph: TaskGraph,
  tasks: readonly SelectableTask[],
  select: readonly string[] | undefined,
  exclude: readonly string[] | undefined,
): SelectionResult {
  const warnings: string[] = [];
  const selected =
    select && select.length > 0
      ? evaluate(select, tasks, graph, (part, hint) => {
          throw selectorError(`selector \`${part}\` matches no task or asset`, hint);
        })
      : new Set(tasks.map((t) => t.name));
  if (exclude && exclude.length > 0) {
    const excluded = evaluate(exclude, tasks, graph, (part, hint) =>
      warnings.push(`--exclude \`${part}\` matches no task or asset${hint ? ` (${hint})` : ''}`),
    );
    for (const n of excluded) selected.delete(n);
  }
  return { selected, warnings };
}
