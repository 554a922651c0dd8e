import { describe, expect, it } from 'vitest';
import { splitQuotedSql } from '../../../src/model/taskfile/quoted.js';

describe('splitQuotedSql', () => {
  it.each([
    ['"SELECT 1" expect 0', 'SELECT 1', 'expect 0'],
    ['"SELECT 1"   expect_gt 5  ', 'SELECT 1', 'expect_gt 5'],
    ['"  SELECT 1  " expect_empty', 'SELECT 1', 'expect_empty'],
    ['   "SELECT 1" expect 0', 'SELECT 1', 'expect 0'],
    // Quoted identifiers inside the SQL are kept (the original cut at the first inner `"`).
    ['"SELECT count(*) FROM "My Table"" expect 0', 'SELECT count(*) FROM "My Table"', 'expect 0'],
    ['"SELECT "a" FROM "b" WHERE "c" IS NULL" expect_empty', 'SELECT "a" FROM "b" WHERE "c" IS NULL', 'expect_empty'],
    // An inner `" expect…` is SQL as long as a later quote is followed by the real assertion.
    ['"SELECT "x" expected FROM t" expect 1', 'SELECT "x" expected FROM t', 'expect 1'],
    ["\"SELECT 'it''s'\" expect 1", "SELECT 'it''s'", 'expect 1'],
  ])('%s', (text, sql, rest) => {
    const r = splitQuotedSql(text, '@test');
    expect(r).toEqual({ ok: true, value: { sql, sqlOffset: text.indexOf(sql), rest, restOffset: text.lastIndexOf(rest) } });
  });

  it('gives an empty rest just past the closing quote when there is no assertion', () => {
    expect(splitQuotedSql('"SELECT 1"', '@test')).toEqual({ ok: true, value: { sql: 'SELECT 1', sqlOffset: 1, rest: '', restOffset: 10 } });
  });

  it('the rest offset points at the assertion in the input', () => {
    const text = '"SELECT "q"" \t expect_lt 3';
    const r = splitQuotedSql(text, '@check');
    if (!r.ok) throw new Error(r.message);
    expect(text.slice(r.value.restOffset)).toBe('expect_lt 3');
  });

  it.each([
    ['SELECT 1 expect 0', '@test expects quoted SQL, e.g. "SELECT count(*) FROM t" expect 0', 0],
    ['  SELECT "x" FROM t expect 0', '@test expects quoted SQL, e.g. "SELECT count(*) FROM t" expect 0', 2],
    ['', '@test expects quoted SQL, e.g. "SELECT count(*) FROM t" expect 0', 0],
    ['"SELECT 1 expect 0', 'unterminated @test SQL string: add the closing `"`', 0],
    ['  "SELECT 1', 'unterminated @test SQL string: add the closing `"`', 2],
    ['"" expect 0', '@test SQL is empty', 0],
    ['"   " expect 0', '@test SQL is empty', 0],
  ])('rejects %j', (text, message, offset) => {
    expect(splitQuotedSql(text, '@test')).toEqual({ ok: false, message, offset });
  });

  it('names the header in its messages', () => {
    const r = splitQuotedSql('SELECT 1', '@check');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message.startsWith('@check expects quoted SQL')).toBe(true);
  });
});
