import { describe, expect, it } from 'vitest';
import { DuckorchError } from '../../../src/errors.js';
import { splitHeaderBlock } from '../../../src/model/taskfile/header-block.js';
import { HEADER_KEYS, parseInstant, parseTaskHeader } from '../../../src/model/taskfile/parse-header.js';
import type { TaskHeader } from '../../../src/model/taskfile/task.js';

const FILE = 'tasks/users.sql';

function parse(lines: string[], stem: string | undefined = 'users') {
  const block = splitHeaderBlock([...lines, 'SELECT 1'].join('\n'));
  return parseTaskHeader(block.headers, FILE, stem);
}

/** Parses, asserting there are no errors, and returns the header. */
function ok(lines: string[], stem?: string) {
  const r = parse(lines, stem);
  expect(r.errors.map((e) => e.render())).toEqual([]);
  return r.header;
}

/** 1-based column of `needle` in `line` (the `nth` occurrence, 0-based). */
function col(line: string, needle: string, nth = 0): number {
  let i = -1;
  for (let k = 0; k <= nth; k++) {
    i = line.indexOf(needle, i + 1);
    if (i < 0) throw new Error(`\`${needle}\` not in \`${line}\``);
  }
  return i + 1;
}

/** Parses one bad header line (after a valid first line) and returns its single error. */
function oneError(line: string): DuckorchError {
  const r = parse(['-- @owner someone', line]);
  expect(r.errors, r.errors.map((e) => e.render()).join('\n')).toHaveLength(1);
  const e = r.errors[0]!;
  expect(e).toBeInstanceOf(DuckorchError);
  expect(e.location?.file).toBe(FILE);
  expect(e.location?.line).toBe(2);
  return e;
}

describe('parseTaskHeader: defaults', () => {
  it('gives every field its documented default and names the task after the file stem', () => {
    const r = parse([], 'users');
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.header).toEqual({
      name: 'users',
      description: null,
      owner: null,
      tags: [],
      schedule: null,
      retries: 0,
      timeoutSeconds: null,
      incrementalBy: null,
      params: [],
      tests: [],
      asset: null,
      partitions: null,
      automation: null,
      targetLagSeconds: null,
      freshnessLagSeconds: null,
      checks: [],
      checkSeverity: 'error',
      interval: { start: null, startTs: null, lookback: 0, allowPartials: false },
      declaredInputs: [],
      declaredOutputs: null,
      dependsOn: [],
      keyLocations: {},
    });
  });

  it('remembers where each key first appears', () => {
    const r = parse(['-- @name x', '-- @tags a', '--   @incremental_by   ts', '-- @tags b']);
    expect(r.header.keyLocations).toEqual({ task: { line: 1, col: 10 }, tags: { line: 2, col: 10 }, incremental_by: { line: 3, col: 24 } });
  });

  it.each([[undefined], ['']])('reports `task has no name` when there is neither a header nor a stem (%j)', (stem) => {
    const r = parseTaskHeader(splitHeaderBlock('-- @owner me\nSELECT 1').headers, FILE, stem);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]!.message).toBe('task has no name');
    expect(r.errors[0]!.code).toBe('HEADER_VALUE');
    expect(r.errors[0]!.location).toEqual({ file: FILE, line: 1, col: 1 });
    expect(r.errors[0]!.expected).toBe('-- @task name=<task_name>');
  });

  it('rejects a file stem that is not a valid task name, with a hint', () => {
    const r = parse([], 'my users');
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]!.message).toBe('the file name `my users` is not a valid task name');
    expect(r.errors[0]!.location).toEqual({ file: FILE, line: 1, col: 1 });
    expect(r.errors[0]!.hint).toMatch(/@task name=/);
  });

  it('accepts an invalid stem when an explicit name is given', () => {
    expect(ok(['-- @task name=users_v2'], 'my users').name).toBe('users_v2');
  });
});

describe('parseTaskHeader: `@k v`, `@k=v` and `@k = v` are equivalent', () => {
  const forms: Array<[string, string]> = [
    ['task', 'name=load'],
    ['retries', '3'],
    ['timeout', '5m'],
    ['tags', 'a, b'],
    ['automation', 'eager AND NOT in_progress'],
    ['check', 'name=c "SELECT 1" expect 1'],
    ['partitions_by', 'static(a, b)'],
  ];
  // Where the value starts differs between the forms; everything else must not.
  const without = (h: TaskHeader) => ({
    ...h,
    keyLocations: {},
    tests: h.tests.map((t) => ({ ...t, col: 0 })),
    checks: h.checks.map((c) => ({ ...c, col: 0 })),
  });
  it.each(forms)('@%s', (key, value) => {
    const a = without(ok([`-- @${key} ${value}`]));
    const b = without(ok([`-- @${key}=${value}`]));
    const c = without(ok([`-- @${key} = ${value}`]));
    const d = without(ok([`--@${key}   =   ${value}   `]));
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(d).toEqual(a);
    // And the header had an effect (not just the defaults).
    expect(a).not.toEqual(without(ok([])));
  });

  it('matches keys case-insensitively', () => {
    expect(ok(['-- @TASK name=x', '-- @Retries 2'])).toMatchObject({ name: 'x', retries: 2 });
  });
});

