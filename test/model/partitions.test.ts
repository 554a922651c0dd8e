import { describe, expect, it } from 'vitest';
import { isValidDate, parsePartitions, type PartitionDef } from '../../src/model/partitions/definition.js';

function ok(text: string): PartitionDef {
  const r = parsePartitions(text);
  if (!r.ok) throw new Error(`${r.error.message} at ${r.error.offset}`);
  return r.value;
}

describe('parsePartitions: forms', () => {
  it.each<[string, PartitionDef]>([
    ['daily(start=2024-01-01)', { kind: 'daily', start: '2024-01-01', end: null }],
    ['daily(start=2024-01-01, end=2024-01-31)', { kind: 'daily', start: '2024-01-01', end: '2024-01-31' }],
    ['daily( end = 2024-01-31 , start = 2024-01-01 )', { kind: 'daily', start: '2024-01-01', end: '2024-01-31' }],
    ['daily(start="2024-01-01")', { kind: 'daily', start: '2024-01-01', end: null }],
    ['daily(start=2024-01-01,end=2024-01-01)', { kind: 'daily', start: '2024-01-01', end: '2024-01-01' }],
    ['  daily (start=2024-02-29)  ', { kind: 'daily', start: '2024-02-29', end: null }],
    ['static(a,b,c)', { kind: 'static', values: ['a', 'b', 'c'] }],
    ['static( eu , us ,, apac, )', { kind: 'static', values: ['eu', 'us', 'apac'] }],
    ['static("north america", \'eu\')', { kind: 'static', values: ['north america', 'eu'] }],
    ['static(one)', { kind: 'static', values: ['one'] }],
    ['hourly(start=2024-01-01)', { kind: 'hourly', start: '2024-01-01T00:00', end: null }],
    ['hourly(start=2024-01-01 06:00:00, end=2024-01-02)', { kind: 'hourly', start: '2024-01-01T06:00', end: '2024-01-02T23:00' }],
    ['weekly(start=2024-01-01, end=2024-03-25)', { kind: 'weekly', start: '2024-01-01', end: '2024-03-25' }],
    ['monthly(start=2024-01, end=2024-12-01)', { kind: 'monthly', start: '2024-01-01', end: '2024-12-01' }],
  ])('%s', (text, def) => {
    expect(ok(text)).toEqual(def);
  });

  it('multi keeps its dimensions in name order, whatever order they are written in', () => {
    expect(ok('multi(region=static(eu, us), day=daily(start=2024-01-01, end=2024-01-03))')).toEqual({
      kind: 'multi',
      dimensions: [
        { name: 'day', def: { kind: 'daily', start: '2024-01-01', end: '2024-01-03' } },
        { name: 'region', def: { kind: 'static', values: ['eu', 'us'] } },
      ],
    });
  });

  it('multi with a single dimension', () => {
    expect(ok('multi(x=static(a))')).toEqual({ kind: 'multi', dimensions: [{ name: 'x', def: { kind: 'static', values: ['a'] } }] });
  });
});

