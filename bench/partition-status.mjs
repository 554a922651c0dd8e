// The `partition-status` case's measurement, in one process: the status of every partition of
// a partitioned asset (`asset partitions`' read: the calendar and the missing set) on a registered
// project, after <states> partition states of it were written into the ledger's `asset_state`
// (all succeeded but one in 1,000 failed and one in 500 never run). The first call keeps the
// ranges; the next <repeats> calls are timed; an asset with no state is timed beside them.
// Usage: node bench/partition-status.mjs <db> <asset> <empty-asset> <unit: daily|hourly> <start> <states> <repeats>
// Prints one JSON line: { firstMs, samples, emptySamples, counts }.
import { DuckDBInstance } from '@duckdb/node-api';
import { loadConfig, Project } from '../dist/index.js';

const [db, asset, emptyAsset, unit, start, statesArg, repeatsArg] = process.argv.slice(2);
const states = Number(statesArg);
const repeats = Number(repeatsArg);
{
  const instance = await DuckDBInstance.create(db);
  const conn = await instance.connect();
  const step = unit === 'hourly' ? 'INTERVAL 1 HOUR' : 'INTERVAL 1 DAY';
  const format = unit === 'hourly' ? '%Y-%m-%dT%H:00' : '%Y-%m-%d';
  await conn.run(
    `INSERT INTO __orch__.asset_state
     SELECT '${asset}', strftime(TIMESTAMP '${start}' + i * ${step}, '${format}'),
            CASE WHEN i % 1000 = 999 THEN 'dead' ELSE 'succeeded' END,
            TIMESTAMP '2026-01-01' + i * INTERVAL 1 SECOND,
            CASE WHEN i % 1000 = 999 THEN NULL ELSE TIMESTAMP '2026-01-01' + i * INTERVAL 1 SECOND END,
            'bench', 'job-' || i, 1, 'v1'
     FROM range(${states}) t(i) WHERE i % 500 <> 250`,
  );
  conn.closeSync();
  instance.closeSync();
}
const project = await Project.open({ config: loadConfig({ flags: { db }, env: {} }), access: 'write' });
const time = async (name) => {
  const t0 = performance.now();
  const view = await project.asset('partitions', name);
  return { ms: performance.now() - t0, view };
};
const first = await time(asset);
const samples = [];
const emptySamples = [];
let view;
for (let i = 0; i < repeats; i++) {
  const r = await time(asset);
  samples.push(r.ms);
  view = r.view;
  emptySamples.push((await time(emptyAsset)).ms);
}
await project.close();
const count = (s) => view.ranges[s].reduce((n, [lo, hi]) => n + hi - lo, 0);
console.log(
  JSON.stringify({
    firstMs: first.ms,
    samples,
    emptySamples,
    total: view.total,
    counts: { succeeded: count('succeeded'), failed: count('failed'), missing: count('missing'), running: count('running') },
    ranges: Object.values(view.ranges).reduce((n, r) => n + r.length, 0),
  }),
);
