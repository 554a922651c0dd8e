import { describe, expect, it } from 'vitest';
import { DEFAULT_WATERMARK, startOfType } from '../../src/model/watermark.js';

describe('startOfType: a first incremental load takes every row', () => {
  it.each([
    ['TINYINT', '-128'],
    ['SMALLINT', '-32768'],
    ['INTEGER', '-2147483648'],
    ['BIGINT', '-9223372036854775808'],
    ['HUGEINT', '-170141183460469231731687303715884105728'],
    ['UINTEGER', '0'],
    ['UBIGINT', '0'],
    ['DECIMAL(18,3)', '-999999999999999.999'],
    ['DECIMAL(4,4)', '-0.9999'],
    ['DECIMAL(5,0)', '-99999'],
    ['DOUBLE', '-infinity'],
    ['FLOAT', '-infinity'],
    ['DATE', '-infinity'],
    ['TIMESTAMP', '-infinity'],
    ['TIMESTAMP WITH TIME ZONE', '-infinity'],
    ['TIMESTAMP_NS', '-infinity'],
    ['TIME', '00:00:00'],
    ['VARCHAR', ''],
    ['UUID', '00000000-0000-0000-0000-000000000000'],
  ])('%s starts at %j', (type, start) => {
    expect(startOfType(type)).toBe(start);
  });

  it('an unknown type starts at the timestamp minimum', () => {
    expect(startOfType(undefined)).toBe('-infinity');
    expect(DEFAULT_WATERMARK).toBe('-infinity');
  });
});
