/**
 * `duck-orch test`: runs every `@test` assertion of the selected tasks against the data as it
 * is now, each query on its own connection, and reports pass, fail (assertion not met) or
 * error (the query itself failed).
 */
import type { DuckDBInstance } from '@duckdb/node-api';
import { checkTestQuery } from './test-query.js';
import type { TaskDefinition } from '../model/taskfile/task.js';

export interface TestOutcome {
  task: string;
  index: number;
  file: string;
  line: number;
  query: string;
  assertion: string;
  status: 'pass' | 'fail' | 'error';
  actual: string | null;
  message: string;
}

export async function runTests(instance: DuckDBInstance, tasks: readonly TaskDefinition[]): Promise<TestOutcome[]> {
  const conn = await instance.connect();
  const out: TestOutcome[] = [];
  try {
    for (const task of tasks) {
      for (const test of task.tests) {
        const base = {
          task: task.name,
          index: test.index,
          file: task.file,
          line: test.line,
          query: test.sql,
          assertion: test.assertionText,
        };
        try {
          const result = await checkTestQuery(conn, test.sql, test.assertion);
          out.push({ ...base, status: result.passed ? 'pass' : 'fail', actual: result.actual, message: result.message });
        } catch (err) {
          out.push({ ...base, status: 'error', actual: null, message: (err instanceof Error ? err.message : String(err)).split('\n')[0]! });
        }
      }
    }
  } finally {
    conn.closeSync();
  }
  return out;
}
