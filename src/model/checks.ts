/**
 * Evaluates an `@check` (spec §5, with its gaps closed): the first cell of the check's query
 * against `expect eq|ne|gt|ge|lt|le|between|not_null`, read as `@test` reads it: as DuckDB prints
 * it (a DECIMAL `11.00`, a DATE `2026-11-03`). No row, or a NULL cell, fails every operator.
 * `eq`/`ne` compare as numbers when both sides are numbers, else as text; the order operators and
 * `between` (inclusive, `lo,hi`) need numbers.
 */
import { cellText } from './assertions.js';
import type { CheckOp } from './taskfile/task.js';

export interface CheckOutcome {
  passed: boolean;
  /** The first cell as text; null when there was no row or it was NULL. */
  value: string | null;
  /** Why it failed, or `ok`. */
  message: string;
}

function asNumber(v: string): number | undefined {
  if (v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** The expectation as written, for messages: `eq 0`, `between 1,10`, `not_null`. */
export function describeExpectation(op: CheckOp, expected: string | null): string {
  return expected === null ? op : `${op} ${expected}`;
}

export function evaluateCheck(op: CheckOp, expected: string | null, rowCount: number, firstCell: unknown): CheckOutcome {
  const value = rowCount === 0 ? null : cellText(firstCell);
  const fail = (message: string): CheckOutcome => ({ passed: false, value, message });
  if (rowCount === 0) return fail('the query returned no row');
  if (value === null) return fail(op === 'not_null' ? 'the value is NULL' : `expected ${describeExpectation(op, expected)}, got NULL`);
  if (op === 'not_null') return { passed: true, value, message: 'ok' };
  const got = asNumber(value);
  let passed: boolean;
  if (op === 'between') {
    const [lo, hi] = (expected ?? '').split(',').map((x) => asNumber(x));
    if (got === undefined || lo === undefined || hi === undefined) return fail(`expected a number between ${expected}, got ${value}`);
    passed = got >= lo && got <= hi;
  } else if (op === 'eq' || op === 'ne') {
    const want = asNumber(expected ?? '');
    const same = got !== undefined && want !== undefined ? got === want : value === expected;
    passed = op === 'eq' ? same : !same;
  } else {
    const want = asNumber(expected ?? '');
    if (got === undefined || want === undefined) return fail(`expected a number ${describeExpectation(op, expected)}, got ${value}`);
    passed = op === 'gt' ? got > want : op === 'ge' ? got >= want : op === 'lt' ? got < want : got <= want;
  }
  return passed ? { passed, value, message: 'ok' } : fail(`expected ${describeExpectation(op, expected)}, got ${value}`);
}