describe('parseTaskHeader: every header key (good paths)', () => {
  it('declares the same key set as spec §1', () => {
    expect([...HEADER_KEYS].sort()).toEqual(
      [
        'task',
        'name',
        'description',
        'owner',
        'inputs',
        'outputs',
        'depends_on',
        'tags',
        'schedule',
        'retries',
        'timeout',
        'incremental_by',
        'test',
        'param',
        'asset',
        'asset_kind',
        'asset_group',
        'asset_owner',
        'asset_description',
        'asset_tags',
        'partitions_by',
        'automation',
        'target_lag',
        'freshness',
        'check',
        'check_severity',
        'interval_start',
        'lookback',
        'allow_partials',
      ].sort(),
    );
  });

  it.each([
    ['-- @task name=load_users', 'load_users'],
    ['-- @task load_users', 'load_users'],
    ['-- @task name="load_users"', 'load_users'],
    ['-- @task name=stage.load-users_2', 'stage.load-users_2'],
    ['-- @name load_users', 'load_users'],
    ['-- @name "load_users"', 'load_users'],
    ['-- @name _x', '_x'],
  ])('%s → name %s', (line, name) => {
    expect(ok([line]).name).toBe(name);
  });

  it.each([
    ['-- @description Loads the users table', 'Loads the users table'],
    ['-- @description "Quoted text, with = and , inside"', 'Quoted text, with = and , inside'],
  ])('%s', (line, text) => {
    expect(ok([line]).description).toBe(text);
  });

  it('@owner is raw text', () => {
    expect(ok(['-- @owner data-team@example.com']).owner).toBe('data-team@example.com');
  });

  it('@inputs and @outputs are CSV lists of canonical dataset names, accumulated over lines', () => {
    const h = ok([
      '-- @inputs raw.users, Main.Events ,, file:./data//x.csv',
      '-- @inputs \'data/y.parquet\', "Odd Name".t',
      '-- @outputs analytics.Users',
      '-- @outputs analytics.events',
    ]);
    expect(h.declaredInputs).toEqual(['raw.users', 'Events', 'file:data/x.csv', 'file:data/y.parquet', '"Odd Name".t']);
    expect(h.declaredOutputs).toEqual(['analytics.Users', 'analytics.events']);
  });

  it('@depends_on and @tags are CSV lists; empty items are dropped', () => {
    const h = ok(['-- @depends_on a, b ,,c', '-- @depends_on d', '-- @tags daily, pii', '-- @tags , nightly,']);
    expect(h.dependsOn).toEqual(['a', 'b', 'c', 'd']);
    expect(h.tags).toEqual(['daily', 'pii', 'nightly']);
  });

  it.each([
    ['"0 6 * * *"', '0 6 * * *'],
    ['0  6 * *   *', '0 6 * * *'],
    ['@daily', '@daily'],
    ['"0 0 6 * * *"', '0 0 6 * * *'],
  ])('@schedule %s → %s', (value, expr) => {
    expect(ok([`-- @schedule ${value}`]).schedule).toBe(expr);
  });

  it.each([
    ['0', 0],
    ['3', 3],
    ['4294967295', 4294967295],
  ])('@retries %s', (value, n) => {
    expect(ok([`-- @retries ${value}`]).retries).toBe(n);
  });

  it.each([
    ['300', 300],
    ['30s', 30],
    ['5 minutes', 300],
    ['1h30m', 5400],
    ['2hr', 7200],
  ])('@timeout %s → %i seconds', (value, s) => {
    expect(ok([`-- @timeout ${value}`]).timeoutSeconds).toBe(s);
  });

  it('@incremental_by records one column', () => {
    expect(ok(['-- @incremental_by updated_at']).incrementalBy).toBe('updated_at');
    expect(ok(['-- @incremental_by "ts$1"']).incrementalBy).toBe('ts$1');
  });

  it('@test accepts every assertion and numbers tests in file order', () => {
    const lines = [
      '-- @test "SELECT * FROM t WHERE id IS NULL" expect_empty',
      '-- @test "SELECT * FROM t" expect_non_empty',
      '-- @test "SELECT count(*) FROM t" expect 0',
      '-- @test "SELECT count(*) FROM t" expect_gt 10',
      '-- @test "SELECT max(v) FROM t" expect_lt -2.5',
      '-- @test "SELECT 1" expect_eq 1',
    ];
    const h = ok(lines);
    expect(h.tests).toEqual([
      {
        index: 1,
        sql: 'SELECT * FROM t WHERE id IS NULL',
        assertion: { kind: 'expect_empty' },
        assertionText: 'expect_empty',
        line: 1,
        col: 11,
      },
      { index: 2, sql: 'SELECT * FROM t', assertion: { kind: 'expect_non_empty' }, assertionText: 'expect_non_empty', line: 2, col: 11 },
      { index: 3, sql: 'SELECT count(*) FROM t', assertion: { kind: 'expect', value: 0 }, assertionText: 'expect 0', line: 3, col: 11 },
      {
        index: 4,
        sql: 'SELECT count(*) FROM t',
        assertion: { kind: 'expect_gt', value: 10 },
        assertionText: 'expect_gt 10',
        line: 4,
        col: 11,
      },
      {
        index: 5,
        sql: 'SELECT max(v) FROM t',
        assertion: { kind: 'expect_lt', value: -2.5 },
        assertionText: 'expect_lt -2.5',
        line: 5,
        col: 11,
      },
      { index: 6, sql: 'SELECT 1', assertion: { kind: 'expect', value: 1 }, assertionText: 'expect_eq 1', line: 6, col: 11 },
    ]);
  });

  it('@test SQL may contain double quotes (a gap of the original)', () => {
    const h = ok(['-- @test "SELECT count(*) FROM "My Table" WHERE "a b" IS NULL" expect 0']);
    expect(h.tests[0]!.sql).toBe('SELECT count(*) FROM "My Table" WHERE "a b" IS NULL');
  });

  it('@param accepts every documented type alias, case-insensitively, comma- or space-separated', () => {
    const h = ok([
      '-- @param a:VARCHAR, b:string, c:Text, d:INT, e:integer, f:INT4',
      '-- @param g:BIGINT h:int8 i:long j:DATE k:timestamp l:DateTime',
      '-- @param m:BOOL, n:boolean, o:DOUBLE, p:float, q:FLOAT8, r : DATE',
    ]);
    expect(h.params).toEqual([
      { name: 'a', type: 'VARCHAR' },
      { name: 'b', type: 'VARCHAR' },
      { name: 'c', type: 'VARCHAR' },
      { name: 'd', type: 'INTEGER' },
      { name: 'e', type: 'INTEGER' },
      { name: 'f', type: 'INTEGER' },
      { name: 'g', type: 'BIGINT' },
      { name: 'h', type: 'BIGINT' },
      { name: 'i', type: 'BIGINT' },
      { name: 'j', type: 'DATE' },
      { name: 'k', type: 'TIMESTAMP' },
      { name: 'l', type: 'TIMESTAMP' },
      { name: 'm', type: 'BOOLEAN' },
      { name: 'n', type: 'BOOLEAN' },
      { name: 'o', type: 'DOUBLE' },
      { name: 'p', type: 'DOUBLE' },
      { name: 'q', type: 'DOUBLE' },
      { name: 'r', type: 'DATE' },
    ]);
  });

  it.each([
    ['-- @asset name=analytics.users', 'analytics.users'],
    ['-- @asset analytics.users', 'analytics.users'],
    ['-- @asset Main.Users', 'Users'],
    // Quoted parts are read as @outputs reads them: identifiers that keep their case and spaces.
    ['-- @asset name="BikeMart"."station leaderboard"', 'BikeMart."station leaderboard"'],
    ['-- @asset "BikeMart"."station leaderboard"', 'BikeMart."station leaderboard"'],
    ['-- @asset name="Bike Mart".Stations', '"Bike Mart".Stations'],
    ['-- @asset name=analytics."say ""hi"""', 'analytics."say ""hi"""'],
    ['-- @asset name="Users"', 'Users'],
    // One quoted identifier holding a dot, as in @outputs (build-task maps duckOrch's quoting of the whole value).
    ['-- @asset name="analytics.users"', '"analytics.users"'],
    ["-- @asset name='data/out.csv'", 'file:data/out.csv'],
  ])('%s declares asset %s with default metadata', (line, name) => {
    expect(ok([line]).asset).toEqual({ name, kind: 'table', group: null, owner: null, description: null, tags: [] });
  });

  it('@asset and @outputs read a quoted name the same way', () => {
    for (const name of ['"BikeMart"."station leaderboard"', '"Bike Mart".Stations', 'main."Odd ""Name"""', 'a.b', "'x.csv'"]) {
      const h = ok([`-- @asset name=${name}`, `-- @outputs ${name}`]);
      expect(h.asset!.name).toBe(h.declaredOutputs![0]);
    }
  });

  it('collects the @asset_* metadata into the asset', () => {
    const h = ok([
      '-- @asset name=analytics.users',
      '-- @asset_kind view',
      '-- @asset_group sales',
      '-- @asset_owner "Ann Smith"',
      '-- @asset_description Users, cleaned',
      '-- @asset_tags pii, core',
      '-- @asset_tags gold',
    ]);
    expect(h.asset).toEqual({
      name: 'analytics.users',
      kind: 'view',
      group: 'sales',
      owner: 'Ann Smith',
      description: 'Users, cleaned',
      tags: ['pii', 'core', 'gold'],
    });
  });

  it('@asset_* without @asset describes an asset whose name is filled in later from the first output', () => {
    expect(ok(['-- @asset_group sales']).asset).toEqual({
      name: '',
      kind: 'table',
      group: 'sales',
      owner: null,
      description: null,
      tags: [],
    });
    expect(ok(['-- @asset_tags x']).asset?.tags).toEqual(['x']);
  });

  it('@partitions_by stores the parsed definition', () => {
    expect(ok(['-- @partitions_by daily(start=2024-01-01)']).partitions).toEqual({ kind: 'daily', start: '2024-01-01', end: null });
    expect(ok(['-- @partitions_by static(eu, us)']).partitions).toEqual({ kind: 'static', values: ['eu', 'us'] });
  });

  it.each([
    ['eager AND NOT in_progress()', 'eager() AND NOT in_progress()', null],
    ['eager | on_cron("0 6 * * *")', 'eager() OR on_cron("0 6 * * *")', null],
    ["on_interval('60m') & !in_progress", 'on_interval("hourly") AND NOT in_progress()', 'hourly'],
    [
      '(eager or on_missing) and on_interval("2h") and on_interval("daily")',
      '(eager() OR on_missing()) AND on_interval("2h") AND on_interval("daily")',
      '2h',
    ],
  ])('@automation %s → %s (interval unit %j)', (value, canonical, unit) => {
    const h = ok([`-- @automation ${value}`]);
    expect(h.automation?.condition).toBe(canonical);
    expect(h.automation?.intervalUnit).toBe(unit);
    expect(h.automation?.ast).toBeDefined();
  });

  it('@target_lag alone implies eager()', () => {
    const h = ok(['-- @target_lag 5 minutes']);
    expect(h.targetLagSeconds).toBe(300);
    expect(h.automation).toEqual({ condition: 'eager()', ast: { kind: 'atom', name: 'eager' }, intervalUnit: null });
  });

  it.each([
    [['-- @target_lag 1h', '-- @automation on_missing'] as string[]],
    [['-- @automation on_missing', '-- @target_lag 1h'] as string[]],
  ])('@automation wins over the implied eager() whatever the order: %j', (lines) => {
    const h = ok(lines);
    expect(h.targetLagSeconds).toBe(3600);
    expect(h.automation?.condition).toBe('on_missing()');
  });

  it('no @target_lag and no @automation means no automation', () => {
    expect(ok(['-- @freshness 1h']).automation).toBeNull();
  });

  it.each([
    ['max_lag=1h', 3600],
    ['1h', 3600],
    ['max_lag="90 min"', 5400],
    ['5 minutes', 300],
    ['2d', 172800],
  ])('@freshness %s → %i seconds', (value, s) => {
    expect(ok([`-- @freshness ${value}`]).freshnessLagSeconds).toBe(s);
  });

  it('@check: every op, with the value stored as text', () => {
    const h = ok([
      '-- @check name=rows "SELECT count(*) FROM ${asset}" expect gt 0',
      '-- @check name=c_eq "SELECT 1" expect eq 1',
      "-- @check name=c_ne \"SELECT 'a'\" expect ne 'b'",
      '-- @check name=c_ge "SELECT 1" expect ge 1.5',
      '-- @check name=c_lt "SELECT 1" expect lt -3',
      '-- @check name=c_le "SELECT 1" expect le 1e3',
      '-- @check name=bounded "SELECT 5" expect between 1, 10',
      '-- @check name=nn "SELECT max(id) FROM t" expect_not_null',
      '-- @check name=zero "SELECT count(*) FROM t WHERE id IS NULL" expect 0',
      '-- @check name=str "SELECT \'x\'" expect eq "x"',
    ]);
    expect(h.checks.map((c) => [c.name, c.sql, c.op, c.value, c.severity, c.line])).toEqual([
      ['rows', 'SELECT count(*) FROM ${asset}', 'gt', '0', 'error', 1],
      ['c_eq', 'SELECT 1', 'eq', '1', 'error', 2],
      ['c_ne', "SELECT 'a'", 'ne', 'b', 'error', 3],
      ['c_ge', 'SELECT 1', 'ge', '1.5', 'error', 4],
      ['c_lt', 'SELECT 1', 'lt', '-3', 'error', 5],
      ['c_le', 'SELECT 1', 'le', '1e3', 'error', 6],
      ['bounded', 'SELECT 5', 'between', '1,10', 'error', 7],
      ['nn', 'SELECT max(id) FROM t', 'not_null', null, 'error', 8],
      ['zero', 'SELECT count(*) FROM t WHERE id IS NULL', 'eq', '0', 'error', 9],
      ['str', "SELECT 'x'", 'eq', 'x', 'error', 10],
    ]);
  });

  it('@check accepts quoted field values before the SQL', () => {
    const h = ok(['-- @check name="rows" severity="warn" "SELECT count(*) FROM t" expect gt 0']);
    expect(h.checks.map((c) => [c.name, c.sql, c.op, c.value, c.severity])).toEqual([
      ['rows', 'SELECT count(*) FROM t', 'gt', '0', 'warn'],
    ]);
  });

  it('@check SQL may contain double quotes', () => {
    const h = ok(['-- @check name=c "SELECT count(*) FROM "My Table"" expect gt 0']);
    expect(h.checks[0]!.sql).toBe('SELECT count(*) FROM "My Table"');
  });

  it('@check_severity applies to every check without its own severity, wherever it appears', () => {
    const h = ok([
      '-- @check name=a "SELECT 1" expect 1',
      '-- @check name=b severity=error "SELECT 1" expect 1',
      '-- @check_severity WARN',
      '-- @check name=c "SELECT 1" expect 1',
    ]);
    expect(h.checkSeverity).toBe('warn');
    expect(h.checks.map((c) => [c.name, c.severity])).toEqual([
      ['a', 'warn'],
      ['b', 'error'],
      ['c', 'warn'],
    ]);
  });

  it('an inline severity=warn overrides the default error', () => {
    expect(ok(['-- @check name=a severity=warn "SELECT 1" expect 1']).checks[0]!.severity).toBe('warn');
  });

  it.each([
    ['2024-01-01', '2024-01-01T00:00:00Z', 1704067200],
    ['2024-01-01 06:30:00', '2024-01-01T06:30:00Z', 1704090600],
    ['2024-01-01T06:30:00', '2024-01-01T06:30:00Z', 1704090600],
    ['2024-01-01T06:30:00Z', '2024-01-01T06:30:00Z', 1704090600],
    ['"2024-01-01 06:30"', '2024-01-01T06:30:00Z', 1704090600],
    ['1704067200', '2024-01-01T00:00:00Z', 1704067200],
    ['0', '1970-01-01T00:00:00Z', 0],
  ])('@interval_start %s is UTC', (value, iso, ts) => {
    expect(ok([`-- @interval_start ${value}`]).interval).toMatchObject({ start: iso, startTs: ts });
  });

  it.each([
    ['-- @lookback 3', { lookback: 3, allowPartials: false }],
    ['-- @allow_partials', { lookback: 0, allowPartials: true }],
    ['-- @allow_partials true', { lookback: 0, allowPartials: true }],
    ['-- @allow_partials TRUE', { lookback: 0, allowPartials: true }],
    ['-- @allow_partials false', { lookback: 0, allowPartials: false }],
  ])('%s', (line, expected) => {
    expect(ok([line]).interval).toMatchObject(expected);
  });

  it('a realistic full header parses with no errors or warnings', () => {
    const r = parse([
      '-- Nightly users load.',
      '-- @task name=load_users',
      '-- @description Cleans raw users',
      '-- @owner data',
      '-- @inputs raw.users',
      '-- @outputs analytics.users',
      '-- @depends_on seed',
      '-- @tags daily',
      '-- @schedule "0 6 * * *"',
      '-- @retries 2',
      '-- @timeout 10m',
      '-- @incremental_by updated_at',
      '-- @test "SELECT * FROM analytics.users WHERE id IS NULL" expect_empty',
      '-- @param partition_key:DATE',
      '-- @asset name=analytics.users',
      '-- @asset_kind table',
      '-- @asset_group core',
      '-- @asset_owner data',
      '-- @asset_description Users',
      '-- @asset_tags pii',
      '-- @partitions_by daily(start=2024-01-01)',
      '-- @automation eager() AND NOT in_progress()',
      '-- @target_lag 1h',
      '-- @freshness max_lag=1d',
      '-- @check name=rows "SELECT count(*) FROM ${asset}" expect gt 0',
      '-- @check_severity warn',
      '-- @interval_start 2024-01-01',
      '-- @lookback 1',
      '-- @allow_partials false',
    ]);
    expect(r.errors.map((e) => e.render())).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.header).toMatchObject({
      name: 'load_users',
      retries: 2,
      timeoutSeconds: 600,
      targetLagSeconds: 3600,
      freshnessLagSeconds: 86400,
      checkSeverity: 'warn',
      dependsOn: ['seed'],
      interval: { start: '2024-01-01T00:00:00Z', startTs: 1704067200, lookback: 1, allowPartials: false },
    });
  });
});

