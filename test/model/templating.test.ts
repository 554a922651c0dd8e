import { describe, expect, it } from 'vitest';
import { DEFAULT_WATERMARK, sqlLiteral, substituteVariables } from '../../src/model/templating.js';

describe('sqlLiteral', () => {
  it.each([
    ['42', '42'],
    ['-3.5', '-3.5'],
    ['1e3', '1e3'],
    ["'already quoted'", "'already quoted'"],
    ['2024-01-01 00:00:00', "'2024-01-01 00:00:00'"],
    ["it's", "'it''s'"],
    ["a''b", "'a''''b'"],
    ['', "''"],
    ['   ', "'   '"],
    ['NaN', "'NaN'"],
    ['Infinity', "'Infinity'"],
    ['abc-123', "'abc-123'"],
  ])('%j → %s', (value, literal) => {
    expect(sqlLiteral(value)).toBe(literal);
  });
});

describe('substituteVariables', () => {
  const vars = { last_processed_at: DEFAULT_WATERMARK, now: '2024-05-01 12:00:00', run_id: 'r-1', n: '7' };

  it('replaces known keys with literals, with or without inner spaces', () => {
    expect(substituteVariables('WHERE ts > {{ last_processed_at }} AND ts <= {{now}} AND id = {{  run_id  }} LIMIT {{n}}', vars)).toBe(
      "WHERE ts > '1970-01-01 00:00:00' AND ts <= '2024-05-01 12:00:00' AND id = 'r-1' LIMIT 7",
    );
  });

  it('leaves unknown keys and non-identifier placeholders untouched', () => {
    expect(substituteVariables('{{ unknown }} {{ 1x }} {{}} { now } {{ now', vars)).toBe('{{ unknown }} {{ 1x }} {{}} { now } {{ now');
  });

  it('replaces every occurrence', () => {
    expect(substituteVariables('{{n}}+{{n}}', vars)).toBe('7+7');
  });

  it('does not interpret `$` replacement patterns in values', () => {
    expect(substituteVariables('x = {{ v }}', { v: "$& $' $1" })).toBe("x = '$& $'' $1'");
  });

  it('does not substitute inside the substituted value', () => {
    expect(substituteVariables('{{ a }}', { a: '{{ b }}', b: 'no' })).toBe("'{{ b }}'");
  });

  it('does not pick up inherited object keys', () => {
    expect(substituteVariables('{{ toString }}', {})).toBe('{{ toString }}');
  });

  it('has the documented default watermark', () => {
    expect(DEFAULT_WATERMARK).toBe('1970-01-01 00:00:00');
  });
});

describe('sqlLiteral: only plain decimals go in unquoted', () => {
  it.each([
    ['42', '42'],
    ['-1.5e3', '-1.5e3'],
    ['0x10', "'0x10'"],
    ['Infinity', "'Infinity'"],
    [' 1 ', "' 1 '"],
  ])('%j → %s', (value, literal) => {
    expect(sqlLiteral(value)).toBe(literal);
  });
});
