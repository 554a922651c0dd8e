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
    expect(r.reads).toEqual(reads);
    expect(r.writes).toEqual(writes);
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
  it('analyses many bodies in one batch, independently', async () => {
    const [a, b] = await analyzer.analyseMany(['CREATE TABLE a AS SELECT * FROM x', 'SELECT * FROM a']);
    expect(a!.writes).toEqual(['a']);
    expect(b!.reads).toEqual(['a']);
  });
});
