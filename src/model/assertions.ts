/**
 * Evaluates `@test` assertions against a query's result: `expect_empty`/`expect_non_empty`
 * look at the row count, `expect`/`expect_gt`/`expect_lt` compare the first cell as a number
 * (a NULL first cell counts as 0, as in the original).
 */
import type { TestAssertion } from './taskfile/task.js';

export interface AssertionOutcome {
  passed: boolean;
  /** What was observed, as text: a row count or the first cell. */
  actual: string;
  message: string;
}

/**
 * A query's cell as text, NULL as null. DuckDB hands DECIMAL, DATE, TIMESTAMP, INTERVAL, UUID,
 * lists… over as value objects whose `toString` is DuckDB's own text form (`11.00`, `2026-11-03`,
 * `2026-11-03 00:00:00`); their fields (`{"days":20760}`) are not meant to be read.
 */
export function cellText(cell: unknown): string | null {
  return cell === null || cell === undefined ? null : String(cell);
}

function rowsText(n: number): string {
  return `${n} row${n === 1 ? '' : 's'}`;
}

export function evaluateAssertion(assertion: TestAssertion, rowCount: number, firstCell: unknown): AssertionOutcome {
  switch (assertion.kind) {
    case 'expect_empty':
      return outcome(rowCount === 0, rowsText(rowCount), `expected no rows, got ${rowCount}`);
    case 'expect_non_empty':
      return outcome(rowCount > 0, rowsText(rowCount), 'expected at least one row, got none');
    default: {
      const value =
        firstCell === null || firstCell === undefined || rowCount === 0
          ? 0
          : typeof firstCell === 'string' && firstCell.trim() === ''
            ? NaN
            : Number(firstCell);
      const actual = Number.isNaN(value) ? (cellText(firstCell) ?? '') : String(value);
      if (Number.isNaN(value)) return outcome(false, actual, `expected a number, got ${actual}`);
      const { kind, value: expected } = assertion;
      const passed = kind === 'expect' ? value === expected : kind === 'expect_gt' ? value > expected : value < expected;
      const relation = kind === 'expect' ? '' : kind === 'expect_gt' ? 'greater than ' : 'less than ';
      return outcome(passed, actual, `expected ${relation}${expected}, got ${actual}`);
    }
  }
}

function outcome(passed: boolean, actual: string, failure: string): AssertionOutcome {
  return { passed, actual, message: passed ? 'ok' : failure };
}