describe('parseTaskHeader: a task name with words after it', () => {
  it('reports every extra word instead of registering the first', () => {
    const r = parse(['-- @task name=bad sql two']);
    expect(r.errors.map((e) => [e.message, e.location?.col])).toEqual([
      ['unexpected `sql` after the task name (a name has no spaces)', 19],
      ['unexpected `two` after the task name (a name has no spaces)', 23],
    ]);
  });
});

describe('parseTaskHeader: errors carry the exact line, column and expected form', () => {
  /** [header line, message (exact or pattern), text the column must point at (undefined: past the end), expected pattern or undefined] */
  const CASES: Array<[string, string | RegExp, string | undefined, RegExp | undefined]> = [
    ['-- @task name=1bad', 'invalid task name `1bad`', '1bad', /letters, digits/],
    ['-- @task  1bad', 'invalid task name `1bad`', '1bad', /letters, digits/],
    ['-- @task  name="a b"', 'invalid task name `a b`', '"a b"', /letters, digits/],
    ['-- @name has space', 'invalid task name `has space`', 'has space', /letters/],
    ['-- @task', '`@task` needs a name', undefined, /@task name=/],
    ['-- @task name=ok colour=red', 'unknown field `colour` in @task', 'colour=red', /@task name=/],
    ['-- @task name=bad sql', 'unexpected `sql` after the task name (a name has no spaces)', 'sql', /@task name=/],
    ['-- @task bad extra', 'unexpected `extra` after the task name (a name has no spaces)', 'extra', /@task name=/],
    ['-- @inputs raw.users, bad name, x', 'invalid dataset name `bad name` in @inputs', 'bad name', /comma-separated/],
    ['-- @outputs a.b.c.d', 'invalid dataset name `a.b.c.d` in @outputs', 'a.b.c.d', /comma-separated/],
    ['-- @depends_on ok, 1bad', 'invalid task name `1bad` in @depends_on', '1bad', /task names/],
    ['-- @schedule "every day"', /^invalid cron expression "every day"/, '"every day"', /cron expression/],
    ['-- @retries abc', 'invalid retries `abc`', 'abc', /whole number/],
    ['-- @retries -1', 'invalid retries `-1`', '-1', /whole number/],
    ['-- @retries 1.5', 'invalid retries `1.5`', '1.5', /whole number/],
    ['-- @retries 4294967296', 'invalid retries `4294967296`', '4294967296', /whole number/],
    ['-- @timeout forever', 'invalid timeout `forever`', 'forever', /duration/],
    ['-- @timeout 0', 'invalid timeout `0`', '0', /greater than zero/],
    ['-- @incremental_by 1col', 'invalid column `1col` for @incremental_by', '1col', /one column name/],
    ['-- @incremental_by a, b', 'invalid column `a, b` for @incremental_by', 'a, b', /one column name/],
    ['-- @test SELECT 1 expect 0', /^@test expects quoted SQL/, 'SELECT', /expect_empty/],
    ['-- @test SELECT count(*) FROM "T" expect 0', /^@test expects quoted SQL/, 'SELECT', /expect_empty/],
    ['-- @test "SELECT 1 expect 0', /^unterminated @test SQL string/, '"SELECT', /expect_empty/],
    ['-- @test "" expect 0', '@test SQL is empty', '""', /expect_empty/],
    ['-- @test "SELECT 1"', '@test is missing its assertion', undefined, /expect_empty/],
    ['-- @test "SELECT 1" expect abc', 'invalid @test assertion `expect abc`', 'expect abc', /expect_empty/],
    ['-- @test "SELECT 1" expect_empty 3', 'invalid @test assertion `expect_empty 3`', 'expect_empty 3', /expect_empty/],
    ['-- @test "SELECT 1" expect_gt', 'invalid @test assertion `expect_gt`', 'expect_gt', /expect_empty/],
    ['-- @test "SELECT 1" expect 1 2', 'invalid @test assertion `expect 1 2`', 'expect 1 2', /expect_empty/],
    ['-- @param day', '@param expects `name:TYPE`, got `day`', 'day', /name:TYPE/],
    ['-- @param ok:INT, :DATE', '@param has an empty name', ':DATE', /name:TYPE/],
    ['-- @param day:WEEKDAY', '@param day: unknown type `WEEKDAY`', 'WEEKDAY', /VARCHAR, INTEGER/],
    ['-- @param a:INT, day  :  WEEKDAY', '@param day: unknown type `WEEKDAY`', 'WEEKDAY', /VARCHAR, INTEGER/],
    ['-- @param 1x:INT', 'invalid parameter name `1x`', '1x', /name:TYPE/],
    ['-- @param a:b:c', '@param expects `name:TYPE`, got `a:b:c`', 'a:b:c', /name:TYPE/],
    ['-- @param a:INT, a:DATE', '@param `a` is declared twice', 'a:DATE', undefined],
    ['-- @asset 1bad', 'invalid asset name `1bad`', '1bad', /@asset name=/],
    ['-- @asset name=a..b', 'invalid asset name `a..b`', 'a..b', /@asset name=/],
    ['-- @asset', 'invalid asset name ``', undefined, /@asset name=/],
    ['-- @asset name=a.b kind=view', 'unknown field `kind` in @asset', 'kind=view', /@asset name=/],
    ['-- @asset name="BikeMart"."station', 'invalid asset name `"BikeMart"."station`', '"BikeMart"', /@asset name=/],
    ['-- @asset name="Bike Mart"x', 'invalid asset name `"Bike Mart"x`', '"Bike Mart"x', /@asset name=/],
    ['-- @asset name=Bike Mart', 'unknown field `Mart` in @asset', 'Mart', /@asset name=/],
    ['-- @asset_kind', '`@asset_kind` needs a value', undefined, undefined],
    ['-- @asset_group ""', '`@asset_group` needs a value', '""', undefined],
    [
      '-- @partitions_by yearly(start=2024-01-01)',
      '@partitions_by: unknown kind `yearly` (expected hourly|daily|weekly|monthly|static|multi)',
      'yearly',
      /daily\(start=/,
    ],
    [
      '-- @partitions_by daily(start=2024-13-01)',
      '@partitions_by: invalid date `2024-13-01` (expected YYYY-MM-DD)',
      '2024-13-01',
      /daily\(start=/,
    ],
    ['-- @partitions_by static(a, b, a)', '@partitions_by: static value `a` is listed twice', 'a)', /static\(/],
    [
      '-- @automation eager AND bogus()',
      /^@automation: unknown atom `bogus` \(expected eager\|on_cron\|on_interval\|on_missing\|freshness_violated\|in_progress\)$/,
      'bogus',
      /atoms eager/,
    ],
    ['-- @automation on_cron("61 * * * *")', /^@automation: invalid cron expression "61 \* \* \* \*"/, '"61', /atoms/],
    ['-- @automation eager AND', '@automation: expression ends where an atom was expected', undefined, /atoms/],
    ['-- @target_lag soon', '@target_lag: invalid duration `soon`', 'soon', /duration such as/],
    ['-- @target_lag 0s', '@target_lag: invalid duration `0s`', '0s', /duration such as/],
    ['-- @freshness max_lag=soon', '@freshness: invalid value `max_lag=soon`', 'soon', /max_lag=<duration>/],
    ['-- @freshness 5 fortnights', '@freshness: invalid value `5 fortnights`', '5 fortnights', /max_lag=<duration>/],
    ['-- @freshness 0', '@freshness: invalid value `0`', '0', /max_lag=<duration>/],
    ['-- @freshness max=1h', '@freshness: invalid value `max=1h`', 'max=1h', /max_lag=<duration>/],
    ['-- @freshness max_lag=1h x=2', '@freshness: invalid value `max_lag=1h x=2`', 'max_lag', /max_lag=<duration>/],
    ['-- @check "SELECT 1" expect 1', '@check is missing `name=`', '"SELECT', /name=<check>/],
    ['-- @check name= "SELECT 1" expect 1', '@check has an empty name', ' "SELECT', /name=<check>/],
    ['-- @check name="" "SELECT 1" expect 1', '@check has an empty name', '""', /name=<check>/],
    ['-- @check name=1x "SELECT 1" expect 1', 'invalid check name `1x`', '1x', /name=<check>/],
    ['-- @check name=c colour=red "SELECT 1" expect 1', 'unexpected `colour=red` in @check', 'colour=red', /name=<check>/],
    ['-- @check name=c severity=fatal "SELECT 1" expect 1', 'invalid check severity `fatal`', 'fatal', /^error or warn$/],
    ['-- @check name=c SELECT 1 expect 1', 'unexpected `SELECT` in @check', 'SELECT', /name=<check>/],
    ['-- @check name=c "SELECT 1 expect 1', /^unterminated @check SQL string/, '"SELECT', /name=<check>/],
    ['-- @check name=c "SELECT 1"', '@check is missing its expectation', undefined, /name=<check>/],
    ['-- @check name=c "SELECT 1" expect', '@check is missing the value after `expect`', 'expect', /name=<check>/],
    ['-- @check name=c "SELECT 1" expect gt', '@check is missing the value after `expect gt`', 'expect gt', /name=<check>/],
    ['-- @check name=c "SELECT 1" expect ge abc', '`expect ge` needs a number, got `abc`', 'expect ge', /name=<check>/],
    [
      '-- @check name=c "SELECT 1" expect about 3',
      'unknown op `about` (expected eq|ne|gt|ge|lt|le|between)',
      'expect about',
      /name=<check>/,
    ],
    ['-- @check name=c "SELECT 1" expect between 5,1', 'invalid bounds `5,1` for between', 'expect between', /lo <= hi/],
    ['-- @check name=c "SELECT 1" expect between 1', 'invalid bounds `1` for between', 'expect between', /lo <= hi/],
    ['-- @check name=c "SELECT 1" expect between a,b', 'invalid bounds `a,b` for between', 'expect between', /lo <= hi/],
    ['-- @check name=c "SELECT 1" expect_not_null 3', 'invalid @check expectation `expect_not_null 3`', 'expect_not_null', /name=<check>/],
    ['-- @check name=c "SELECT 1" assert 1', 'invalid @check expectation `assert 1`', 'assert', /name=<check>/],
    ['-- @check_severity fatal', 'invalid check severity `fatal`', 'fatal', /error or warn/],
    ['-- @interval_start 2024-02-30', 'invalid @interval_start `2024-02-30`', '2024-02-30', /YYYY-MM-DD/],
    ['-- @interval_start yesterday', 'invalid @interval_start `yesterday`', 'yesterday', /epoch seconds/],
    ['-- @interval_start 99999999999999', 'invalid @interval_start `99999999999999`', '99999999999999', /epoch seconds/],
    ['-- @interval_start 2024-01-01 25:00:00', 'invalid @interval_start `2024-01-01 25:00:00`', '2024-01-01', /YYYY-MM-DD/],
    ['-- @lookback -1', 'invalid @lookback `-1`', '-1', /whole number/],
    ['-- @lookback two', 'invalid @lookback `two`', 'two', /whole number/],
    ['-- @allow_partials yes', 'invalid @allow_partials `yes`', 'yes', /true or false/],
  ];

  it.each(CASES)('%s', (line, message, pointAt, expected) => {
    const e = oneError(line);
    if (typeof message === 'string') expect(e.message).toBe(message);
    else expect(e.message).toMatch(message);
    expect(e.code).toBe('HEADER_VALUE');
    // The column points at the offending value; for a missing value, just past the end of the line.
    const column = pointAt === undefined ? line.length + 1 : col(line, pointAt);
    expect(e.location?.col).toBe(column);
    if (expected) expect(e.expected).toMatch(expected);
    else expect(e.expected).toBeUndefined();
  });

  it('points into the value for multi-valued lists (second bad item)', () => {
    const line = '-- @depends_on 1a,  ok, 2b';
    const r = parse(['-- @task name=t', line]);
    expect(r.errors.map((e) => [e.message, e.location?.col])).toEqual([
      ['invalid task name `1a` in @depends_on', col(line, '1a')],
      ['invalid task name `2b` in @depends_on', col(line, '2b')],
    ]);
    expect(r.header.dependsOn).toEqual(['ok']);
  });

  it('maps the condition offset into the file column even with `=` and extra spaces', () => {
    const line = '--   @automation  =  eager OR (on_missing AND nope)';
    const r = parse([line]);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]!.location).toEqual({ file: FILE, line: 1, col: col(line, 'nope') });
  });

  it('maps a partition error inside multi(...) to the nested value', () => {
    const line = '-- @partitions_by multi(day=daily(start=2024-01-01), region=static())';
    const r = parse([line]);
    expect(r.errors.map((e) => [e.message, e.location?.col])).toEqual([
      ['@partitions_by: empty value list', col(line, 'static(') + 'static('.length],
    ]);
  });
});

describe('parseTaskHeader: repeated headers', () => {
  it.each([
    'retries 1',
    'timeout 1m',
    'description x',
    'owner x',
    'schedule @daily',
    'incremental_by c',
    'asset a',
    'asset_kind view',
    'asset_group g',
    'asset_owner o',
    'asset_description d',
    'partitions_by static(a)',
    'automation eager',
    'target_lag 1h',
    'freshness 1h',
    'check_severity warn',
    'interval_start 2024-01-01',
    'lookback 1',
    'allow_partials',
  ])('a repeated single-valued header is an error on the second line: @%s', (kv) => {
    const key = kv.split(' ')[0]!;
    const line = `-- @${kv}`;
    const value = kv.slice(key.length).trim();
    const r = parse(['-- @task name=t', line, '-- @tags x', line]);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]!.message).toBe(`\`@${key}\` is given twice (first on line 2); keep one`);
    expect(r.errors[0]!.location?.line).toBe(4);
    expect(r.errors[0]!.location?.col).toBe(line.length - value.length + 1);
  });

  it('@task and @name are the same header', () => {
    const r = parse(['-- @task name=a', '-- @name b']);
    expect(r.errors.map((e) => [e.message, e.location?.line])).toEqual([['`@name` is given twice (first on line 1); keep one', 2]]);
    expect(r.header.name).toBe('a');
  });

  it('keys differing only in case are the same header', () => {
    const r = parse(['-- @retries 1', '-- @RETRIES 2']);
    expect(r.errors).toHaveLength(1);
    expect(r.header.retries).toBe(1);
  });

  it('list headers may repeat', () => {
    const h = ok([
      '-- @inputs a',
      '-- @inputs b',
      '-- @outputs c',
      '-- @outputs d',
      '-- @depends_on x',
      '-- @depends_on y',
      '-- @tags t1',
      '-- @tags t2',
      '-- @asset_tags a1',
      '-- @asset_tags a2',
      '-- @param p:INT',
      '-- @param q:INT',
      '-- @test "SELECT 1" expect 1',
      '-- @test "SELECT 2" expect 2',
      '-- @check name=c1 "SELECT 1" expect 1',
      '-- @check name=c2 "SELECT 1" expect 1',
    ]);
    expect(h.declaredInputs).toEqual(['a', 'b']);
    expect(h.declaredOutputs).toEqual(['c', 'd']);
    expect(h.tests.map((t) => t.index)).toEqual([1, 2]);
    expect(h.checks.map((c) => c.name)).toEqual(['c1', 'c2']);
  });

  it('two checks with the same name are an error on the second check line, at its name', () => {
    const second = '-- @check  severity=warn name=c "SELECT 2" expect 2';
    const r = parse(['-- @check name=c "SELECT 1" expect 1', '-- @owner me', second]);
    expect(r.errors.map((e) => [e.message, e.location?.line, e.location?.col])).toEqual([
      ['check `c` is declared twice; check names must be unique per task', 3, col(second, 'c "SELECT')],
    ]);
  });
});

