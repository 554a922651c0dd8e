import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqlAnalyzer } from '../../src/sql/analyzer.js';
import { DuckDbSqlParser } from '../../src/sql/duckdb-parser.js';

let parser: DuckDbSqlParser;
let analyzer: SqlAnalyzer;
beforeAll(async () => {
  parser = await DuckDbSqlParser.inMemory();
  analyzer = new SqlAnalyzer(parser);
});
afterAll(() => parser.close());

/** [description, sql, expected reads, expected writes] */
const CORPUS: Array<[string, string, string[], string[]]> = [
  [
    'CTAS',
    'CREATE OR REPLACE TABLE analytics.clean_users AS SELECT id FROM raw.users WHERE deleted_at IS NULL',
    ['raw.users'],
    ['analytics.clean_users'],
  ],
  ['CTAS IF NOT EXISTS', 'CREATE TABLE IF NOT EXISTS a.b AS SELECT * FROM c', ['c'], ['a.b']],
  ['CREATE TABLE with columns then INSERT', 'CREATE TABLE t (id INT, v VARCHAR); INSERT INTO t SELECT id, v FROM src', ['src'], ['t']],
  ['CREATE VIEW', 'CREATE OR REPLACE VIEW v_users (id, name) AS SELECT id, name FROM users', ['users'], ['v_users']],
  [
    'GROUP BY ALL, EXCLUDE, casts, QUALIFY',
    'CREATE TABLE s AS SELECT * EXCLUDE (x), y::INT AS y FROM t GROUP BY ALL QUALIFY row_number() OVER (PARTITION BY y) = 1',
    ['t'],
    ['s'],
  ],
  ['range() is not an input', 'CREATE TABLE nums AS SELECT range AS n FROM range(10)', [], ['nums']],
  ['CTE is never an input', 'CREATE TABLE out AS WITH a AS (SELECT * FROM src), b AS (SELECT * FROM a) SELECT * FROM b', ['src'], ['out']],
  ['CTE shadowing a table of the same name', 'WITH users AS (SELECT * FROM users WHERE active) SELECT * FROM users', ['users'], []],
  [
    'recursive CTE',
    'WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r JOIN t ON true',
    ['t'],
    [],
  ],
  [
    'subqueries everywhere',
    'SELECT (SELECT max(v) FROM s1) AS m FROM t WHERE x IN (SELECT y FROM s2) AND EXISTS (SELECT 1 FROM s3) GROUP BY ALL HAVING count(*) > (SELECT count(*) FROM s4)',
    ['s1', 's2', 's3', 's4', 't'],
    [],
  ],
  ['subquery in FROM', 'SELECT * FROM (SELECT * FROM inner_t) q', ['inner_t'], []],
  [
    'set operations',
    'SELECT a FROM x UNION ALL SELECT a FROM y EXCEPT SELECT a FROM z INTERSECT SELECT a FROM w',
    ['w', 'x', 'y', 'z'],
    [],
  ],
  [
    'joins of every kind',
    'SELECT * FROM a LEFT JOIN b ON a.id = b.id FULL OUTER JOIN c USING (id) CROSS JOIN d ASOF JOIN e ON a.t >= e.t POSITIONAL JOIN f SEMI JOIN g ON g.id = a.id ANTI JOIN h ON h.id = a.id',
    ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'],
    [],
  ],
  [
    'qualified and quoted names',
    'SELECT * FROM "Raw"."Users" JOIN cat.sch.tbl ON true JOIN main.plain ON true',
    ['Raw.Users', 'cat.sch.tbl', 'plain'],
    [],
  ],
  ['quoted name with space', 'CREATE TABLE "my schema"."My Table" AS SELECT 1', [], ['"my schema"."My Table"']],
  [
    'file table functions',
    "CREATE TABLE t AS SELECT * FROM read_parquet('data/x.parquet') JOIN read_csv(['a.csv', 'b.csv'], header = true) ON true",
    ['file:a.csv', 'file:b.csv', 'file:data/x.parquet'],
    ['t'],
  ],
  [
    'remote files keep their URL scheme',
    "SELECT * FROM read_parquet('s3://bucket//data/*.parquet')",
    ['file:s3://bucket/data/*.parquet'],
    [],
  ],
  ['query_table reads the named tables', "SELECT * FROM query_table(['raw.a', 'B'])", ['B', 'raw.a'], []],
  ['replacement scan of a file', "SELECT * FROM 'data/events.json'", ['file:data/events.json'], []],
  ['INSERT INTO SELECT', 'INSERT INTO tgt SELECT * FROM src1 JOIN src2 USING (id)', ['src1', 'src2'], ['tgt']],
  ['INSERT OR REPLACE BY NAME with columns', 'INSERT OR REPLACE INTO tgt BY NAME SELECT * FROM s', ['s'], ['tgt']],
  ['INSERT with column list and VALUES subquery', 'INSERT INTO tgt (a, b) VALUES (1, (SELECT max(b) FROM s))', ['s'], ['tgt']],
  [
    'INSERT ON CONFLICT',
    'INSERT INTO tgt SELECT * FROM s ON CONFLICT (id) DO UPDATE SET v = (SELECT max(v) FROM other) WHERE tgt.v < 10 RETURNING *',
    ['other', 's'],
    ['tgt'],
  ],
  [
    'INSERT reading its own target',
    'INSERT INTO events SELECT * FROM staging WHERE ts > (SELECT max(ts) FROM events)',
    ['staging'],
    ['events'],
  ],
  ['WITH … INSERT', 'WITH fresh AS (SELECT * FROM src) INSERT INTO tgt SELECT * FROM fresh', ['src'], ['tgt']],
  ['INSERT … WITH', 'INSERT INTO tgt WITH fresh AS (SELECT * FROM src) SELECT * FROM fresh', ['src'], ['tgt']],
  [
    'UPDATE … FROM',
    'UPDATE tgt SET v = s.v, w = (SELECT max(w) FROM other) FROM s JOIN s2 ON s.id = s2.id WHERE tgt.id = s.id',
    ['other', 's', 's2'],
    ['tgt'],
  ],
  ['UPDATE with alias and WHERE subquery', 'UPDATE tgt AS t SET v = 1 WHERE t.id IN (SELECT id FROM bad)', ['bad'], ['tgt']],
  ['UPDATE … SET DEFAULT', 'UPDATE tgt SET v = DEFAULT WHERE id IN (SELECT id FROM s)', ['s'], ['tgt']],
  ['DELETE … USING', 'DELETE FROM tgt USING s WHERE tgt.id = s.id AND EXISTS (SELECT 1 FROM w)', ['s', 'w'], ['tgt']],
  ['DELETE with WHERE only', 'DELETE FROM tgt WHERE id NOT IN (SELECT id FROM keep)', ['keep'], ['tgt']],
  [
    'MERGE INTO',
    'MERGE INTO tgt USING (SELECT * FROM src WHERE ok) AS s ON tgt.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.v)',
    ['src'],
    ['tgt'],
  ],
  [
    'MERGE with table source',
    'MERGE INTO tgt USING src ON tgt.id = src.id WHEN MATCHED AND src.v > (SELECT 0 FROM cfg) THEN DELETE',
    ['cfg', 'src'],
    ['tgt'],
  ],
  ['CREATE SCHEMA contributes nothing', 'CREATE SCHEMA IF NOT EXISTS analytics; CREATE TABLE analytics.t AS SELECT 1', [], ['analytics.t']],
  [
    'temp tables stay inside the task',
    'CREATE TEMP TABLE stage AS SELECT * FROM src; CREATE TABLE out AS SELECT * FROM stage',
    ['src'],
    ['out'],
  ],
  [
    'tables written earlier in the task are not inputs',
    'CREATE TABLE a AS SELECT * FROM src; CREATE TABLE b AS SELECT * FROM a',
    ['src'],
    ['a', 'b'],
  ],
  ['COPY query TO file', "COPY (SELECT * FROM t) TO 'out/t.parquet' (FORMAT parquet)", ['t'], ['file:out/t.parquet']],
  ['COPY table FROM file', "COPY raw.events FROM 'data/events.csv' (HEADER)", ['file:data/events.csv'], ['raw.events']],
  ['COPY table TO file', "COPY analytics.report TO './out/report.csv'", ['analytics.report'], ['file:out/report.csv']],
  ['FROM-first and PIVOT', 'CREATE TABLE p AS FROM sales SELECT *; PIVOT other ON k USING sum(v)', ['other', 'sales'], ['p']],
  [
    'placeholders and params',
    'INSERT INTO tgt SELECT * FROM src WHERE ts > {{ last_processed_at }} AND d = $partition_key AND h < ${interval_end}',
    ['src'],
    ['tgt'],
  ],
  [
    'SET/PRAGMA contribute nothing; DROP writes what it drops',
    'SET threads = 2; DROP TABLE IF EXISTS old; PRAGMA enable_progress_bar; CREATE TABLE x AS SELECT 1',
    [],
    ['old', 'x'],
  ],
  [
    'strings and comments with keywords',
    "-- FROM fake\nCREATE TABLE x AS SELECT 'FROM nope; INSERT INTO y' AS s /* FROM nope2 */ FROM real_t",
    ['real_t'],
    ['x'],
  ],
  ['TRUNCATE', 'TRUNCATE TABLE staging', [], ['staging']],
  ['lateral join subquery', 'SELECT * FROM t, LATERAL (SELECT * FROM u WHERE u.id = t.id) l', ['t', 'u'], []],
  ['table function with subquery argument', 'SELECT * FROM unnest((SELECT list(id) FROM ids))', ['ids'], []],
];

