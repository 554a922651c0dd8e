/**
 * A project as a whole: task definitions from every file, with one spelling per dataset, and
 * the graph they form — with every problem of the graph, so that `register` and `validate DIR`
 * report them together with the files' own.
 */
import type { DuckorchError } from '../errors.js';
import { TaskGraph } from '../model/graph/dag.js';
import { unifySpellings } from '../model/graph/spelling.js';
import type { TaskDefinition } from '../model/taskfile/task.js';

export function assembleProject(definitions: readonly TaskDefinition[]): {
  definitions: TaskDefinition[];
  graph: TaskGraph;
  errors: DuckorchError[];
} {
  const unified = unifySpellings(definitions);
  const { graph, errors } = TaskGraph.analyse(unified);
  return { definitions: unified, graph, errors };
}
