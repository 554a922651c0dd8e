import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/runtime/worker.js';
import { DUCKDB_TEST_TIMEOUT, READY_TIMEOUT, tempProject, withProject, type TempProject } from '../helpers.js';

/** Registers the project's tasks and runs them, collecting the run's events. */
async function registerAndRun(p: TempProject, options: { signal?: AbortSignal } = {}) {
  const events: RunEvent[] = [];
  const result = await withProject(p, async (project) => {
    await project.register(p.tasks);
    return project.run({ maxParallel: 4, onEvent: (e) => events.push(e), ...options });
  });
  const job = (task: string) => result.jobs.find((j) => j.task === task)!;
  return { result, events, job };
}

/** Resolves once `file` exists. */
async function fileAppears(file: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT;
  while (!fs.existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${file} did not appear`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A module statement that writes `file` after `ms`, whatever happens to ctx.signal. */
const writeLater = (file: string, ms: number) =>
  `await new Promise((r) => setTimeout(r, ${ms})); fs.writeFileSync(${JSON.stringify(file)}, 'written');`;

describe('Dag tasks in worker threads', { timeout: DUCKDB_TEST_TIMEOUT }, () => {
  it("stops a task at its timeout: what it would have written later never appears (Orchex's timeout test)", async () => {
    const p = tempProject();
    const late = path.join(p.dir, 'late.txt');
    const started = path.join(p.dir, 'slow-started');
    const witness = path.join(p.dir, 'witness.txt');
    // `slow` ignores ctx.signal and writes at 1.2 s; its timeout is 0.3 s. `witness`, which has no
    // timeout, waits until `slow` has started, then writes after twice as long: when its file
    // exists, `slow`'s write would have happened long before, had `slow` still been running.
    p.write(
      'tasks/orchex.ts',
      `import fs from 'node:fs';
import { Dag } from 'duckorch';
export const dag = new Dag('orchex');
dag.task({ name: 'slow', timeout: 0.3 }, async () => {
  fs.writeFileSync(${JSON.stringify(started)}, '');
  ${writeLater(late, 1200)}
  return 'finished';
});
dag.task({ name: 'witness' }, async () => {
  while (!fs.existsSync(${JSON.stringify(started)})) await new Promise((r) => setTimeout(r, 10));
  ${writeLater(witness, 2400)}
  return 'waited';
});
`,
    );
    const { job } = await registerAndRun(p);
    expect([job('slow').state, job('slow').error]).toEqual(['dead', 'task slow timed out after 0.3s (timeout)']);
    expect(job('slow').errorContext?.note).toMatch(/thread terminated/);
    expect([job('witness').state, job('witness').result]).toEqual(['succeeded', 'waited']);
    expect(fs.existsSync(witness)).toBe(true);
    expect(fs.existsSync(late)).toBe(false);
  });

  it('stops a task when its run is cancelled', async () => {
    const p = tempProject();
    const late = path.join(p.dir, 'late.txt');
    const started = path.join(p.dir, 'stubborn-started');
    p.write(
      'tasks/cancel.ts',
      `import fs from 'node:fs';
import { Dag } from 'duckorch';
export const dag = new Dag('cancel');
dag.task({ name: 'stubborn' }, async () => {
  fs.writeFileSync(${JSON.stringify(started)}, '');
  ${writeLater(late, 1200)}
});
dag.task({ name: 'witness' }, async () => {
  ${writeLater(path.join(p.dir, 'witness.txt'), 2400)}
});
`,
    );
    await withProject(p, async (project) => {
      await project.register(p.tasks);
      const cancel = new AbortController();
      const running = project.run({ select: ['stubborn'], signal: cancel.signal });
      await fileAppears(started);
      cancel.abort();
      const { jobs } = await running;
      expect([jobs[0]!.state, jobs[0]!.error]).toEqual(['cancelled', 'the run was cancelled while it ran']);
      // A later run that takes twice as long as `stubborn` would have: by its end, its write would have happened.
      expect((await project.run({ select: ['witness'] })).jobs[0]!.state).toBe('succeeded');
    });
    expect(fs.existsSync(late)).toBe(false);
  });

  it("retries a task its thread's termination stopped, per its retries (a busy loop included)", async () => {
    const p = tempProject();
    p.write(
      'tasks/busy.ts',
      `import { Dag } from 'duckorch';
export const dag = new Dag('busy');
dag.task({ name: 'spin', timeout: 0.3, retries: 2 }, async (_inputs, ctx) => {
  // Never yields: only terminating the thread ends it.
  if (ctx.attempt < 3) for (;;);
  return { attempt: ctx.attempt };
});
`,
    );
    const { job, events } = await registerAndRun(p);
    expect([job('spin').state, job('spin').attempts, job('spin').result]).toEqual(['succeeded', 3, { attempt: 3 }]);
    const retries = events.filter((e) => e.type === 'retry');
    expect(retries.map((e) => e.error)).toEqual(['task spin timed out after 0.3s (timeout)', 'task spin timed out after 0.3s (timeout)']);
  });

  it("runs in a thread of the worker's own process, whose ctx.log lines reach the run log", async () => {
    const p = tempProject();
    p.write(
      'tasks/where.ts',
      `import { isMainThread } from 'node:worker_threads';
import { Dag } from 'duckorch';
export const dag = new Dag('where');
dag.task({ name: 'where' }, async (_inputs, ctx) => {
  ctx.log('first line');
  ctx.log(\`attempt \${ctx.attempt} of \${ctx.taskName}\`);
  return { pid: process.pid, isMainThread };
});
`,
    );
    const { job, events } = await registerAndRun(p);
    expect(job('where').result).toEqual({ pid: process.pid, isMainThread: false });
    expect(events.filter((e) => e.type === 'log')).toEqual([
      { type: 'log', task: 'where', message: 'first line' },
      { type: 'log', task: 'where', message: 'attempt 1 of where' },
    ]);
  });

  it("starts a task's timeout when its function is called, not while its module loads", async () => {
    const p = tempProject();
    // The module takes 1.5 s to load, five times the task's timeout.
    p.write(
      'tasks/heavy.ts',
      `import { Dag } from 'duckorch';
const until = Date.now() + 1500;
while (Date.now() < until);
export const dag = new Dag('heavy');
dag.task({ name: 'quick', timeout: 0.3 }, async () => 'in time');
`,
    );
    const { job } = await registerAndRun(p);
    expect([job('quick').state, job('quick').result]).toEqual(['succeeded', 'in time']);
  });

  it('passes inputs, context and results as JSON, and errors as they were thrown', async () => {
    const p = tempProject();
    p.write(
      'tasks/cross.ts',
      `import { Dag } from 'duckorch';
export const dag = new Dag('cross');
dag.task({ name: 'extract' }, async (inputs, ctx) => ({
  inputs,
  ctx: { runId: ctx.runId, jobId: ctx.jobId, taskName: ctx.taskName, attempt: ctx.attempt, partitionKey: ctx.partitionKey, runInputs: ctx.runInputs },
  nested: { list: [1, 'two', null, { three: true }], at: new Date(0), gone: undefined },
}));
dag.task({ name: 'echo', requires: ['extract'] }, async ({ extract }) => extract.nested);
dag.task({ name: 'throws' }, async () => {
  throw new TypeError('bad input');
});
dag.task({ name: 'throws_string' }, async () => {
  throw 'boom';
});
dag.task({ name: 'bigint' }, async () => ({ rows: [1, 2n] }));
dag.task({ name: 'exits' }, async () => {
  process.exit(3);
});
`,
    );
    const { job } = await registerAndRun(p);
    const extract = job('extract');
    expect(extract.result).toEqual({
      inputs: null,
      ctx: { runId: extract.runId, jobId: extract.id, taskName: 'extract', attempt: 1, partitionKey: null, runInputs: null },
      nested: { list: [1, 'two', null, { three: true }], at: '1970-01-01T00:00:00.000Z' },
    });
    expect(job('echo').result).toEqual({ list: [1, 'two', null, { three: true }], at: '1970-01-01T00:00:00.000Z' });
    const thrown = job('throws');
    expect([thrown.state, thrown.error]).toEqual(['dead', 'task throws failed: bad input']);
    expect(thrown.errorContext).toMatchObject({ error: 'bad input', error_name: 'TypeError' });
    // The stack points into the module, at the line that threw.
    expect(String(thrown.errorContext?.stack)).toMatch(/TypeError: bad input\n\s+at .*cross\.ts:10:/);
    expect(job('throws_string').error).toBe('task throws_string threw a non-Error value: "boom"');
    expect(job('bigint').error).toBe(
      'task bigint returned a value that is not JSON-serialisable: result.rows[1] is a BigInt (2n); convert it with Number() or String()',
    );
    expect(job('exits').error).toBe('task exits failed: its thread ended: it exited with code 3');
  });

  it('gives each of many short tasks its own result, however they were batched into threads', async () => {
    const p = tempProject();
    p.write(
      'tasks/many.ts',
      `import { Dag } from 'duckorch';
export const dag = new Dag('many');
for (let i = 0; i < 120; i++) dag.task({ name: 'm' + i }, async (_inputs, ctx) => ({ task: ctx.taskName, job: ctx.jobId }));
`,
    );
    const { result } = await registerAndRun(p);
    expect(result.jobs).toHaveLength(120);
    for (const j of result.jobs) expect([j.state, j.result]).toEqual(['succeeded', { task: j.task, job: j.id }]);
  });

  it('gives a task that waits behind a long one in a thread a thread of its own', async () => {
    const p = tempProject();
    const barrier = path.join(p.dir, 'barrier');
    fs.mkdirSync(barrier);
    // Each of the two ends only once both have started: one thread runs one attempt at a time, so
    // whichever waits behind the other must be given another thread, or neither ends.
    p.write(
      'tasks/behind.ts',
      `import fs from 'node:fs';
import path from 'node:path';
import { Dag } from 'duckorch';
export const dag = new Dag('behind');
for (const name of ['a', 'b'])
  dag.task({ name }, async () => {
    fs.writeFileSync(path.join(${JSON.stringify(barrier)}, name), '');
    const deadline = Date.now() + 60_000;
    while (fs.readdirSync(${JSON.stringify(barrier)}).length < 2) {
      if (Date.now() > deadline) throw new Error('the other task never started');
      await new Promise((r) => setTimeout(r, 10));
    }
    return name;
  });
`,
    );
    const { job } = await registerAndRun(p);
    expect([job('a').result, job('b').result]).toEqual(['a', 'b']);
  });

  it("gives a run's inputs to a root task in its thread", async () => {
    const p = tempProject();
    p.write(
      'tasks/inputs.ts',
      `import { Dag } from 'duckorch';
export const dag = new Dag('inputs');
dag.task({ name: 'root' }, async (inputs: { day: string }, ctx) => ({ day: inputs.day, same: JSON.stringify(inputs) === JSON.stringify(ctx.runInputs) }));
`,
    );
    const jobs = await withProject(p, async (project) => {
      await project.register(p.tasks);
      await project.enqueue({ inputs: { day: '2026-12-01' } });
      await project.work({ untilIdle: true });
      return (await project.status({ limit: 10 })).jobs;
    });
    expect(jobs.map((j) => [j.task, j.state, j.result])).toEqual([['root', 'succeeded', { day: '2026-12-01', same: true }]]);
  });

  it("runs an `isolation: 'inline'` task in the worker's own thread, where its timeout cannot stop it", async () => {
    const p = tempProject();
    const late = path.join(p.dir, 'late.txt');
    p.write(
      'tasks/inline.ts',
      `import fs from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { Dag } from 'duckorch';
export const dag = new Dag('inline');
dag.task({ name: 'stubborn', timeout: 0.3, isolation: 'inline' }, async (_inputs, ctx) => {
  if (!isMainThread) throw new Error('not inline');
  ${writeLater(late, 1200)}
  return ctx.signal.aborted;
});
`,
    );
    const { job } = await registerAndRun(p);
    expect([job('stubborn').state, job('stubborn').error]).toEqual(['dead', 'task stubborn timed out after 0.3s (timeout)']);
    expect(job('stubborn').errorContext?.note).toMatch(/keeps running in the background/);
    // Documented: it runs on, and writes its file after all.
    await fileAppears(late);
  });

  it('runs the code the process registered last: a thread reloads a module registered anew', async () => {
    const p = tempProject();
    const version = (n: number) =>
      p.write(
        'tasks/v.ts',
        `import { Dag } from 'duckorch';\nexport const dag = new Dag('v');\ndag.task({ name: 'v' }, async () => ${n});\n`,
      );
    version(1);
    await withProject(p, async (project) => {
      await project.register(p.tasks);
      expect((await project.run()).jobs[0]!.result).toBe(1);
      version(2);
      await project.register(p.tasks);
      expect((await project.run()).jobs[0]!.result).toBe(2);
    });
  });

  it("resolves `import … from 'duckorch'` to the whole library in a thread", async () => {
    const p = tempProject();
    p.write(
      'tasks/lib.ts',
      `import * as duckorch from 'duckorch';
import { Project, Dag } from 'duckorch';
export const dag = new Dag('lib');
dag.task({ name: 'lib' }, async () => ({ project: typeof Project, names: Object.keys(duckorch).sort() }));
`,
    );
    const { job } = await registerAndRun(p);
    const library = await import('../../src/index.js');
    expect(job('lib').result).toEqual({ project: 'function', names: Object.keys(library).sort() });
  });
});