describe('dependency inference corpus', () => {
  it.each(CORPUS)('%s', async (_name, sql, reads, writes) => {
    const r = await analyzer.analyse(sql);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.reads).toEqual(reads);
    expect(r.writes).toEqual(writes);
  });
});

interface EffectCase {
  name: string;
  sql: string;
  reads: string[];
  writes: string[];
  /** `src -> dst`, sorted. */
  lineage: string[];
  /** Per warning: the text its statement starts with, and a fragment of its message. */
  warnings?: Array<[string, string]>;
}

/** Statements that change the graph (#5 items 10–12): reads, writes, per-statement lineage and warnings. */
const EFFECTS: EffectCase[] = [
  // ALTER, DROP, RENAME
  { name: 'ALTER TABLE writes the table', sql: 'ALTER TABLE t ADD COLUMN c INT', reads: [], writes: ['t'], lineage: [] },
  { name: 'ALTER VIEW writes the view', sql: 'ALTER VIEW IF EXISTS v RENAME TO w', reads: [], writes: ['v', 'w'], lineage: ['v -> w'] },
  {
    name: 'ALTER TABLE … RENAME TO writes both names, in the same schema',
    sql: 'ALTER TABLE analytics.t RENAME TO u',
    reads: [],
    writes: ['analytics.t', 'analytics.u'],
    lineage: ['analytics.t -> analytics.u'],
  },
  {
    name: 'build, drop, rename: the new table comes from the source',
    sql: 'CREATE TABLE t_new AS SELECT * FROM src; DROP TABLE IF EXISTS t; ALTER TABLE t_new RENAME TO t',
    reads: ['src'],
    writes: ['t', 't_new'],
    lineage: ['src -> t_new', 't_new -> t'],
  },
  {
    name: 'DROP TABLE and DROP VIEW write what they drop',
    sql: 'DROP TABLE IF EXISTS old; DROP VIEW v_old CASCADE',
    reads: [],
    writes: ['old', 'v_old'],
    lineage: [],
  },
  {
    name: 'DROP of a temporary table of the task is not an output',
    sql: 'CREATE TEMP TABLE stage AS SELECT * FROM src; CREATE TABLE out AS SELECT * FROM stage; DROP TABLE stage; DROP TABLE temp.other',
    reads: ['src'],
    writes: ['out'],
    lineage: ['src -> out'],
  },
  {
    name: 'DROP before the temporary table exists drops the real table',
    sql: 'DROP TABLE IF EXISTS stage; CREATE TEMP TABLE stage AS SELECT * FROM src; CREATE TABLE out AS FROM stage',
    reads: ['src'],
    writes: ['out', 'stage'],
    lineage: ['src -> out'],
  },
  {
    name: 'renaming a temporary table keeps it temporary',
    sql: 'CREATE TEMP TABLE s AS FROM a; ALTER TABLE s RENAME TO s2; CREATE TABLE out AS FROM s2',
    reads: ['a'],
    writes: ['out'],
    lineage: ['a -> out'],
  },
  // INSERT OR REPLACE / OR IGNORE in every form
  { name: 'INSERT OR REPLACE … SELECT', sql: 'INSERT OR REPLACE INTO t SELECT * FROM s', reads: ['s'], writes: ['t'], lineage: ['s -> t'] },
  {
    name: 'INSERT OR IGNORE … BY NAME',
    sql: 'INSERT OR IGNORE INTO t BY NAME SELECT * FROM s',
    reads: ['s'],
    writes: ['t'],
    lineage: ['s -> t'],
  },
  {
    name: 'INSERT OR REPLACE with a column list and a parenthesised query',
    sql: 'INSERT OR REPLACE INTO t (id, v) (SELECT id, v FROM s)',
    reads: ['s'],
    writes: ['t'],
    lineage: ['s -> t'],
  },
  {
    name: 'INSERT OR REPLACE of a doubly parenthesised query (was read as a column list)',
    sql: 'INSERT OR REPLACE INTO t ((SELECT * FROM s))',
    reads: ['s'],
    writes: ['t'],
    lineage: ['s -> t'],
  },
  {
    name: 'INSERT OR IGNORE of (TABLE s) (was read as a column list)',
    sql: 'INSERT OR IGNORE INTO t (TABLE s)',
    reads: ['s'],
    writes: ['t'],
    lineage: ['s -> t'],
  },
  {
    name: 'INSERT OR REPLACE after a CTE prefix',
    sql: 'WITH fresh AS (SELECT * FROM s) INSERT OR REPLACE INTO t BY NAME SELECT * FROM fresh',
    reads: ['s'],
    writes: ['t'],
    lineage: ['s -> t'],
  },
  {
    name: 'INSERT OR REPLACE of a simplified PIVOT',
    sql: 'INSERT OR REPLACE INTO t PIVOT orders ON status USING count(*)',
    reads: ['orders'],
    writes: ['t'],
    lineage: ['orders -> t'],
  },
  {
    name: 'INSERT … ON CONFLICT DO UPDATE (the explicit form of OR REPLACE)',
    sql: 'INSERT INTO t BY NAME SELECT * FROM s ON CONFLICT (id) DO UPDATE SET v = (SELECT max(v) FROM other)',
    reads: ['other', 's'],
    writes: ['t'],
    lineage: ['other -> t', 's -> t'],
  },
  // USE and the search path
  {
    name: 'after USE, unqualified names resolve in that schema',
    sql: 'USE analytics; CREATE TABLE t AS SELECT * FROM u',
    reads: ['analytics.u'],
    writes: ['analytics.t'],
    lineage: ['analytics.u -> analytics.t'],
  },
  {
    name: 'USE leaves qualified names, CTEs, table functions, files and temporary tables alone',
    sql:
      'CREATE TEMP TABLE stage AS SELECT * FROM raw_events; USE analytics; ' +
      "CREATE TABLE t AS WITH c AS (SELECT * FROM stage) SELECT * FROM c JOIN raw.x USING (id) JOIN range(3) r ON true JOIN 'data/f.csv' USING (id) JOIN main.dim USING (id)",
    reads: ['dim', 'file:data/f.csv', 'raw.x', 'raw_events'],
    writes: ['analytics.t'],
    lineage: ['dim -> analytics.t', 'file:data/f.csv -> analytics.t', 'raw.x -> analytics.t', 'raw_events -> analytics.t'],
  },
  {
    name: 'a USE in the middle of a body applies to later statements only',
    sql: 'CREATE TABLE a AS SELECT * FROM src; USE "Sales Data"; INSERT INTO Orders SELECT * FROM a; DELETE FROM Orders WHERE id IN (SELECT id FROM bad)',
    reads: ['"Sales Data".a', '"Sales Data".bad', 'src'],
    writes: ['"Sales Data".Orders', 'a'],
    lineage: ['"Sales Data".a -> "Sales Data".Orders', '"Sales Data".bad -> "Sales Data".Orders', 'src -> a'],
  },
  {
    name: 'USE catalog.schema, then back to the default',
    sql: "USE lake.staging; UPDATE t SET v = 1 FROM u; RESET schema; COPY t TO 'out/t.csv'",
    reads: ['lake.staging.u', 't'],
    writes: ['file:out/t.csv', 'lake.staging.t'],
    lineage: ['lake.staging.u -> lake.staging.t', 't -> file:out/t.csv'],
  },
  {
    name: 'SET schema and SET search_path act like USE',
    sql: "SET schema = 'analytics'; CREATE VIEW v AS FROM a; SET search_path = 'Sales Data'; CREATE TABLE t AS FROM query_table('b')",
    reads: ['"Sales Data".b', 'analytics.a'],
    writes: ['"Sales Data".t', 'analytics.v'],
    lineage: ['"Sales Data".b -> "Sales Data".t', 'analytics.a -> analytics.v'],
  },
  {
    name: 'a search path of several schemas warns',
    sql: "SET search_path = 'analytics,main'; CREATE TABLE t AS FROM a",
    reads: ['analytics.a'],
    writes: ['analytics.t'],
    lineage: ['analytics.a -> analytics.t'],
    warnings: [['SET search_path', 'DuckDB also looks for them in main']],
  },
  // Statements whose effect cannot be inferred warn; harmless ones stay quiet.
  {
    name: 'CREATE MACRO and FUNCTION warn, temporary ones do not',
    sql: 'CREATE OR REPLACE MACRO add1(x) AS x + 1; CREATE FUNCTION f() AS TABLE SELECT * FROM t; CREATE TEMP MACRO m(x) AS x; DROP MACRO m',
    reads: [],
    writes: [],
    lineage: [],
    warnings: [
      ['CREATE OR REPLACE MACRO add1', 'tasks that call it do not depend on this task; declare `@depends_on`'],
      ['CREATE FUNCTION f', 'creating macro f is not tracked'],
    ],
  },
  {
    name: 'dynamic SQL warns',
    sql: "CREATE TABLE t AS SELECT * FROM query('SELECT * FROM hidden'); SELECT * FROM query_table(getvariable('name')); SELECT * FROM query_table('known')",
    reads: ['known'],
    writes: ['t'],
    lineage: [],
    warnings: [
      ['CREATE TABLE t', 'dynamic SQL in `query(…)` is not tracked: declare the tables it reads with `@inputs`'],
      ['SELECT * FROM query_table(getvariable', '`query_table(…)` with a table name that is not a constant string'],
    ],
  },
  {
    name: 'a file read from a computed path warns',
    sql: "INSERT INTO t SELECT * FROM read_parquet('data/' || $partition_key || '.parquet')",
    reads: [],
    writes: ['t'],
    lineage: [],
    warnings: [['INSERT INTO t', '`read_parquet(…)` with a path that is not a constant string is not tracked']],
  },
  {
    name: 'ATTACH, DETACH, EXECUTE, IMPORT/EXPORT/COPY FROM DATABASE, DROP SCHEMA CASCADE, CALL dbgen warn',
    sql:
      "ATTACH 'other.duckdb' AS other; DETACH other; PREPARE p AS SELECT 1; EXECUTE p; IMPORT DATABASE 'backup'; " +
      "EXPORT DATABASE 'export'; COPY FROM DATABASE a TO b; DROP SCHEMA old CASCADE; CALL dbgen(sf = 0.01)",
    reads: [],
    writes: [],
    lineage: [],
    warnings: [
      ['ATTACH', '`ATTACH` is not tracked'],
      ['DETACH', '`DETACH` is not tracked'],
      ['EXECUTE', 'declare them with `@inputs` and `@outputs`'],
      ['IMPORT DATABASE', 'declare them with `@outputs` and `@inputs`'],
      ['EXPORT DATABASE', '`EXPORT DATABASE` is not tracked'],
      ['COPY FROM DATABASE', '`COPY FROM DATABASE` is not tracked'],
      ['DROP SCHEMA old CASCADE', 'drops every table and view of the schema'],
      ['CALL dbgen', 'declare them with `@outputs`'],
    ],
  },
  {
    name: 'harmless statements stay quiet; an index depends on its table',
    sql: 'SET threads = 2; PRAGMA enable_progress_bar; CREATE SCHEMA IF NOT EXISTS s; CREATE INDEX idx ON s.t (id); INSTALL httpfs; LOAD httpfs; CHECKPOINT; VACUUM; CREATE SECRET (TYPE s3); DROP SCHEMA IF EXISTS empty; UPDATE EXTENSIONS',
    reads: ['s.t'],
    writes: [],
    lineage: [],
  },
  {
    name: 'EXPLAIN ANALYZE runs its statement; EXPLAIN does not',
    sql: 'EXPLAIN ANALYZE CREATE TABLE t AS SELECT * FROM s; EXPLAIN INSERT INTO u SELECT * FROM v',
    reads: ['s'],
    writes: ['t'],
    lineage: ['s -> t'],
  },
  {
    name: 'SET VARIABLE reads its query',
    sql: "SET VARIABLE since = (SELECT max(ts) FROM events); INSERT INTO t SELECT * FROM src WHERE ts > getvariable('since')",
    reads: ['events', 'src'],
    writes: ['t'],
    lineage: ['src -> t'],
  },
  // PIVOT / UNPIVOT wherever a query appears
  {
    name: 'CREATE TABLE AS PIVOT',
    sql: 'CREATE OR REPLACE TABLE t AS PIVOT orders ON status USING count(*)',
    reads: ['orders'],
    writes: ['t'],
    lineage: ['orders -> t'],
  },
  {
    name: 'CREATE VIEW AS PIVOT with explicit values',
    sql: "CREATE OR REPLACE VIEW v AS PIVOT orders ON status IN ('a','b') USING count(*)",
    reads: ['orders'],
    writes: ['v'],
    lineage: ['orders -> v'],
  },
  {
    name: 'PIVOT after a WITH prefix',
    sql: 'WITH o AS (SELECT * FROM orders) PIVOT o ON status USING count(*); CREATE TABLE t AS WITH f AS (SELECT 1) PIVOT sales ON region USING sum(amount)',
    reads: ['orders', 'sales'],
    writes: ['t'],
    lineage: ['sales -> t'],
  },
  {
    name: 'PIVOT in a subquery, a MERGE source, with joins, groups and values from a subquery',
    sql:
      'CREATE TABLE t AS SELECT * FROM (PIVOT orders JOIN customers USING (id) ON status, region USING sum(amount) AS s GROUP BY id ORDER BY id) p JOIN dim USING (id); ' +
      'MERGE INTO t USING (PIVOT returns ON reason IN (SELECT reason FROM reasons) USING count(*)) r ON t.id = r.id WHEN MATCHED THEN DELETE',
    reads: ['customers', 'dim', 'orders', 'reasons', 'returns'],
    writes: ['t'],
    lineage: ['customers -> t', 'dim -> t', 'orders -> t', 'reasons -> t', 'returns -> t'],
  },
  {
    name: 'UNPIVOT with a join, and UNPIVOT of a PIVOT',
    sql:
      'CREATE TABLE long AS UNPIVOT monthly JOIN regions USING (region_id) ON jan, feb INTO NAME month VALUE sales; ' +
      'INSERT INTO counts UNPIVOT (PIVOT orders ON status USING count(*)) ON COLUMNS(* EXCLUDE id) INTO NAME status VALUE n',
    reads: ['monthly', 'orders', 'regions'],
    writes: ['counts', 'long'],
    lineage: ['monthly -> long', 'orders -> counts', 'regions -> long'],
  },
  // Lineage per statement
  {
    name: 'two COPY statements: each file comes from its own query',
    sql: "COPY (SELECT * FROM a) TO 'out/a.csv'; COPY (SELECT * FROM b) TO 'out/b.csv'",
    reads: ['a', 'b'],
    writes: ['file:out/a.csv', 'file:out/b.csv'],
    lineage: ['a -> file:out/a.csv', 'b -> file:out/b.csv'],
  },
  {
    name: 'a table written earlier is itself a source',
    sql: 'CREATE TABLE x AS SELECT * FROM a; CREATE TABLE y AS SELECT * FROM x; SELECT count(*) FROM y; CREATE TABLE z (id INT)',
    reads: ['a'],
    writes: ['x', 'y', 'z'],
    lineage: ['a -> x', 'x -> y'],
  },
  {
    name: 'temporary tables stand for what they were built from, transitively and as filled later',
    sql:
      'CREATE TEMP TABLE s1 AS SELECT * FROM a; CREATE TEMP TABLE s2 (id INT); INSERT INTO s2 SELECT * FROM s1 JOIN b USING (id); ' +
      'UPDATE s2 SET v = c.v FROM c WHERE s2.id = c.id; CREATE TABLE out AS SELECT * FROM s2; CREATE TABLE only_a AS FROM s1',
    reads: ['a', 'b', 'c'],
    writes: ['only_a', 'out'],
    lineage: ['a -> only_a', 'a -> out', 'b -> out', 'c -> out'],
  },
  {
    name: 'a temporary view expands when read',
    sql: 'CREATE TEMP TABLE s AS FROM a; CREATE TEMP VIEW v AS SELECT * FROM s; CREATE OR REPLACE TEMP TABLE s AS FROM b; CREATE TABLE out AS FROM v',
    reads: ['a', 'b'],
    writes: ['out'],
    lineage: ['b -> out'],
  },
  {
    name: 'UPDATE … FROM, DELETE … USING, MERGE … USING, INSERT … SELECT, COPY t TO',
    sql:
      'UPDATE t1 SET v = s1.v FROM s1 WHERE t1.id = s1.id; DELETE FROM t2 USING s2 WHERE t2.id = s2.id; ' +
      "MERGE INTO t3 USING s3 ON t3.id = s3.id WHEN MATCHED THEN DELETE; INSERT INTO t4 SELECT * FROM s4; COPY t4 TO 'out/t4.parquet'",
    reads: ['s1', 's2', 's3', 's4'],
    writes: ['file:out/t4.parquet', 't1', 't2', 't3', 't4'],
    lineage: ['s1 -> t1', 's2 -> t2', 's3 -> t3', 's4 -> t4', 't4 -> file:out/t4.parquet'],
  },
  {
    name: 'an incremental load reading its own target has no self edge',
    sql: 'INSERT INTO events SELECT * FROM staging WHERE ts > (SELECT max(ts) FROM events)',
    reads: ['staging'],
    writes: ['events'],
    lineage: ['staging -> events'],
  },
  {
    name: 'mixed-case and quoted names: one dataset, first spelling',
    sql:
      'CREATE TABLE "Sales Data".Orders AS FROM Raw.Orders; INSERT INTO "sales data".orders SELECT * FROM raw.ORDERS; ' +
      'CREATE TABLE Finance.Ledger AS FROM "SALES DATA".ORDERS',
    reads: ['Raw.Orders'],
    writes: ['"Sales Data".Orders', 'Finance.Ledger'],
    lineage: ['"Sales Data".Orders -> Finance.Ledger', 'Raw.Orders -> "Sales Data".Orders'],
  },
];

