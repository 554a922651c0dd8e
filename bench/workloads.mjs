// Task folders the benchmarks run on, generated into a temporary directory.
import fs from 'node:fs';
import path from 'node:path';

/** 1,000 trivial tasks in a binary-tree DAG: task i reads the table of task floor((i-1)/2). */
export function trivialDag(dir, n = 1000) {
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < n; i++) {
    const from = i === 0 ? '' : ` FROM t${Math.floor((i - 1) / 2)}`;
    fs.writeFileSync(path.join(dir, `t${i}.sql`), `-- @task name=t${i}\nCREATE OR REPLACE TABLE t${i} AS SELECT ${i} AS x${from};\n`);
  }
  return dir;
}

/** Realistic files for registration: headers, CTEs, joins, subqueries, several statements. */
export function registrationCorpus(dir, n = 1000) {
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < n; i++) {
    const sub = path.join(dir, `domain_${i % 10}`);
    fs.mkdirSync(sub, { recursive: true });
    const up = i < 10 ? 'raw.events' : `mart.m${i - 10}`;
    fs.writeFileSync(
      path.join(sub, `m${i}.sql`),
      [
        `-- @task name=m${i}`,
        `-- @description Model ${i} of the registration benchmark`,
        `-- @owner team-${i % 7}@example.com`,
        `-- @tags bench, domain_${i % 10}`,
        `-- @retries 2`,
        `-- @timeout 10m`,
        `-- @asset_group domain_${i % 10}`,
        `-- @test "SELECT count(*) FROM mart.m${i} WHERE amount < 0" expect 0`,
        `-- @check name=not_empty "SELECT count(*) FROM \${asset}" expect gt 0`,
        `CREATE SCHEMA IF NOT EXISTS mart;`,
        `CREATE OR REPLACE TABLE mart.m${i} AS`,
        `WITH base AS (`,
        `    SELECT id, amount, ts::DATE AS day FROM ${up} WHERE amount IS NOT NULL`,
        `), ranked AS (`,
        `    SELECT *, row_number() OVER (PARTITION BY day ORDER BY amount DESC) AS rn FROM base`,
        `)`,
        `SELECT r.id, r.amount, r.day, d.label`,
        `FROM ranked AS r`,
        `LEFT JOIN dim.labels AS d ON d.id = r.id % 10`,
        `WHERE r.rn <= 100 AND r.id NOT IN (SELECT id FROM raw.blocked)`,
        `QUALIFY count(*) OVER (PARTITION BY r.day) > 0;`,
        '',
      ].join('\n'),
    );
  }
  return dir;
}

/** The example shop project with its synthetic data scaled up by `factor`. */
export function scaledShop(dir, factor) {
  const src = path.resolve('examples/shop/tasks');
  fs.cpSync(src, dir, { recursive: true });
  const scale = (file, from, to) => {
    const p = path.join(dir, file);
    fs.writeFileSync(p, fs.readFileSync(p, 'utf8').replace(from, to));
  };
  scale('raw/orders.sql', 'range(1, 5001)', `range(1, ${5000 * factor + 1})`);
  scale('raw/orders.sql', 'hash(i) % 400', `hash(i) % ${400 * factor}`);
  scale('raw/customers.sql', 'range(1, 401)', `range(1, ${400 * factor + 1})`);
  return dir;
}
