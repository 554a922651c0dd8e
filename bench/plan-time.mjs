// The `plan-10k` case's measurement, in one process: `plan` (what is stale and why, and what each
// stale asset rebuilds downstream) over a registered project, <repeats> times after one warm-up,
// first with nothing materialised, then after a `run` built everything and one root changed.
// Usage: node bench/plan-time.mjs <db> <repeats>
// Prints one JSON line: { stale, samples, fresh: { stale, samples } }.
import { loadConfig, Project } from '../dist/index.js';

const [db, repeatsArg] = process.argv.slice(2);
const repeats = Number(repeatsArg);
const project = await Project.open({ config: loadConfig({ flags: { db }, env: {} }), access: 'write' });
async function time() {
  await project.plan();
  const samples = [];
  let stale = 0;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    stale = (await project.plan()).assets.length;
    samples.push(performance.now() - t0);
  }
  return { stale, samples };
}
const never = await time();
await project.run({ maxParallel: 4 });
const built = await time();
await project.close();
console.log(JSON.stringify({ never, built }));
