/**
 * The benchmark suite at a smoke size (`node bench/run.mjs --smoke`): every case the driver lists
 * runs against the built dist/ with tiny sizes and produces figures, so that no case rots unseen
 * while the product changes under it. Nothing here asserts a timing (benchmarks measure, tests
 * check). The cases that need PostgreSQL use the test run's server (test/pg.ts: DATABASE_URL, or
 * the run's throwaway server) and are left out, saying why, only when there is none.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ROOT, tempDir } from '../helpers.js';
import { pgDatabase, postgresAvailable } from '../pg.js';

/** One to three minutes on two busy cores; room for a machine shared with other test files. */
const SMOKE_TIMEOUT = 360_000;
const RUN = path.join(ROOT, 'bench/run.mjs');
const RESULTS = path.join(ROOT, 'bench/results.json');

interface BenchResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node bench/run.mjs <args…>` with no BENCH_* knob or ledger setting inherited; killed (with its children) if the test ends first. */
function bench(args: string[], extraEnv: Record<string, string> = {}): Promise<BenchResult> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('BENCH_') && !k.startsWith('DUCKORCH_') && k !== 'DATABASE_URL'),
  );
  // A process group of its own: the driver waits on its measured children synchronously.
  const child = spawn(process.execPath, [RUN, ...args], { cwd: ROOT, env: { ...env, ...extraEnv }, detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<BenchResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  onTestFinished(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(-child.pid!, 'SIGKILL');
    await exited.catch(() => undefined);
  });
  return exited;
}

const tail = (text: string, lines = 40) => text.trimEnd().split('\n').slice(-lines).join('\n');

type Cases = Record<string, { error?: string; rows?: string[][] }>;

/** The smoke run in two halves at once (much of it is waiting: start-ups, commits, a lease); every case's result. */
async function smokeRun(options: string[], env: Record<string, string>): Promise<Cases> {
  const dir = tempDir();
  const shards = ['1/2', '2/2'];
  const files = shards.map((_, i) => path.join(dir, `results-${i + 1}.json`));
  const runs = await Promise.all(shards.map((shard, i) => bench(['--smoke', ...options, '--shard', shard, '--results', files[i]!], env)));
  for (const [i, r] of runs.entries())
    expect(r.code, `bench --smoke --shard ${shards[i]} failed:\n${tail(r.stderr)}\n${tail(r.stdout)}`).toBe(0);
  const cases: Cases = {};
  for (const file of files) {
    const out = JSON.parse(fs.readFileSync(file, 'utf8')) as { smoke: boolean; cases: Cases };
    expect(out.smoke).toBe(true);
    Object.assign(cases, out.cases);
  }
  return cases;
}

describe('the benchmark suite at a smoke size', () => {
  it('runs every case the driver has, each with figures, leaving bench/results.json alone', { timeout: SMOKE_TIMEOUT }, async () => {
    const pg = postgresAvailable();
    const env: Record<string, string> = {};
    const options: string[] = [];
    if (pg.ok) env.DATABASE_URL = (await pgDatabase()).url;
    else {
      options.push('--no-pg');
      console.warn(`bench smoke: the cases that need PostgreSQL are left out: ${pg.reason}`);
    }
    // The cases come from the driver itself, so that a new one is covered without touching this test.
    const listed = await bench(['--smoke', '--list']);
    expect(listed.code, listed.stderr).toBe(0);
    const all = listed.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { name: string; postgres: boolean });
    expect(all.map((c) => c.name)).toEqual(expect.arrayContaining(['startup', 'drain-pg', 'drain-duckdb', 'worker-startup']));
    const expected = all.filter((c) => pg.ok || !c.postgres).map((c) => c.name);

    const before = fs.readFileSync(RESULTS, 'utf8');
    const cases = await smokeRun(options, env);
    expect(fs.readFileSync(RESULTS, 'utf8')).toBe(before);
    expect(Object.keys(cases).sort()).toEqual([...expected].sort());
    for (const name of expected) {
      const c = cases[name]!;
      expect(c.error, name).toBeUndefined();
      expect(c.rows?.length, `${name} reported no figures`).toBeGreaterThan(0);
      // The duck-orch column of every row holds a measured figure.
      for (const row of c.rows!) expect(row[2], `${name}: ${row[0]}`).toMatch(/\d/);
    }
  });

  it('exits non-zero when a case fails, and says which', { timeout: SMOKE_TIMEOUT }, async () => {
    // Every child killed after 1 ms: the case cannot be measured.
    const r = await bench(['--smoke', 'register'], { BENCH_TIMEOUT_S: '0.001' });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^\| register +\| +\| FAILED /m);
    expect(r.stderr).toMatch(/^register FAILED: .*timed out after/m);
  });
});