describe('parseTaskHeader: reports every error of a file', () => {
  it('collects all errors in line order, not just the first', () => {
    const lines = [
      '-- @task name=ok',
      '-- @retries many',
      '-- @owner fine',
      '-- @timeout soon',
      '-- @automation eager AND',
      '-- @check name=c "SELECT 1" expect about 1',
      '-- @partitions_by daily()',
      '-- @retries 2',
    ];
    const r = parse(lines);
    expect(r.errors.map((e) => e.location?.line)).toEqual([2, 4, 5, 6, 7, 8]);
    expect(r.errors.every((e) => e instanceof DuckorchError && e.location?.file === FILE)).toBe(true);
    // Valid headers around the bad ones still take effect.
    expect(r.header.owner).toBe('fine');
    expect(r.header.name).toBe('ok');
  });

  it('renders as file:line:col: message (expected …)', () => {
    const e = oneError('-- @retries abc');
    expect(e.render()).toBe(`${FILE}:2:13: invalid retries \`abc\` (expected a whole number of retries, e.g. 3)`);
  });
});

describe('parseTaskHeader: unknown keys are warnings with a did-you-mean hint', () => {
  it.each([
    ['-- @retry 3', 'retry', 'retries'],
    ['-- @depend_on a', 'depend_on', 'depends_on'],
    ['-- @Ouputs x', 'Ouputs', 'outputs'],
    ['-- @partition_by daily(start=2024-01-01)', 'partition_by', 'partitions_by'],
    ['-- @targetlag 1h', 'targetlag', 'target_lag'],
  ])('%s', (line, key, suggestion) => {
    const r = parse([line]);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toHaveLength(1);
    const w = r.warnings[0]!;
    expect(w.code).toBe('HEADER_SYNTAX');
    expect(w.message).toBe(`unknown header \`@${key}\` is ignored`);
    expect(w.hint).toBe(`did you mean \`@${suggestion}\`?`);
    expect(w.location).toEqual({ file: FILE, line: 1, col: col(line, '@') });
  });

  it('an empty key warns without a hint', () => {
    const r = parse(['-- @ something']);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]!.message).toBe('unknown header `@` is ignored');
    expect(r.warnings[0]!.hint).toBeUndefined();
  });

  it('an unknown key has no effect on the header', () => {
    expect(parse(['-- @retry 3']).header).toEqual(ok([]));
  });
});

describe('parseInstant', () => {
  it.each([
    ['1970-01-01', 0],
    ['2024-02-29', 1709164800],
    ['2024-02-29 23:59:59', 1709251199],
    ['2024-02-29T23:59', 1709251140],
    ['12345', 12345],
    ['8640000000000', 8640000000000],
  ])('%s → %i', (text, ts) => {
    expect(parseInstant(text)).toBe(ts);
  });

  it.each([
    '8640000000001',
    '2023-02-29',
    '2024-1-1',
    '2024-01-01 24:00:00',
    '2024-01-01 12:60',
    '2024-01-01T10:00:00+02:00',
    '-5',
    '1.5',
    '',
  ])('rejects %j', (text) => {
    expect(parseInstant(text)).toBeUndefined();
  });
});

describe('parseTaskHeader: empty lists', () => {
  it.each(['inputs', 'outputs', 'depends_on', 'tags', 'asset_tags', 'param'])(
    'rejects an empty @%s instead of reading it as "nothing"',
    (key) => {
      const e = oneError(`-- @${key}`);
      expect(e.message).toBe(`\`@${key}\` is empty`);
      expect(e.expected).toBeDefined();
    },
  );
});
