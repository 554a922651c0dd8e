// duck-orch's side of a paired run: opens a project database that is already registered (a copy
// of the template plan.mjs registered, so no registration happens in this process) and runs every
// task through the library API, as `duck-orch run -p <n>` does.
// Usage: node bench/duckorch-run.mjs <db> <max-parallel>
// Prints one JSON line: { ms (the run, excluding opening and closing the database), closeMs, tasks, succeeded, rows }.
import { Project, loadConfig } from '../dist/index.js';

const [db, maxParallel] = process.argv.slice(2);
const project = await Project.open({ config: loadConfig({ flags: { db }, env: {} }), access: 'write' });
let result, ms, c0;
try {
  const t0 = performance.now();
  result = await project.run({ maxParallel: Number(maxParallel) });
  ms = performance.now() - t0;
} finally {
  c0 = performance.now();
  await project.close();
}
const closeMs = performance.now() - c0;
const { pipelineRun, tasks } = result;
if (pipelineRun?.status !== 'success') {
  const bad = tasks.find((t) => t.status !== 'success');
  throw new Error(`run ${pipelineRun?.status}: ${bad?.taskName}: ${bad?.errorMessage}`);
}
const rows = tasks.reduce((n, t) => n + (t.rowsCount ?? 0), 0);
process.stdout.write(JSON.stringify({ ms, closeMs, tasks: pipelineRun.taskCount, succeeded: pipelineRun.succeeded, rows }) + '\n');
