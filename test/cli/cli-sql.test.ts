import fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { json, runCli, tempProject, type TempProject, SUBPROCESS_TEST_TIMEOUT, registerAndRun } from '../helpers.js';

const p: TempProject = tempProject({ suite: true });
const sql = (query: string, ...flags: string[]) => runCli(['--db', p.db, 'sql', ...flags, query]);

beforeAll(async () => {
  p.write(
    'tasks/t.sql',
    [
      'CREATE OR REPLACE TABLE demo.t AS',
      'SELECT * FROM (VALUES',
      "  (1, 'plain', 9007199254740993::BIGINT, TIMESTAMP '2026-01-02 03:04:05.123456', [1, 2], 1.50::DECIMAL(10,2)),",
      "  (2, 'a, \"quoted\"' || chr(10) || 'line', 42::BIGINT, NULL, [], NULL),",
      "  (3, '', NULL, TIMESTAMP '2026-01-01 00:00:00', NULL, 0.25::DECIMAL(10,2))",
      ') AS v(id, name, big, ts, list, amount);',
    ].join('\n'),
  );
  // In-process: the CLI helpers belong to tests, and this fixture is shared by them.
  const ran = await registerAndRun(p);
  expect(ran.run?.state).toBe('succeeded');
});

const ALL = 'SELECT * FROM demo.t ORDER BY id';

describe('duck-orch sql', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('prints an aligned table with a header row, NULL as NULL', async () => {
    const r = await sql(ALL);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      [
        'id  name               big               ts                          list    amount',
        '1   plain              9007199254740993  2026-01-02 03:04:05.123456  [1, 2]  1.50',
        '2   a, "quoted"\\nline  42                NULL                        []      NULL',
        '3                      NULL              2026-01-01 00:00:00         NULL    0.25',
        '',
      ].join('\n'),
    );
  });

  it('prints JSON with column types and JSON-native values', async () => {
    const r = await sql(ALL, '--json');
    expect(r.code).toBe(0);
    expect(json(r)).toEqual({
      columns: [
        { name: 'id', type: 'INTEGER' },
        { name: 'name', type: 'VARCHAR' },
        { name: 'big', type: 'BIGINT' },
        { name: 'ts', type: 'TIMESTAMP' },
        { name: 'list', type: 'INTEGER[]' },
        { name: 'amount', type: 'DECIMAL(10,2)' },
      ],
      rows: [
        { id: 1, name: 'plain', big: '9007199254740993', ts: '2026-01-02T03:04:05.123456', list: [1, 2], amount: 1.5 },
        { id: 2, name: 'a, "quoted"\nline', big: 42, ts: null, list: [], amount: null },
        { id: 3, name: '', big: null, ts: '2026-01-01T00:00:00', list: null, amount: 0.25 },
      ],
    });
  });

  it('keeps every column of a JSON row when names repeat, and marks TIMESTAMPTZ as UTC', async () => {
    const r = await sql("SELECT 1 AS a, 2 AS a, TIMESTAMPTZ '2026-03-04 05:06:07+02' AS tz, [TIMESTAMP '2026-01-01'] AS l", '--json');
    expect(json<{ rows: unknown[] }>(r).rows).toEqual([{ a: 1, 'a:1': 2, tz: '2026-03-04T03:06:07Z', l: ['2026-01-01T00:00:00'] }]);
  });

  it('prints CSV with RFC 4180 quoting, NULL as an empty field and an empty string as ""', async () => {
    const r = await sql(ALL, '--csv');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'id,name,big,ts,list,amount',
        '1,plain,9007199254740993,2026-01-02 03:04:05.123456,"[1, 2]",1.50',
        '2,"a, ""quoted""\nline",42,,[],',
        '3,"",,2026-01-01 00:00:00,,0.25',
        '',
      ].join('\n'),
    );
  });

  it('runs several statements in order and prints the last result', async () => {
    const r = await sql('CREATE TEMP TABLE x AS SELECT 7 AS y; SELECT y * 6 AS answer FROM x;');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('answer\n42\n');
  });

  it('queries the orchestration state', async () => {
    const r = await sql('SELECT task_name, status, rows_count FROM __orch__.runs', '--json');
    expect(json<{ rows: unknown[] }>(r).rows).toEqual([{ task_name: 't', status: 'success', rows_count: 3 }]);
  });

  it('opens the database read-only: a write is refused and changes nothing', async () => {
    const r = await sql('DELETE FROM demo.t; SELECT 1');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: statement 1 of 2: Invalid Input Error: Cannot execute statement of type "DELETE"');
    expect(r.stderr).toContain('hint: `duck-orch sql` opens the database read-only');
    expect((await sql('SELECT count(*) AS n FROM demo.t')).stdout).toBe('n\n3\n');
  });

  it('reports a DuckDB error as SQL_ERROR, as text or in the standard JSON shape', async () => {
    const syntax = await sql('SELEC 1');
    expect(syntax.code).toBe(1);
    expect(syntax.stdout).toBe('');
    expect(syntax.stderr).toMatch(/^error: Parser Error: syntax error at or near "SELEC"\n/);

    const unknown = await sql('SELECT * FROM nowhere', '--json');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('');
    const errors = json<{ errors: Array<{ code: string; message: string }> }>(unknown).errors;
    expect(errors).toHaveLength(1);
    expect(errors[0]!.code).toBe('SQL_ERROR');
    expect(errors[0]!.message).toMatch(/^Catalog Error: Table with name nowhere does not exist!/);
  });

  it('needs an existing database and a statement', async () => {
    const missing = `${p.dir}/missing.duckdb`;
    const r = await runCli(['--db', missing, 'sql', 'SELECT 1', '--json']);
    expect(r.code).toBe(1);
    expect(json<{ errors: Array<{ code: string }> }>(r).errors[0]!.code).toBe('DB_OPEN');
    expect(fs.existsSync(missing)).toBe(false);

    const blank = await sql('  -- nothing here');
    expect(blank.code).toBe(2);
    expect(blank.stderr).toContain('error: the query has no SQL statement to run');
  });

  it('refuses --csv together with --json', async () => {
    const r = await sql('SELECT 1', '--csv', '--json');
    expect(r.code).toBe(2);
    expect(json<{ errors: Array<{ code: string }> }>(r).errors[0]!.code).toBe('USAGE');
  });
});
