import { describe, expect, it } from 'vitest';
import { sqlLiteral } from '../../src/model/templating.js';

describe('sqlLiteral: only plain decimals go in unquoted', () => {
  it.each([
    ['42', '42'],
    ['-3.5', '-3.5'],
    ['1e3', '1e3'],
    ['-1.5e3', '-1.5e3'],
    // A value that looks quoted is still just text.
    ["'already quoted'", "'''already quoted'''"],
    ['2024-01-01 00:00:00', "'2024-01-01 00:00:00'"],
    ["it's", "'it''s'"],
    ["a''b", "'a''''b'"],
    ['', "''"],
    ['   ', "'   '"],
    ['NaN', "'NaN'"],
    ['Infinity', "'Infinity'"],
    ['0x10', "'0x10'"],
    [' 1 ', "' 1 '"],
    ['abc-123', "'abc-123'"],
  ])('%j → %s', (value, literal) => {
    expect(sqlLiteral(value)).toBe(literal);
  });
});
