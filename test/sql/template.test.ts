import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { findPlaceholders, renderTemplate, templateOffset, variablesUsed } from '../../src/sql/template.js';

const values = { last_processed_at: '1970-01-01 00:00:00', now: '2024-05-01 12:00:00', run_id: "r-1'x" };

describe('templateOffset', () => {
  it('takes an offset in the rendered text back to the template, around values shorter and longer than their placeholders', () => {
    const sql = "WHERE ts > {{ last_processed_at }} AND id = '{{ run_id }}' AND bad = 1";
    const rendered = renderTemplate(sql, { last_processed_at: '7', run_id: 'a-much-longer-run-id' });
    for (const word of ['WHERE', 'AND id', 'AND bad', 'bad', '1']) {
      expect(templateOffset(sql, rendered.lastIndexOf(word), { last_processed_at: '7', run_id: 'a-much-longer-run-id' })).toBe(
        sql.lastIndexOf(word),
      );
    }
    // Inside a value: the placeholder's start.
    expect(templateOffset(sql, rendered.indexOf('much'), { last_processed_at: '7', run_id: 'a-much-longer-run-id' })).toBe(
      sql.indexOf('{{ run_id }}'),
    );
    expect(templateOffset('SELECT 1', 7, {})).toBe(7);
  });
});

describe('renderTemplate', () => {
  it('puts literals in code, with or without inner spaces', () => {
    expect(renderTemplate('WHERE ts > {{ last_processed_at }} AND ts <= {{now}} AND id = {{  run_id  }}', values)).toBe(
      "WHERE ts > '1970-01-01 00:00:00' AND ts <= '2024-05-01 12:00:00' AND id = 'r-1''x'",
    );
    expect(renderTemplate('LIMIT {{ last_processed_at }}', { last_processed_at: '7' })).toBe('LIMIT 7');
  });

  it('inserts escaped text inside string literals and quoted identifiers', () => {
    expect(renderTemplate("SELECT '{{ run_id }}' AS a, 'run {{ now }} / {{run_id}}' AS b", values)).toBe(
      "SELECT 'r-1''x' AS a, 'run 2024-05-01 12:00:00 / r-1''x' AS b",
    );
    expect(renderTemplate("SELECT E'{{ run_id }}\\n'", { run_id: "a\\b'c" })).toBe("SELECT E'a\\\\b''c\\n'");
    expect(renderTemplate('SELECT $$ {{ run_id }} $$', values)).toBe("SELECT $$ r-1'x $$");
    expect(renderTemplate('SELECT 1 AS "col_{{ now }}"', { now: 'a"b' })).toBe('SELECT 1 AS "col_a""b"');
  });

  it('leaves comments, unknown placeholders and look-alikes alone', () => {
    const sql = "-- at {{ now }}\nSELECT 1 /* {{ run_id }} */, '{{ nope }}', {{ nope }}, '{ now }'";
    expect(renderTemplate(sql, values)).toBe(sql);
  });

  it('does not substitute inside a substituted value, nor interpret replacement patterns', () => {
    expect(renderTemplate('{{ now }}', { now: '{{ run_id }}', run_id: 'no' })).toBe("'{{ run_id }}'");
    expect(renderTemplate('{{ now }}', { now: "$& $' $1" })).toBe("'$& $'' $1'");
  });

  it('produces SQL that DuckDB runs and returns the values as text', async () => {
    const instance = await DuckDBInstance.create(':memory:');
    try {
      const conn = await instance.connect();
      const sql = renderTemplate("SELECT '{{ run_id }}' AS a, {{ run_id }} AS b, 'at {{ now }}' AS c -- {{ now }}", values);
      expect((await conn.runAndReadAll(sql)).getRowsJS()).toEqual([["r-1'x", "r-1'x", 'at 2024-05-01 12:00:00']]);
      conn.closeSync();
    } finally {
      instance.closeSync();
    }
  });
});

describe('findPlaceholders', () => {
  it('finds placeholders in code and strings, not in comments, with their offsets', () => {
    const sql = "SELECT {{ now }}, '{{ nope }}' -- {{ hidden }}\n, {{ ref('x') }}, ${asset}";
    const found = findPlaceholders(sql);
    expect(found.map((p) => [p.expression, p.variable, p.context, p.dollar, sql.slice(p.start, p.end)])).toEqual([
      ['now', 'now', 'code', false, '{{ now }}'],
      ['nope', undefined, 'string', false, '{{ nope }}'],
      ["ref('x')", undefined, 'code', false, "{{ ref('x') }}"],
      ['asset', undefined, 'code', true, '${asset}'],
    ]);
  });

  it('lists the variables a text uses', () => {
    expect(variablesUsed("SELECT {{ now }}, '{{ last_processed_at }}', {{ now }}")).toEqual(['now', 'last_processed_at']);
    expect(variablesUsed('SELECT 1')).toEqual([]);
  });
});
