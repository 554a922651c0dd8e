// One repeat of the `shop-workers-pg` case: a registered copy of the scaled shop, its ledger on
// PostgreSQL (a fresh schema), one run enqueued, then N `duck-orch worker --once` processes
// reaching the same database file (from the repository's root: the shop reads examples/shop/data
// by a relative path); timed from starting the workers until
// the last one exits (every job done). The per-database lease lets one of them at a time run the
// database's SQL tasks.
// Usage: node bench/shop-workers.mjs <db> <workers>   (BENCH_LEDGER_URL, BENCH_LEDGER_SCHEMA)
// Prints one JSON line: { ms, jobs, succeeded, peakRssMb (the largest worker's) }.
import { spawn, spawnSync } from 'node:child_process';
import pg from 'pg';

const [db, workers] = process.argv.slice(2);
const CLI = new URL('../dist/interfaces/cli/main.js', import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;
const env = { ...process.env, DATABASE_URL: process.env.BENCH_LEDGER_URL, DUCKORCH_PG_SCHEMA: process.env.BENCH_LEDGER_SCHEMA, CI: '1' };
const cli = (args, cwd = ROOT) => {
  const r = spawnSync(process.execPath, [CLI, '--db', db, ...args], { cwd, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`duck-orch ${args.join(' ')}: ${r.stderr}`);
  return r;
};
cli(['init-db']);
cli(['enqueue']);
const t0 = performance.now();
const peaks = [];
await Promise.all(
  Array.from({ length: Number(workers) }, (_, i) => {
    const cwd = ROOT;
    const child = spawn('/usr/bin/time', ['-f', '%M', process.execPath, CLI, '--db', db, 'worker', '--once', '-c', '4'], {
      cwd,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    return new Promise((resolve, reject) =>
      child.on('exit', (code) => {
        if (code !== 0) return reject(new Error(`worker ${i} exited ${code}: ${stderr}`));
        peaks.push(Number(stderr.trim().split('\n').at(-1)) / 1024);
        resolve();
      }),
    );
  }),
);
const ms = performance.now() - t0;
const client = new pg.Client({ connectionString: process.env.BENCH_LEDGER_URL });
await client.connect();
const counts = (await client.query(`SELECT state, count(*)::int AS n FROM "${process.env.BENCH_LEDGER_SCHEMA}".jobs GROUP BY state`)).rows;
await client.end();
const jobs = counts.reduce((n, r) => n + r.n, 0);
const succeeded = counts.find((r) => r.state === 'succeeded')?.n ?? 0;
process.stdout.write(JSON.stringify({ ms, jobs, succeeded, peakRssMb: Math.max(...peaks) }) + '\n');