describe('parsePartitions: errors with offsets', () => {
  /** [text, message, substring the offset must point at (or a number)] */
  const CASES: Array<[string, string, string | number]> = [
    ['', 'empty declaration', 0],
    ['   ', 'empty declaration', 0],
    ['yearly(start=2024-01-01)', 'unknown kind `yearly` (expected hourly|daily|weekly|monthly|static|multi)', 'yearly'],
    ['  Daily(start=2024-01-01)', 'unknown kind `Daily` (expected hourly|daily|weekly|monthly|static|multi)', 'Daily'],
    ['STATIC(a)', 'unknown kind `STATIC` (expected hourly|daily|weekly|monthly|static|multi)', 'STATIC'],
    ['(a)', 'unknown kind `` (expected hourly|daily|weekly|monthly|static|multi)', '(a)'],
    ['daily', 'missing parentheses in `daily`', 'daily'],
    ['  static a, b', 'missing parentheses in `static a, b`', 'static'],
    ['daily(start=2024-01-01', 'missing parentheses in `daily(start=2024-01-01`', 'daily'],
    ['daily(start=2024-01-01) x', 'missing parentheses in `daily(start=2024-01-01) x`', 'daily'],
    ['daily()', 'daily: missing required `start`', ')'],
    ['daily(end=2024-01-01)', 'daily: missing required `start`', 'end'],
    ['daily(begin=2024-01-01)', 'bad field `begin=2024-01-01` (expected start=YYYY-MM-DD or end=YYYY-MM-DD)', 'begin'],
    ['daily(start=2024-01-01, 2024-02-01)', 'bad field `2024-02-01` (expected start=YYYY-MM-DD or end=YYYY-MM-DD)', '2024-02-01'],
    ['daily(start)', 'bad field `start` (expected start=YYYY-MM-DD or end=YYYY-MM-DD)', 'start'],
    ['daily(start=2024-13-01)', 'invalid date `2024-13-01` (expected YYYY-MM-DD)', '2024-13-01'],
    ['daily(start=2024-01-01, end=2023-02-29)', 'invalid date `2023-02-29` (expected YYYY-MM-DD)', '2023-02-29'],
    ['daily(start=24-1-1)', 'invalid date `24-1-1` (expected YYYY-MM-DD)', '24-1-1'],
    ['daily(start=)', 'invalid date `` (expected YYYY-MM-DD)', ')'],
    ['daily(start =  2024-13-01)', 'invalid date `2024-13-01` (expected YYYY-MM-DD)', '2024-13-01'],
    ['daily(start=2024-02-01, end=2024-01-01)', 'daily: end 2024-01-01 is before start 2024-02-01', 'start'],
    ['static()', 'empty value list', ')'],
    ['static( , ,)', 'empty value list', ' , ,)'],
    ['static(a, b|c)', 'static value `b|c` contains `|`, which separates the parts of multi-partition keys', 'b|c'],
    ['static(a, b, a)', 'static value `a` is listed twice', 'a)'],
    ['multi()', 'empty value list', ')'],
    ['multi(static(a))', 'bad field `static(a)` (expected name=daily(…), name=static(…) or another kind)', 'static(a)'],
    ['multi(=static(a))', 'bad field `=static(a)` (expected name=daily(…), name=static(…) or another kind)', '=static'],
    ['multi(1x=static(a))', 'bad field `1x=static(a)` (expected name=daily(…), name=static(…) or another kind)', '1x'],
    ['multi(a=static(x), a=static(y))', 'dimension `a` is declared twice', 'a=static(y)'],
    ['multi(a=multi(b=static(x)))', 'multi(…) cannot be nested inside multi(…)', 'multi(b'],
    ['multi(a=static(x), b=yearly(y))', 'unknown kind `yearly` (expected hourly|daily|weekly|monthly|static|multi)', 'yearly'],
    ['multi(a=static(x), b=daily(start=2024-02-30))', 'invalid date `2024-02-30` (expected YYYY-MM-DD)', '2024-02-30'],
    ['multi(a=static(x), b= static())', 'empty value list', '))'],
    ['weekly(start=2024-01-03)', 'weekly: 2024-01-03 is not a Monday (weeks run Monday to Sunday, UTC)', '2024-01-03'],
    ['monthly(start=2024-01-15)', 'monthly: 2024-01-15 is not the first day of a month (expected YYYY-MM or YYYY-MM-01)', '2024-01-15'],
    ['monthly(start=2024-13)', 'invalid date `2024-13` (expected YYYY-MM or YYYY-MM-01)', '2024-13'],
    ['hourly(start=2024-01-01T24:00)', 'invalid date `2024-01-01T24:00` (expected YYYY-MM-DD or YYYY-MM-DDTHH:00)', '2024-01-01T'],
    ['hourly(start=2024-01-01T05:30)', 'invalid date `2024-01-01T05:30` (expected YYYY-MM-DD or YYYY-MM-DDTHH:00)', '2024-01-01T'],
    [
      'multi(a=daily(start=2024-01-01), b=hourly(start=2024-01-01))',
      'multi(…) takes at most one time dimension (`a` is one already)',
      'b=',
    ],
  ];

  it.each(CASES)('%j', (text, message, at) => {
    const r = parsePartitions(text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.message).toBe(message);
    const offset = typeof at === 'number' ? at : at === ')' ? text.lastIndexOf(')') : text.indexOf(at);
    expect(r.error.offset).toBe(offset);
  });
});

describe('isValidDate', () => {
  it.each([
    ['2024-01-01', true],
    ['2024-02-29', true],
    ['2023-02-29', false],
    ['2024-04-31', false],
    ['2024-00-10', false],
    ['2024-1-01', false],
    ['2024-01-01T00:00:00', false],
    ['', false],
    ['0000-01-01', true],
  ])('%j → %s', (text, valid) => {
    expect(isValidDate(text)).toBe(valid);
  });
});
