import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalFileName, canonicalTableName, FILE_PREFIX, isFileDataset, parseDatasetName, schemaOf } from '../../src/model/names.js';

describe('canonicalTableName', () => {
  it.each<[string[], string]>([
    [['users'], 'users'],
    [['Analytics', 'Users'], 'analytics.users'],
    [['main', 'users'], 'users'],
    [['MAIN', 'users'], 'users'],
    [['db', 'main', 'users'], 'db.main.users'],
    [['main'], 'main'],
    [['my schema', 'My Table'], '"my schema"."my table"'],
    [['a"b'], '"a""b"'],
    [['1abc'], '"1abc"'],
    [['a$b'], 'a$b'],
    [['', 'x'], 'x'],
  ])('%j → %s', (parts, name) => {
    expect(canonicalTableName(parts)).toBe(name);
  });
});

describe('canonicalFileName', () => {
  it.each([
    ['data/x.csv', 'file:data/x.csv'],
    ['./data/x.csv', 'file:data/x.csv'],
    ['././data//sub///x.csv', 'file:data/sub/x.csv'],
    ['data\\sub\\x.csv', 'file:data/sub/x.csv'],
    ['  /abs/path.parquet ', 'file:/abs/path.parquet'],
    ['s3://bucket/key.parquet', 'file:s3://bucket/key.parquet'],
  ])('%j → %s', (path, name) => {
    expect(canonicalFileName(path)).toBe(name);
  });
});

describe('isFileDataset', () => {
  it('is true exactly for the file: prefix', () => {
    expect(FILE_PREFIX).toBe('file:');
    expect(isFileDataset('file:data/x.csv')).toBe(true);
    expect(isFileDataset('data/x.csv')).toBe(false);
    expect(isFileDataset('files.x')).toBe(false);
  });
});

describe('parseDatasetName', () => {
  it.each<[string, string]>([
    ['users', 'users'],
    ['  Users  ', 'users'],
    ['analytics.users', 'analytics.users'],
    ['Analytics.Users', 'analytics.users'],
    ['main.users', 'users'],
    ['cat.sch.tbl', 'cat.sch.tbl'],
    ['"Odd Name".t', '"odd name".t'],
    ['"MyTable"', 'mytable'],
    ['"a""b"', '"a""b"'],
    ['"a.b".c', '"a.b".c'],
    ['_x$1', '_x$1'],
    ['file:data/x.csv', 'file:data/x.csv'],
    ['file:./data//x.csv', 'file:data/x.csv'],
    ["'data/users.csv'", 'file:data/users.csv'],
    ["'./x.parquet'", 'file:x.parquet'],
  ])('%j → %s', (text, name) => {
    expect(parseDatasetName(text)).toBe(name);
  });

  it.each(['', '   ', 'file:', "''", '1abc', 'a..b', 'a.', '.a', 'a.b.c.d', 'a b', '"unterminated', '""', '"".x', 'a-b', 'a.1b', "'x"])(
    'rejects %j',
    (text) => {
      expect(parseDatasetName(text)).toBeUndefined();
    },
  );

  it('is idempotent: a canonical name parses to itself', () => {
    const part = fc.oneof(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_$]{0,8}$/), fc.string({ minLength: 1, maxLength: 8 }));
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 3 }), (parts) => {
        const name = canonicalTableName(parts);
        expect(parseDatasetName(name)).toBe(name);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('schemaOf', () => {
  it.each<[string, string | undefined]>([
    ['analytics.users', 'analytics'],
    ['users', undefined],
    // Quoted parts keep their quotes, so the schema can be pasted back into SQL as is.
    ['"my schema"."my table"', '"my schema"'],
    ['"a.b".c', '"a.b"'],
    ['"a""b".c', '"a""b"'],
    ['file:data/x.csv', undefined],
    ['cat.sch.tbl', undefined],
  ])('%j → %j', (name, schema) => {
    expect(schemaOf(name)).toBe(schema);
  });
});
