// The `recovery-pg` case: how long the jobs of a SIGKILLed worker stay lost. Per round, in a fresh
// ledger schema: worker A (`duck-orch worker -c 4`, lease L) takes the 4 jobs of a run whose tasks
// never end; once the ledger shows them processing by A, A gets SIGKILL and worker B starts at
// once; the sample is the time from the kill until B holds all 4 (the ledger's rows, polled every
// 20 ms). graphile-worker's equivalent is 4 hours by design (a locked job of a dead worker is only
// freed after 4 h); Orchex never frees it.
// Usage: node bench/recovery-pg.mjs <work-dir> <lease-seconds> <rounds>   (BENCH_LEDGER_URL)
// Prints one JSON line: { leaseMs, samples: [ms…], workerPeakRssMb }.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';

const [work, leaseS = '5', rounds = '3'] = process.argv.slice(2);
const CLI = new URL('../dist/interfaces/cli/main.js', import.meta.url).pathname;
const url = process.env.BENCH_LEDGER_URL;
const JOBS = 4;
const modulePath = path.join(work, 'stuck.ts');
fs.writeFileSync(
  modulePath,
  [
    `import { Dag } from 'duckorch';`,
    `export const stuck = new Dag('stuck');`,
    `for (let i = 0; i < ${JOBS}; i++) stuck.task({ name: \`stuck_\${i}\` }, () => new Promise(() => undefined));`,
    ``,
  ].join('\n'),
);
const admin = new pg.Client({ connectionString: url });
await admin.connect();
const children = new Set();

function duckOrch(cwd, schema, args, { wait }) {
  fs.mkdirSync(cwd, { recursive: true });
  const child = spawn(process.execPath, [CLI, '--dag', `${modulePath}:stuck`, ...args], {
    cwd,
    env: { ...process.env, DATABASE_URL: url, DUCKORCH_PG_SCHEMA: schema, DUCKORCH_LEASE: `${leaseS}s`, CI: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => (children.delete(child), resolve({ code, signal, stderr }))));
  if (!wait) return { child, exited };
  return exited.then((r) => {
    if (r.code !== 0) throw new Error(`duck-orch ${args.join(' ')} failed: ${r.stderr}`);
    return r;
  });
}

async function until(what, condition, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const heldBy = async (schema, worker) =>
  Number(
    (await admin.query(`SELECT count(*) AS n FROM "${schema}".jobs WHERE state = 'processing' AND lease_owner = $1`, [worker])).rows[0].n,
  );

function peakRssMb(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

const samples = [];
const rss = [];
try {
  for (let round = 0; round < Number(rounds); round++) {
    const schema = `bench_rec_${Math.random().toString(36).slice(2, 10)}`;
    try {
      const dir = (name) => path.join(work, `${schema}-${name}`);
      await duckOrch(dir('enqueue'), schema, ['init-db'], { wait: true });
      await duckOrch(dir('enqueue'), schema, ['enqueue'], { wait: true });
      const a = duckOrch(dir('a'), schema, ['worker', '-c', String(JOBS), '--worker-id', 'A'], { wait: false });
      await until('worker A to hold every job', async () => (await heldBy(schema, 'A')) === JOBS);
      a.child.kill('SIGKILL');
      const killedAt = performance.now();
      await a.exited;
      const b = duckOrch(dir('b'), schema, ['worker', '-c', String(JOBS), '--worker-id', 'B'], { wait: false });
      // Ten leases, and room for B's own start on a loaded machine when the lease is short (a smoke run's 1 s).
      const patience = Math.max(30_000, 10 * Number(leaseS) * 1000);
      await until('worker B to hold every job', async () => (await heldBy(schema, 'B')) === JOBS, patience);
      samples.push(performance.now() - killedAt);
      rss.push(peakRssMb(b.child.pid));
      b.child.kill('SIGKILL');
      await b.exited;
    } finally {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  }
} finally {
  for (const c of children) c.kill('SIGKILL');
  await admin.end();
}
process.stdout.write(JSON.stringify({ leaseMs: Number(leaseS) * 1000, samples, workerPeakRssMb: Math.max(...rss.filter(Boolean)) }) + '\n');
