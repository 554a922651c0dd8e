import { describe, expect, it } from 'vitest';
import { evaluateAssertion } from '../../src/model/assertions.js';
import type { TestAssertion } from '../../src/model/taskfile/task.js';

describe('evaluateAssertion', () => {
  it.each<[TestAssertion, number, unknown, boolean, string, string]>([
    [{ kind: 'expect_empty' }, 0, undefined, true, '0 rows', 'ok'],
    [{ kind: 'expect_empty' }, 3, 1, false, '3 rows', 'expected no rows, got 3'],
    [{ kind: 'expect_non_empty' }, 1, null, true, '1 row', 'ok'],
    [{ kind: 'expect_non_empty' }, 0, undefined, false, '0 rows', 'expected at least one row, got none'],
    [{ kind: 'expect', value: 0 }, 1, 0, true, '0', 'ok'],
    [{ kind: 'expect', value: 0 }, 1, 5, false, '5', 'expected 0, got 5'],
    [{ kind: 'expect', value: 5 }, 1, 5n, true, '5', 'ok'],
    [{ kind: 'expect', value: 5 }, 1, '5', true, '5', 'ok'],
    [{ kind: 'expect', value: 2.5 }, 1, 2.5, true, '2.5', 'ok'],
    // NULL and no rows count as 0, as in the original.
    [{ kind: 'expect', value: 0 }, 1, null, true, '0', 'ok'],
    [{ kind: 'expect', value: 0 }, 0, undefined, true, '0', 'ok'],
    [{ kind: 'expect', value: 0 }, 0, 42, true, '0', 'ok'],
    [{ kind: 'expect_gt', value: 10 }, 1, 11, true, '11', 'ok'],
    [{ kind: 'expect_gt', value: 10 }, 1, 10, false, '10', 'expected greater than 10, got 10'],
    [{ kind: 'expect_gt', value: 0 }, 0, undefined, false, '0', 'expected greater than 0, got 0'],
    [{ kind: 'expect_lt', value: 10 }, 1, 9, true, '9', 'ok'],
    [{ kind: 'expect_lt', value: 10 }, 1, 10, false, '10', 'expected less than 10, got 10'],
    [{ kind: 'expect_lt', value: 0 }, 1, -1n, true, '-1', 'ok'],
    [{ kind: 'expect', value: 1 }, 1, 'abc', false, 'abc', 'expected a number, got abc'],
    [{ kind: 'expect_gt', value: 1 }, 1, 'abc', false, 'abc', 'expected a number, got abc'],
  ])('%o with %i rows and first cell %o', (assertion, rows, cell, passed, actual, message) => {
    expect(evaluateAssertion(assertion, rows, cell)).toEqual({ passed, actual, message });
  });
});

describe('evaluateAssertion: a blank first cell is not a number', () => {
  it('fails `expect 0` on an empty string instead of reading it as 0', () => {
    expect(evaluateAssertion({ kind: 'expect', value: 0 }, 1, '')).toMatchObject({ passed: false, message: 'expected a number, got ' });
  });
});
