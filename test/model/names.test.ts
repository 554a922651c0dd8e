import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalFileName,
  canonicalTableName,
  DatasetSet,
  datasetKey,
  FILE_PREFIX,
  identifierParts,
  isFileDataset,
  parseDatasetName,
  schemaOf,
} from '../../src/model/names.js';

describe('canonicalTableName', () => {
  it.each<[string[], string]>([
    [['users'], 'users'],
    [['Analytics', 'Users'], 'Analytics.Users'],
    [['main', 'users'], 'users'],
    [['MAIN', 'users'], 'users'],
    [['db', 'main', 'users'], 'db.main.users'],
    [['main'], 'main'],
    [['my schema', 'My Table'], '"my schema"."My Table"'],
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
    ['  Users  ', 'Users'],
    ['analytics.users', 'analytics.users'],
    ['Analytics.Users', 'Analytics.Users'],
    ['main.users', 'users'],
    ['cat.sch.tbl', 'cat.sch.tbl'],
    ['"Odd Name".t', '"Odd Name".t'],
    ['"MyTable"', 'MyTable'],
    ['"my table"', '"my table"'],
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

describe('datasetKey and DatasetSet', () => {
  it('compare tables case-insensitively and files exactly', () => {
    expect(datasetKey('"Sales Data".Orders')).toBe(datasetKey('"sales data".orders'));
    expect(datasetKey('file:Data/X.csv')).not.toBe(datasetKey('file:data/x.csv'));
    const set = new DatasetSet(['Finance.Ledger', 'finance.ledger', 'file:a.csv', 'file:A.csv']);
    expect([...set]).toEqual(['Finance.Ledger', 'file:a.csv', 'file:A.csv']);
    expect(set.has('FINANCE.LEDGER')).toBe(true);
  });

  it('identifierParts undoes canonicalTableName', () => {
    const part = fc.string({ minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 3 }), (parts) => {
        fc.pre(!(parts.length === 2 && parts[0]!.toLowerCase() === 'main'));
        expect(identifierParts(canonicalTableName(parts))).toEqual(parts);
      }),
    );
  });
});

describe('schemaOf', () => {
  it.each<[string, string | undefined]>([
    ['analytics.users', 'analytics'],
    ['users', undefined],
    // Unquoted, in the case written: callers quote it for SQL.
    ['"My Schema"."my table"', 'My Schema'],
    ['Finance.Ledger', 'Finance'],
    ['"a.b".c', 'a.b'],
    ['"a""b".c', 'a"b'],
    ['file:data/x.csv', undefined],
    ['cat.sch.tbl', undefined],
  ])('%j → %j', (name, schema) => {
    expect(schemaOf(name)).toBe(schema);
  });
});
