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

/**
 * Where a task reads (or names) its upstream: the name in its SQL, else its `@inputs` or
 * `@depends_on` line, else where it is defined (a TypeScript task's call site, a body's start).
 */
function edgeLocation(task: TaskDefinition, cause: EdgeCause): SourceLocation {
  const at = (loc: { line: number; col: number } | undefined) => loc && { file: task.file, line: loc.line, col: loc.col };
  const definedAt = { file: task.file, line: task.bodyLine, col: task.bodyCol };
  if (cause.kind === 'depends_on') return at(task.keyLocations.depends_on) ?? definedAt;
  const dataset = cause.kind === 'glob' ? cause.glob : cause.dataset;
  const offset = task.kind === 'sql' ? readOffset(task.sql, dataset) : undefined;
  if (offset !== undefined) return bodyLocation(task.file, task.sql, task.bodyLine, task.bodyCol, offset);
  const declared = task.declaredInputs.some((i) => datasetKey(i) === datasetKey(dataset));
  return (declared ? at(task.keyLocations.inputs) : undefined) ?? definedAt;
}