describe('statements that change the graph, lineage per statement, warnings', () => {
  it.each(EFFECTS.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const r = await analyzer.analyse(c.sql);
    expect(r.errors).toEqual([]);
    expect(r.reads).toEqual(c.reads);
    expect(r.writes).toEqual(c.writes);
    expect(r.lineage.map((e) => `${e.src} -> ${e.dst}`)).toEqual(c.lineage);
    const warnings = c.warnings ?? [];
    expect(r.warnings.map((w) => w.code)).toEqual(warnings.map(() => 'SQL_UNTRACKED'));
    r.warnings.forEach((w, k) => {
      const [start, fragment] = warnings[k]!;
      expect(c.sql.slice(w.offset)).toMatch(new RegExp(`^${start.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      expect(w.message).toContain(fragment);
    });
  });
});

describe('parse errors come from DuckDB with their position', () => {
  it('reports the offset of a syntax error in the second statement', async () => {
    const body = 'CREATE TABLE a AS SELECT 1;\nCREATE TABLE b AS SELEC 2';
    const r = await analyzer.analyse(body);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]!.code).toBe('SQL_SYNTAX');
    expect(r.errors[0]!.message).toContain('SELEC');
    expect(body.slice(r.errors[0]!.offset)).toMatch(/^SELEC 2/);
  });
  it('reports an unterminated string', async () => {
    const r = await analyzer.analyse("SELECT 'abc");
    expect(r.errors[0]).toMatchObject({ code: 'SQL_SYNTAX', offset: 7 });
  });
  it('rejects transaction control', async () => {
    const r = await analyzer.analyse('BEGIN; CREATE TABLE a AS SELECT 1; COMMIT');
    expect(r.errors.map((e) => e.code)).toEqual(['SQL_UNSUPPORTED', 'SQL_UNSUPPORTED']);
  });
  it("keeps DuckDB's refusal of a view over a PIVOT without values, with its explanation", async () => {
    const r = await analyzer.analyse('CREATE OR REPLACE VIEW v AS PIVOT orders ON status USING count(*)');
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]!.code).toBe('SQL_SYNTAX');
    expect(r.errors[0]!.message).toContain('cannot be used in views');
    expect(r.errors[0]!.message).toContain('ON status IN (val1, val2, ...)');
    expect(r.writes).toEqual([]);
  });
  it('explains the DROP and ALTER forms DuckDB parses but does not run', async () => {
    const r = await analyzer.analyse('DROP TABLE IF EXISTS a, b;\nALTER TABLE t SET SCHEMA s');
    expect(r.errors.map((e) => e.code)).toEqual(['SQL_UNSUPPORTED', 'SQL_UNSUPPORTED']);
    expect(r.errors[0]!.message).toContain('one `DROP` statement for each');
    expect(r.errors[1]!.message).toContain('does not support `ALTER … SET SCHEMA`');
    expect(r.writes).toEqual([]);
  });
  it('points a warning at its statement', async () => {
    const body = 'CREATE TABLE a AS SELECT 1;\n  CREATE MACRO twice(x) AS 2 * x;';
    const r = await analyzer.analyse(body);
    expect(r.warnings).toHaveLength(1);
    expect(body.slice(r.warnings[0]!.offset)).toMatch(/^CREATE MACRO twice/);
  });
  it('analyses many bodies in one batch, independently', async () => {
    const [a, b] = await analyzer.analyseMany([
      'USE s; CREATE TEMP TABLE x AS FROM y; CREATE TABLE a AS SELECT * FROM x',
      'SELECT * FROM a JOIN x USING (id)',
    ]);
    expect(a!.writes).toEqual(['s.a']);
    expect(a!.lineage).toEqual([{ src: 's.y', dst: 's.a' }]);
    // A USE or a temporary table never leaks into another body: each task runs on its own connection.
    expect(b!.reads).toEqual(['a', 'x']);
  });
});
