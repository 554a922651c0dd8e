import { describe, expect, it } from 'vitest';
import { splitHeaderBlock } from '../../../src/model/taskfile/header-block.js';

describe('splitHeaderBlock', () => {
  it('splits headers from the body and records exact positions', () => {
    const text = ['-- @task name=load', '-- @tags a, b', '', 'SELECT 1;', ''].join('\n');
    const block = splitHeaderBlock(text);
    expect(block.headers).toEqual([
      { key: 'task', value: 'name=load', line: 1, keyCol: 5, valueCol: 10 },
      { key: 'tags', value: 'a, b', line: 2, keyCol: 5, valueCol: 10 },
    ]);
    expect(block.body).toBe('SELECT 1;');
    expect(block.bodyLine).toBe(4);
    expect(block.bodyCol).toBe(1);
    expect(block.strayHeaders).toEqual([]);
  });

  it.each([
    ['-- @k v', 'v', 7],
    ['-- @k=v', 'v', 7],
    ['-- @k = v', 'v', 9],
    ['-- @k   =   v', 'v', 13],
    ['--@k v', 'v', 6],
    ['   --   @k v', 'v', 12],
    ['-- @k\tv', 'v', 7],
  ])('`%s` has key k, value %j at column %i', (line, value, valueCol) => {
    const [h] = splitHeaderBlock(`${line}\nSELECT 1`).headers;
    expect(h).toMatchObject({ key: 'k', value, valueCol, line: 1 });
  });

  it('keeps `=` inside the value and only strips the separator run', () => {
    const [h] = splitHeaderBlock('-- @task name=x\nSELECT 1').headers;
    expect(h).toMatchObject({ key: 'task', value: 'name=x', valueCol: 10 });
  });

  it('trims trailing whitespace from values but not inner spaces', () => {
    const [h] = splitHeaderBlock('-- @description  a  long   text   \nSELECT 1').headers;
    expect(h!.value).toBe('a  long   text');
    expect(h!.valueCol).toBe(18);
  });

  it('gives an empty value for a bare key, with valueCol just past the key', () => {
    const [h] = splitHeaderBlock('-- @allow_partials\nSELECT 1').headers;
    expect(h).toEqual({ key: 'allow_partials', value: '', line: 1, keyCol: 5, valueCol: 19 });
  });

  it('reads an empty key for `-- @ x`', () => {
    const [h] = splitHeaderBlock('-- @ x\nSELECT 1').headers;
    expect(h).toMatchObject({ key: '', value: 'x', keyCol: 5, valueCol: 6 });
  });

  it('skips blank lines and plain `--` comments inside the header block (unlike the original)', () => {
    const text = [
      '-- Loads users nightly.',
      '',
      '-- @task name=users',
      '--',
      '-- another note',
      '   ',
      '-- @owner data-team',
      'SELECT 1',
    ].join('\n');
    const block = splitHeaderBlock(text);
    expect(block.headers.map((h) => [h.key, h.value, h.line])).toEqual([
      ['task', 'name=users', 3],
      ['owner', 'data-team', 7],
    ]);
    expect(block.bodyLine).toBe(8);
  });

  it('ends the block at the first non-comment line; later `-- @` lines are stray SQL comments', () => {
    const text = ['-- @task name=a', 'SELECT 1;', '-- @tags late', '  -- @owner me', 'SELECT 2;'].join('\n');
    const block = splitHeaderBlock(text);
    expect(block.headers.map((h) => h.key)).toEqual(['task']);
    expect(block.body).toBe('SELECT 1;\n-- @tags late\n  -- @owner me\nSELECT 2;');
    expect(block.strayHeaders).toEqual([
      { key: 'tags', value: 'late', line: 3, keyCol: 5, valueCol: 10 },
      { key: 'owner', value: 'me', line: 4, keyCol: 7, valueCol: 13 },
    ]);
  });

  it('keeps the indentation of the first body line out of the body but remembers its column', () => {
    const block = splitHeaderBlock('-- @task name=a\n\n    SELECT 1\n  FROM t   \n\n');
    expect(block.body).toBe('SELECT 1\n  FROM t');
    expect(block.bodyLine).toBe(3);
    expect(block.bodyCol).toBe(5);
  });

  it('handles CRLF line endings', () => {
    const block = splitHeaderBlock('-- @task name=a\r\n-- @owner me\r\nSELECT 1\r\nFROM t\r\n');
    expect(block.headers.map((h) => [h.key, h.value, h.line])).toEqual([
      ['task', 'name=a', 1],
      ['owner', 'me', 2],
    ]);
    expect(block.body).toBe('SELECT 1\nFROM t');
    expect(block.bodyLine).toBe(3);
  });

  it('handles a file with only headers (no body)', () => {
    const block = splitHeaderBlock('-- @task name=a\n-- @owner me\n');
    expect(block.headers).toHaveLength(2);
    expect(block.body).toBe('');
    expect(block.strayHeaders).toEqual([]);
  });

  it('handles a file with no headers at all', () => {
    const block = splitHeaderBlock('SELECT 1');
    expect(block.headers).toEqual([]);
    expect(block.body).toBe('SELECT 1');
    expect(block.bodyLine).toBe(1);
    expect(block.bodyCol).toBe(1);
  });

  it('handles an empty file', () => {
    expect(splitHeaderBlock('')).toEqual({ headers: [], body: '', bodyLine: 2, bodyCol: 1, strayHeaders: [] });
  });

  it('does not treat `---@x` or `-- x @y` as headers', () => {
    const block = splitHeaderBlock('---@x 1\n-- x @y 2\nSELECT 1');
    expect(block.headers).toEqual([]);
    expect(block.bodyLine).toBe(3);
  });

  it('treats a header-looking line inside a block comment body as SQL, not a header', () => {
    const block = splitHeaderBlock('/* -- @task name=x */\nSELECT 1');
    expect(block.headers).toEqual([]);
    expect(block.bodyLine).toBe(1);
  });
});

describe('splitHeaderBlock: key separators', () => {
  it.each(['-- @retries 3', '-- @retries=3', '-- @retries = 3', '-- @retries: 3', '--@retries:3'])(
    'reads `%s` as key retries, value 3',
    (line) => {
      const { headers } = splitHeaderBlock(`${line}\nSELECT 1`);
      expect(headers.map((h) => [h.key, h.value, line.slice(h.valueCol - 1)])).toEqual([['retries', '3', '3']]);
    },
  );
});
