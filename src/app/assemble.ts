/**
 * A project as a whole: task definitions from every file, with one spelling per dataset, and
 * the graph they form — with every problem of the graph, so that `register` and `validate DIR`
 * report them together with the files' own.
 */
import type { DuckorchError, SourceLocation } from '../errors.js';
import { TaskGraph, type EdgeCause } from '../model/graph/dag.js';
import { unifySpellings } from '../model/graph/spelling.js';
import { datasetKey } from '../model/names.js';
import { bodyLocation } from '../model/taskfile/build-task.js';
import type { TaskDefinition } from '../model/taskfile/task.js';
import { readOffset } from '../sql/read-location.js';

export function assembleProject(definitions: readonly TaskDefinition[]): {
  definitions: TaskDefinition[];
  graph: TaskGraph;
  errors: DuckorchError[];
} {
  const unified = unifySpellings(definitions);
  const { graph, errors } = TaskGraph.analyse(unified, edgeLocation);
  return { definitions: unified, graph, errors };
}

/** Where a task reads (or names) its upstream: where it reads it, or its `@depends_on` line. */
function edgeLocation(task: TaskDefinition, cause: EdgeCause): SourceLocation {
  if (cause.kind !== 'depends_on') return readLocation(task, cause.kind === 'glob' ? cause.glob : cause.dataset);
  const at = task.keyLocations.depends_on;
  return at ? { file: task.file, line: at.line, col: at.col } : definedAt(task);
}

/**
 * Where a task reads a dataset: the name in its SQL, else its `@inputs` line, else where it is
 * defined (a TypeScript task's call site, a body's start).
 */
export function readLocation(task: TaskDefinition, dataset: string): SourceLocation {
  const offset = task.kind === 'sql' ? readOffset(task.sql, dataset) : undefined;
  if (offset !== undefined) return bodyLocation(task.file, task.sql, task.bodyLine, task.bodyCol, offset);
  const inputs = task.keyLocations.inputs;
  const declared = task.declaredInputs.some((i) => datasetKey(i) === datasetKey(dataset));
  return declared && inputs ? { file: task.file, line: inputs.line, col: inputs.col } : definedAt(task);
}

function definedAt(task: TaskDefinition): SourceLocation {
  return { file: task.file, line: task.bodyLine, col: task.bodyCol };
}
