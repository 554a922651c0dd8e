// duck-orch's side of the `latency-pg` case: an idle worker (LISTEN/NOTIFY, polling only as the
// fallback) in this process, and single-job runs enqueued one at a time; each sample is the time
// from calling enqueue to the job's start. The next job is enqueued once the previous one finished
// and a short random pause passed, so the worker is idle whenever a job arrives.
// Usage: node bench/latency-duckorch.mjs <registered-db> <samples>
// Prints one JSON line: { samples: [ms…] }.
import { Project, loadConfig } from '../dist/index.js';

const [db, n] = process.argv.slice(2);
const env = { DATABASE_URL: process.env.BENCH_LEDGER_URL, DUCKORCH_PG_SCHEMA: process.env.BENCH_LEDGER_SCHEMA };
const project = await Project.open({ config: loadConfig({ flags: { db }, env }), access: 'write', ledgerSchema: 'migrate' });
const shutdown = new AbortController();
let waiting; // { task, t0, started?, resolve }
const worker = project.work({
  concurrency: 4,
  shutdown: shutdown.signal,
  onEvent: (e) => {
    if (!waiting || e.task !== waiting.task) return;
    if (e.type === 'start') waiting.started = performance.now();
    if (e.type === 'finish') waiting.resolve();
  },
});
// The first jobs load the task module and warm both sides' caches: not counted.
const WARMUP = 5;
const samples = [];
try {
  const tasks = (await project.registry()).tasks.map((t) => t.definition.name);
  for (let i = 0; i < Number(n) + WARMUP; i++) {
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
    const task = tasks[i % tasks.length];
    const done = new Promise((resolve) => (waiting = { task, resolve }));
    waiting.t0 = performance.now();
    await project.enqueue({ select: [task] });
    await done;
    if (i >= WARMUP) samples.push(waiting.started - waiting.t0);
  }
} finally {
  shutdown.abort();
  await worker;
  await project.close();
}
process.stdout.write(JSON.stringify({ samples }) + '\n');
