import { describe, expect, it } from 'vitest';
import { readOffset } from '../../src/sql/read-location.js';

/** The text from the offset `readOffset` finds to the end of its line, or undefined. */
function found(body: string, dataset: string): string | undefined {
  const offset = readOffset(body, dataset);
  return offset === undefined ? undefined : body.slice(offset).split('\n')[0];
}

describe('readOffset', () => {
  it.each<[string, string, string | undefined]>([
    ['CREATE TABLE b AS\nSELECT *\n  FROM a;', 'a', 'a;'],
    // As DuckDB compares names: case-insensitively, quoted or not, `main.` optional, a catalog in front.
    ['SELECT * FROM Analytics."ORDERS"', 'analytics.orders', 'Analytics."ORDERS"'],
    ['SELECT * FROM db.main.a', 'a', 'db.main.a'],
    ['SELECT * FROM main.a', 'a', 'main.a'],
    ['SELECT * FROM db.analytics.orders', 'analytics.orders', 'db.analytics.orders'],
    ['SELECT * FROM "Sales Data".Orders', '"Sales Data".Orders', '"Sales Data".Orders'],
    // A qualified read wins over an earlier bare name; a bare name stands in when nothing else does (`USE`).
    ['SELECT orders FROM x; SELECT * FROM analytics.orders', 'analytics.orders', 'analytics.orders'],
    ['USE analytics; SELECT * FROM orders', 'analytics.orders', 'orders'],
    // Not a read of `a`: a column `t.a`, another schema's `a`, a function a().
    ['SELECT t.a, a(1), other.a FROM t', 'a', undefined],
    ['SELECT 1 -- FROM a\n, /* a */ 2', 'a', undefined],
    // Files by the string naming them; tables named in a string.
    ["CREATE TABLE t AS FROM read_csv('./data//x.csv')", 'file:data/x.csv', "'./data//x.csv')"],
    ["CREATE TABLE t AS FROM read_parquet('out/*.parquet')", 'file:out/*.parquet', "'out/*.parquet')"],
    ["SELECT * FROM query_table('Orders')", 'orders', "'Orders')"],
    ["SELECT 'unterminated", 'a', undefined],
  ])('%s: %s at %s', (body, dataset, at) => {
    expect(found(body, dataset)).toBe(at);
  });
});
