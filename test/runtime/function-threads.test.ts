import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { READY_TIMEOUT, ROOT, SUBPROCESS_TEST_TIMEOUT, tempDir } from '../helpers.js';

const dist = (file: string) => pathToFileURL(path.join(ROOT, 'dist', file)).href;

describe('FunctionThreadPool', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('lets its process exit when a thread it started finds nothing left to do', async () => {
    const dir = tempDir();
    const file = (name: string) => JSON.stringify(path.join(dir, name));
    // A thread entry whose second thread starts only once the gate is open, and whose task `a`
    // ends once it is released: the script below can then have `b` wait behind `a`, the pool
    // start a second thread for it, and `a`'s thread take `b` after all before that one is ready.
    fs.writeFileSync(
      path.join(dir, 'entry.mjs'),
      `import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { serveFunctions } from ${JSON.stringify(dist('runtime/function-thread.js'))};
const until = async (f) => { while (!fs.existsSync(f)) await new Promise((r) => setTimeout(r, 10)); };
if (workerData.n > 1) {
  fs.writeFileSync(${file('second-starting')}, '');
  await until(${file('gate')});
}
const functions = {
  a: async () => { await until(${file('release-a')}); return 'a'; },
  b: async () => 'b',
};
serveFunctions(parentPort, async (task) => functions[task.name]);
`,
    );
    fs.writeFileSync(
      path.join(dir, 'script.mjs'),
      `import fs from 'node:fs';
import { FunctionThreadPool } from ${JSON.stringify(dist('runtime/function-threads.js'))};
const until = async (f) => { while (!fs.existsSync(f)) await new Promise((r) => setTimeout(r, 10)); };
let n = 0;
const pool = new FunctionThreadPool({ entry: new URL('./entry.mjs', import.meta.url), workerData: () => ({ n: ++n }) });
const attempt = (name) => pool.run({
  task: { name, kind: 'function', file: 'm.ts', function: { module: '/m.ts', exportName: 'd', dag: 'd' } },
  evaluation: 0,
  inputs: null,
  context: { runId: 'r', jobId: name, attempt: 1, partitionKey: null, runInputs: null },
  timeoutMs: null,
  log: () => undefined,
});
const results = Promise.all([attempt('a'), attempt('b')]);
await until(${file('second-starting')});
fs.writeFileSync(${file('release-a')}, '');
console.log(JSON.stringify(await results));
fs.writeFileSync(${file('gate')}, '');
// Nothing else to do: the process ends by itself, unless a thread keeps it alive.
`,
    );
    const child = spawn(process.execPath, [path.join(dir, 'script.mjs')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Showing that something does not happen needs a bound: a generous one, for a loaded machine.
    const exited = await new Promise<number | null | 'still running'>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve('still running');
      }, READY_TIMEOUT);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    expect([exited, stdout.trim()], stderr).toEqual([0, JSON.stringify([{ result: 'a' }, { result: 'b' }])]);
  });
});
