/**
 * The `$` parameters a SQL task's statements are bound to at run time (by
 * `runtime/partition-parameters.ts`), and the checks that hold a task file to them when it is
 * validated or registered: otherwise a parameter nothing binds, an `@param` that types nothing,
 * or interval settings on a task that is not an interval task would be accepted, and fail (or be
 * ignored) only when the task runs.
 */
import { DuckorchError, type SourceLocation } from '../errors.js';
import { INTERVAL_VARIABLES } from './template.js';
import { SqlLexError, splitStatements } from './tokenizer.js';
import { isTimeDef, type PartitionDef } from '../model/partitions/definition.js';
import { didYouMean } from '../model/suggest.js';
import type { TaskDefinition, TaskHeader } from '../model/taskfile/task.js';

export interface BoundParameter {
  name: string;
  /** Why a DATE or TIMESTAMP `@param` cannot fit its values (they are arbitrary text), if so. */
  textOnly?: string;
}

const STATIC_TEXT = 'static keys are text';
const WINDOW: BoundParameter[] = [{ name: 'partition_start' }, { name: 'partition_end' }];

/** What the task's statements get bound: its partition's values, or its interval's bounds; nothing otherwise. */
export function boundParameters(task: Pick<TaskHeader, 'partitions' | 'automation'>): BoundParameter[] {
  if (task.partitions) return partitionParameterNames(task.partitions);
  if (isIntervalTask(task)) return INTERVAL_VARIABLES.map((name) => ({ name }));
  return [];
}

function partitionParameterNames(def: PartitionDef): BoundParameter[] {
  if (def.kind !== 'multi')
    return isTimeDef(def) ? [{ name: 'partition_key' }, ...WINDOW] : [{ name: 'partition_key', textOnly: STATIC_TEXT }];
  const out: BoundParameter[] = [{ name: 'partition_key', textOnly: 'a multi key is its parts joined by `|`, as text' }];
  for (const d of def.dimensions)
    for (const name of [d.name, `partition_${d.name}`]) out.push(isTimeDef(d.def) ? { name } : { name, textOnly: STATIC_TEXT });
  return def.dimensions.some((d) => isTimeDef(d.def)) ? [...out, ...WINDOW] : out;
}

function isIntervalTask(task: Pick<TaskHeader, 'automation'>): boolean {
  return task.automation?.intervalUnit != null;
}

/**
 * A task is partitioned, an interval task, or neither: a run could not plan one that is both,
 * and the interval headers mean nothing without `on_interval`.
 */
export function checkTaskKind(task: TaskDefinition): DuckorchError[] {
  const at = (key: string): SourceLocation => ({ file: task.file, line: 1, col: 1, ...task.keyLocations[key] });
  const interval = isIntervalTask(task);
  if (task.partitions && interval) {
    const [p, a] = [at('partitions_by'), at('automation')];
    return [
      new DuckorchError(
        'HEADER_VALUE',
        'a task is either partitioned or an interval task: give it one of @partitions_by and @automation on_interval(…)',
        { location: p.line > a.line ? p : a },
      ),
    ];
  }
  if (interval) return [];
  return ['interval_start', 'lookback', 'allow_partials']
    .filter((key) => task.keyLocations[key])
    .map(
      (key) =>
        new DuckorchError('HEADER_VALUE', `@${key} applies only to interval tasks: add @automation on_interval(…)`, {
          location: at(key),
          expected: '-- @automation on_interval("daily") (or another interval unit) with it',
        }),
    );
}

/**
 * Every `@param` types a parameter the task has, and every `$name` of the body is one it has.
 * `at` maps an offset in the body to its place in the file.
 */
export function checkParameters(task: TaskDefinition, at: (offset: number) => SourceLocation): DuckorchError[] {
  const bound = boundParameters(task);
  const names = bound.map((b) => b.name);
  const list = `one of ${names.map((n) => `$${n}`).join(', ')}`;
  const kind = task.partitions ? 'partitioned' : 'interval';
  const errors: DuckorchError[] = [];
  for (const p of task.params) {
    const location = { file: task.file, line: 1, col: 1, ...task.keyLocations[`param:${p.name}`] };
    const b = bound.find((x) => x.name === p.name);
    if (!task.partitions && isIntervalTask(task)) {
      // Interval bounds are bound with fixed types whatever @param says.
      errors.push(
        new DuckorchError('HEADER_VALUE', `@param ${p.name}: an interval task's parameters have fixed types; remove the @param`, {
          location,
          expected: '$interval_start and $interval_end TIMESTAMP, $interval_start_ts and $interval_end_ts BIGINT',
        }),
      );
    } else if (!b) {
      const hint = didYouMean(p.name, names);
      errors.push(
        new DuckorchError(
          'HEADER_VALUE',
          names.length === 0
            ? `@param ${p.name}: the task has no parameters; they are bound only for partitioned tasks: add @partitions_by`
            : `@param ${p.name}: the task has no parameter \`$${p.name}\``,
          { location, ...(names.length > 0 ? { expected: list } : {}), ...(hint ? { hint } : {}) },
        ),
      );
    } else if (b.textOnly && (p.type === 'DATE' || p.type === 'TIMESTAMP')) {
      errors.push(
        new DuckorchError('HEADER_VALUE', `@param ${p.name}:${p.type}: ${b.textOnly}, not a ${p.type}`, {
          location,
          expected: `${p.name}:VARCHAR, or no @param`,
        }),
      );
    }
  }
  for (const used of namedParameters(task.sql)) {
    if (names.includes(used.name)) continue;
    const location = at(used.offset);
    const $name = `\`$${used.name}\``;
    if (names.length > 0) {
      const hint = didYouMean(used.name, names, (n) => `\`$${n}\``);
      errors.push(
        new DuckorchError('TEMPLATE', `${$name} is not a parameter of this ${kind} task`, {
          location,
          expected: list,
          ...(hint ? { hint } : {}),
        }),
      );
    } else {
      const message = used.name.startsWith('partition_')
        ? `${$name} is bound only for partitioned tasks: add @partitions_by`
        : (INTERVAL_VARIABLES as readonly string[]).includes(used.name)
          ? `${$name} is bound only in interval tasks: add @automation on_interval(…)`
          : `${$name} is never bound: only partitioned and interval tasks have parameters`;
      errors.push(new DuckorchError('TEMPLATE', message, { location }));
    }
  }
  return errors;
}

/**
 * The `$name` parameters of a body's SQL code, by offset: not the positional `$1`/`?`, nor a `$`
 * inside a literal, a comment or a `${…}`, nor one of a `PREPARE` (its `EXECUTE` binds it).
 */
function namedParameters(sql: string): Array<{ name: string; offset: number }> {
  let statements;
  try {
    statements = splitStatements(sql);
  } catch (err) {
    if (err instanceof SqlLexError) return []; // The analysis reports it.
    throw err;
  }
  return statements.flatMap((s) =>
    s.tokens[0]?.upper === 'PREPARE'
      ? []
      : s.tokens
          .filter((t) => t.kind === 'param' && /^\$[A-Za-z_]/.test(t.text))
          .map((t) => ({ name: t.text.slice(1), offset: s.start + t.start })),
  );
}
