import { dateValue, decimalValue, listValue, timestampValue } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { evaluateCheck } from '../../src/model/checks.js';

describe('evaluateCheck', () => {
  it.each([
    ['eq', '0', 1, 0n, true],
    ['eq', '0', 1, '0.0', true],
    ['eq', 'ok', 1, 'ok', true],
    ['eq', 'ok', 1, 'OK', false],
    ['ne', '0', 1, 3, true],
    ['ne', '0', 1, 0, false],
    ['gt', '0', 1, 1n, true],
    ['gt', '0', 1, 0, false],
    ['ge', '0', 1, 0, true],
    ['lt', '10', 1, 9.5, true],
    ['le', '10', 1, 10, true],
    ['le', '10', 1, 10.01, false],
    ['between', '1,10', 1, 1, true],
    ['between', '1,10', 1, 10, true],
    ['between', '1,10', 1, 11, false],
    ['not_null', null, 1, 'x', true],
    ['not_null', null, 1, null, false],
    ['gt', '0', 1, null, false],
    ['eq', '0', 0, undefined, false],
    ['gt', '0', 1, 'abc', false],
  ] as const)('%s %s on %j → %s', (op, expected, rows, cell, passed) => {
    expect(evaluateCheck(op, expected, rows, cell).passed).toBe(passed);
  });

  it('says why it failed, with the value as text', () => {
    expect(evaluateCheck('gt', '0', 1, 0n)).toEqual({ passed: false, value: '0', message: 'expected gt 0, got 0' });
    expect(evaluateCheck('eq', '0', 0, undefined)).toEqual({ passed: false, value: null, message: 'the query returned no row' });
    expect(evaluateCheck('not_null', null, 1, null).message).toBe('the value is NULL');
    expect(evaluateCheck('lt', '5', 1, 'abc').message).toBe('expected a number lt 5, got abc');
  });

  // What DuckDB hands back for DECIMAL, DATE, TIMESTAMP, lists…: value objects, read as DuckDB prints them.
  it('compares DuckDB values as DuckDB prints them', () => {
    const price = decimalValue(1100n, 38, 2);
    expect(evaluateCheck('gt', '0', 1, price)).toEqual({ passed: true, value: '11.00', message: 'ok' });
    expect(evaluateCheck('gt', '100', 1, price)).toEqual({ passed: false, value: '11.00', message: 'expected gt 100, got 11.00' });
    expect(evaluateCheck('eq', '11', 1, price).passed).toBe(true);
    expect(evaluateCheck('between', '10,12', 1, price).passed).toBe(true);
    const day = dateValue({ year: 2026, month: 11, day: 3 });
    expect(evaluateCheck('eq', '2026-11-03', 1, day)).toEqual({ passed: true, value: '2026-11-03', message: 'ok' });
    expect(evaluateCheck('ne', '2026-11-03', 1, day).passed).toBe(false);
    const ts = timestampValue({ date: { year: 2026, month: 11, day: 3 }, time: { hour: 0, min: 0, sec: 0, micros: 0 } });
    expect(evaluateCheck('not_null', null, 1, ts)).toEqual({ passed: true, value: '2026-11-03 00:00:00', message: 'ok' });
    expect(evaluateCheck('eq', '[1, 2]', 1, listValue([1, 2])).passed).toBe(true);
  });
});
