import { expect } from 'vitest';
import { buildTask, type InferredIo } from '../../src/model/taskfile/build-task.js';
import { splitHeaderBlock } from '../../src/model/taskfile/header-block.js';
import { parseTaskHeader } from '../../src/model/taskfile/parse-header.js';
import type { TaskDefinition } from '../../src/model/taskfile/task.js';

export const FILE = 'tasks/t.sql';

/** Parses a task file (stem `t`) and builds it with the given inferred I/O; the header must be valid. */
export function makeTask(text: string, io: Partial<InferredIo> = {}): TaskDefinition {
  const block = splitHeaderBlock(text);
  const { header, errors } = parseTaskHeader(block.headers, FILE, 't');
  expect(errors.map((e) => e.render())).toEqual([]);
  return buildTask(
    header,
    FILE,
    { sql: block.body, line: block.bodyLine, col: block.bodyCol },
    { reads: [], writes: [], statementCount: 1, ...io },
  );
}
