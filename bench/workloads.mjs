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

/** A seeded 32-bit linear congruential generator (Numerical Recipes constants): the same project every run. */
export function lcg(seed) {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

export const chainName = (i) => `t_${String(i).padStart(5, '0')}`;
export const CHAIN_ROWS = 10;

/** The file of chain task `i`, relative to the project folder: 100 files per sub-folder. */
export const chainFile = (i) => path.join(`${String(Math.floor(i / 100)).padStart(3, '0')}_block`, `${chainName(i)}.sql`);

/** The SQL of chain task `i`; `modulus` lets the benchmark change one file's body. */
export function chainTaskSql(i, upstream, modulus = 1000) {
  const name = chainName(i);
  const lines = [`-- @task name=${name}`];
  if (upstream.length === 0) {
    lines.push(`CREATE OR REPLACE TABLE chain.${name} AS SELECT i AS id, i % ${modulus} AS v FROM range(${CHAIN_ROWS}) AS r(i);`);
  } else {
    const alias = (k) => String.fromCharCode(97 + k);
    lines.push(
      `CREATE OR REPLACE TABLE chain.${name} AS`,
      `SELECT a.id, (${upstream.map((_, k) => `${alias(k)}.v`).join(' + ')}) % ${modulus} AS v`,
      `FROM chain.${chainName(upstream[0])} AS a`,
      ...upstream.slice(1).map((u, k) => `JOIN chain.${chainName(u)} AS ${alias(k + 1)} USING (id)`),
    );
    lines[lines.length - 1] += ';';
  }
  return lines.join('\n') + '\n';
}

/**
 * A chained project of `n` task files: task 0 builds a 10-row table, every later task joins
 * 1–3 distinct earlier tables (chosen by a seeded LCG) into its own 10-row table. The SQL is
 * cheap on purpose, so that orchestration dominates. Returns each task's upstream indexes.
 */
export function chainedProject(dir, n, seed = 42) {
  const rand = lcg(seed);
  const upstreamOf = [];
  for (let i = 0; i < n; i++) {
    const want = Math.min(i, 1 + Math.floor(rand() * 3));
    const ups = new Set();
    while (ups.size < want) ups.add(Math.floor(rand() * i));
    const upstream = [...ups].sort((a, b) => a - b);
    upstreamOf.push(upstream);
    const file = path.join(dir, chainFile(i));
    if (i % 100 === 0) fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, chainTaskSql(i, upstream));
  }
  return { dir, upstreamOf };
}

/**
 * The `history` case's project: `n` trivial daily-partitioned SQL tasks, `t_042` writing the table
 * (and asset) `asset_042`. Only registered: its history is generated by history-gen.mjs.
 */
export function historyProject(dir, n = 100) {
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < n; i++) {
    const id = String(i).padStart(3, '0');
    fs.writeFileSync(
      path.join(dir, `t_${id}.sql`),
      `-- @task name=t_${id}\n-- @partitions_by daily(start=2026-01-01)\nCREATE OR REPLACE TABLE asset_${id} AS SELECT ${i} AS x;\n`,
    );
  }
  return dir;
}

/** The `fn-noop` case's project: one TypeScript module, a Dag of `n` independent no-op function tasks. */
export function noopModule(dir, n = 1000) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'noop.ts'),
    [
      `// ${n} independent no-op function tasks (the fn-noop benchmark).`,
      `import { Dag } from 'duckorch';`,
      ``,
      `export const noop = new Dag('noop');`,
      `for (let i = 0; i < ${n}; i++) noop.task({ name: \`noop_\${String(i).padStart(5, '0')}\` }, async () => null);`,
      ``,
    ].join('\n'),
  );
  return dir;
}

/** The `fanout-pg` case's project: `fan_root` → `n` no-op tasks → `fan_sink`, all TypeScript functions. */
export function fanModule(dir, n = 10_000) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'fan.ts'),
    [
      `// fan_root, then ${n} no-op tasks that each require it, then fan_sink requiring them all (the fanout-pg benchmark).`,
      `import { Dag } from 'duckorch';`,
      ``,
      `export const fan = new Dag('fan');`,
      `fan.task({ name: 'fan_root' }, async () => 0);`,
      `const leaves: string[] = [];`,
      `for (let i = 0; i < ${n}; i++) {`,
      `  const name = \`fan_\${String(i).padStart(5, '0')}\`;`,
      `  fan.task({ name, requires: ['fan_root'] }, async () => null);`,
      `  leaves.push(name);`,
      `}`,
      `fan.task({ name: 'fan_sink', requires: leaves }, async () => leaves.length);`,
      ``,
    ].join('\n'),
  );
  return dir;
}

/** The drain cases' DAG: one module, a `Dag` named `drain` of one no-op task; each run of it is one job. */
export function drainModule(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'drain.ts');
  fs.writeFileSync(
    file,
    [
      `// A one-task no-op DAG: the drain-* and worker-startup benchmarks queue many runs of it.`,
      `import { Dag } from 'duckorch';`,
      ``,
      `export const drain = new Dag('drain');`,
      `drain.task({ name: 'noop' }, async () => null);`,
      ``,
    ].join('\n'),
  );
  return `${file}:drain`;
}
