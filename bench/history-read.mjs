// The `history` case's reads: opens a project database with a large history (history-gen.mjs's)
// through the library API, as `status` does (access 'write'), and times the ledger's reads, each
// `repeats` times after one warm-up call (reported apart as `first`).
// Usage: node bench/history-read.mjs <db> <asset> <task> <partition> <repeats>
// Prints one JSON line: { openMs, reads: { name: { first, samples[], result } } }.
import { Project, loadConfig } from '../dist/index.js';

const [db, asset, task, partition, repeatsArg] = process.argv.slice(2);
const repeats = Number(repeatsArg);
const o0 = performance.now();
const project = await Project.open({ config: loadConfig({ flags: { db }, env: {} }), access: 'write' });
const openMs = performance.now() - o0;
const ledger = await project.ledger();

const reads = {
  assetStates: {
    call: () => ledger.assetStates(asset),
    describe: (r) => ({ partitions: r.length, dead: r.filter((s) => s.status === 'dead').length }),
  },
  assetSummaries: {
    call: () => ledger.assetSummaries(),
    describe: (r) => ({ assets: r.length, partitions: r.reduce((n, a) => n + a.partitions, 0) }),
  },
  lastWatermark: { call: () => ledger.lastWatermark(task, partition), describe: (r) => ({ watermark: r }) },
  // Not a target: every task × partition to JavaScript (what `graph dag` colours from).
  taskStates: { call: () => ledger.taskStates(), describe: (r) => ({ rows: r.length }) },
};

const out = {};
try {
  for (const [name, { call, describe, repeats: n = repeats }] of Object.entries(reads)) {
    let t0 = performance.now();
    const result = await call();
    const first = performance.now() - t0;
    const samples = [];
    for (let i = 0; i < n; i++) {
      t0 = performance.now();
      await call();
      samples.push(performance.now() - t0);
    }
    out[name] = { first, samples, result: describe(result) };
  }
} finally {
  await project.close();
}
process.stdout.write(JSON.stringify({ openMs, reads: out }) + '\n');
