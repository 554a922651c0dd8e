// Shared by the benchmark driver: launching measured child processes, and the statistics.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.dirname(BENCH_DIR);
export const CLI = path.join(ROOT, 'dist/interfaces/cli/main.js');
const HOOK = pathToFileURL(path.join(BENCH_DIR, 'rss-hook.mjs')).href;

// Every variable duck-orch's config reads, Orchex's names too (DATABASE_URL would move a CLI's
// ledger to PostgreSQL): a child gets one only when its case passes it.
const CONFIG_JS = path.join(ROOT, 'dist/config/config.js');
const CONFIG_VARS = fs.existsSync(CONFIG_JS)
  ? await import(pathToFileURL(CONFIG_JS).href).then(
      ({ ENV_VARS, ENV_ALIASES }) => new Set([...Object.values(ENV_VARS), ...Object.values(ENV_ALIASES).flat()]),
    )
  : new Set(['DATABASE_URL']);

let childTmp = null;
/**
 * The temporary folder of every child (TMPDIR): what a killed process leaves there (a worker's
 * socket, say, when SIGKILLed) goes when the driver removes this folder.
 */
export function setChildTmp(dir) {
  childTmp = dir;
}

/** Environment for children: no inherited duck-orch settings, so every run measures the same thing. */
function childEnv(extra = {}) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !k.startsWith('DUCKORCH_') && !k.startsWith('ORCHEX_') && !CONFIG_VARS.has(k) && k !== 'NODE_OPTIONS',
    ),
  );
  const tmp = childTmp ? { TMPDIR: childTmp, TMP: childTmp, TEMP: childTmp } : {};
  return { ...env, ...tmp, NO_COLOR: '1', ...extra };
}

let timeoutMs = 1800 * 1000;
/** How long a child may run before it is killed (BENCH_TIMEOUT_S). */
export function setChildTimeout(seconds) {
  timeoutMs = seconds * 1000;
}

let seq = 0;

/**
 * Runs `node <args…>` as a child process with the peak-RSS hook preloaded, stdout and stderr
 * going to files in `work` (as a user redirecting them would), and returns its wall time from
 * spawn to exit, exit code, peak RSS and output. `ulimit` runs it under `ulimit -n <n>`;
 * `measureRss: false` leaves the hook out (for start-up timings, where its own load time counts).
 * It runs in the repository's root unless `cwd` says otherwise.
 */
export function runNode(work, args, { ulimit, env, cwd = ROOT, measureRss = true } = {}) {
  const id = `p${++seq}`;
  const rssFile = path.join(work, `${id}.rss`);
  const outFile = path.join(work, `${id}.out`);
  const errFile = path.join(work, `${id}.err`);
  const nodeArgs = measureRss ? ['--import', HOOK, ...args] : args;
  const [cmd, argv] = ulimit
    ? ['bash', ['-c', `ulimit -n ${ulimit} && exec "$0" "$@"`, process.execPath, ...nodeArgs]]
    : [process.execPath, nodeArgs];
  const out = fs.openSync(outFile, 'w');
  const err = fs.openSync(errFile, 'w');
  let res;
  const t0 = performance.now();
  try {
    res = spawnSync(cmd, argv, {
      cwd,
      env: childEnv({ ...env, BENCH_RSS_FILE: rssFile }),
      stdio: ['ignore', out, err],
      timeout: timeoutMs,
    });
  } finally {
    fs.closeSync(out);
    fs.closeSync(err);
  }
  const ms = performance.now() - t0;
  const read = (f) => {
    const text = fs.readFileSync(f, 'utf8');
    fs.rmSync(f, { force: true });
    return text;
  };
  const stdout = read(outFile);
  const stderr = read(errFile);
  const rssKb = fs.existsSync(rssFile) ? Number(read(rssFile)) : NaN;
  return {
    ms,
    code: res.status,
    signal: res.signal,
    timedOut: res.error?.code === 'ETIMEDOUT',
    error: res.error ? String(res.error.message) : null,
    maxRssMb: Number.isFinite(rssKb) && rssKb > 0 ? rssKb / 1024 : null,
    stdout,
    stderr,
  };
}

/** Runs the built CLI: `duck-orch <args…>`. */
export function runCli(work, args, options) {
  return runNode(work, [CLI, ...args], options);
}

/** A helper script of bench/ that prints one JSON line on stdout (its last line is parsed). */
export function runScript(work, script, args, options) {
  const r = runNode(work, [path.join(BENCH_DIR, script), ...args], options);
  if (r.code !== 0 || r.signal) throw new Error(`${script} ${args.join(' ')} failed (${describeExit(r)}):\n${tail(r.stderr)}`);
  const json = JSON.parse(r.stdout.trim().split('\n').at(-1));
  return { ...json, wallMs: r.ms, maxRssMb: r.maxRssMb };
}

export function describeExit(r) {
  if (r.timedOut) return `timed out after ${timeoutMs / 1000} s`;
  if (r.signal) return `killed by ${r.signal}`;
  if (r.error) return r.error;
  return `exit ${r.code}`;
}

export function tail(text, lines = 15) {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Throws unless a CLI child exited 0; the message carries its stderr. */
export function expectOk(r, what) {
  if (r.code === 0 && !r.signal) return r;
  throw new Error(`${what} failed (${describeExit(r)}):\n${tail(r.stderr || r.stdout)}`);
}

// ---- statistics ----

export function sorted(xs) {
  return [...xs].sort((a, b) => a - b);
}

export function median(xs) {
  const s = sorted(xs);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile. */
export function percentile(xs, p) {
  const s = sorted(xs);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export function summary(xs) {
  const v = xs.filter((x) => x !== null && Number.isFinite(x));
  if (v.length === 0) return { n: 0, median: null, min: null, max: null, p90: null };
  return { n: v.length, median: median(v), min: Math.min(...v), max: Math.max(...v), p90: percentile(v, 90) };
}

/**
 * Runs `a` and `b` alternately, `pairs` times, flipping which one goes first in every pair
 * (a b, b a, a b, …), so that drift of a shared machine lands in both halves of a pair rather
 * than in the ratio. Returns the samples and the per-pair ratio b/a.
 */
export function alternate(pairs, a, b) {
  const samples = [];
  for (let i = 0; i < pairs; i++) {
    let ra, rb;
    if (i % 2 === 0) {
      ra = a(i);
      rb = b(i);
    } else {
      rb = b(i);
      ra = a(i);
    }
    samples.push({ a: ra, b: rb, first: i % 2 === 0 ? 'a' : 'b' });
  }
  return samples;
}

// ---- formatting ----

export const fmtMs = (ms) =>
  ms === null || ms === undefined ? 'n/a' : ms >= 100 ? `${Math.round(ms).toLocaleString('en-US')} ms` : `${ms.toFixed(1)} ms`;
export const fmtMb = (mb) => (mb === null || mb === undefined ? 'n/a' : `${Math.round(mb).toLocaleString('en-US')} MB`);
export const fmtRatio = (s) =>
  s.median === null
    ? 'n/a'
    : s.n === 1
      ? `${s.median.toFixed(2)} (1 pair)`
      : `${s.median.toFixed(2)} [${s.min.toFixed(2)}–${s.max.toFixed(2)}]`;
export const fmtN = (n) => n.toLocaleString('en-US');
