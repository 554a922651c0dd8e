import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dag, asset, type AssetContext, type TaskContext } from '../../src/index.js';
import { assetDefinition, assetSpecOf, dagDefinitions, dagSpecOf } from '../../src/model/taskfile/function-task.js';
import type { TaskDefinition } from '../../src/model/taskfile/task.js';
import { AttemptFailure } from '../../src/runtime/attempt-failure.js';
import { runFunctionAttempt, type FunctionAttemptOptions } from '../../src/runtime/function-task.js';
import { DUCKDB_TEST_TIMEOUT } from '../helpers.js';

const REF = { module: '/abs/m.ts', exportName: 'x', file: 'm.ts' };
const CONTEXT = { runId: 'run-1', jobId: 'job-1', attempt: 1, partitionKey: null, runInputs: { n: 1 } };

let instance: DuckDBInstance;
beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
});
afterAll(() => instance.closeSync());

function dagTask(fn: (inputs: never, ctx: TaskContext) => unknown): { task: TaskDefinition; fn: FunctionAttemptOptions['fn'] } {
  const dag = new Dag('d').task({ name: 't' }, fn as never);
  return { task: dagDefinitions(dagSpecOf(dag)!, REF)[0]!, fn: dagSpecOf(dag)!.tasks[0]!.fn };
}

function assetTask(name: string, fn: (ctx: AssetContext) => unknown): { task: TaskDefinition; fn: FunctionAttemptOptions['fn'] } {
  const spec = assetSpecOf(asset({ name }, fn as never))!;
  return { task: assetDefinition(spec, REF), fn: spec.fn };
}

async function attempt(t: { task: TaskDefinition; fn: FunctionAttemptOptions['fn'] }, extra: Partial<FunctionAttemptOptions> = {}) {
  return runFunctionAttempt({ ...t, inputs: { n: 1 }, context: CONTEXT, instance, timeoutMs: null, log: () => undefined, ...extra });
}

async function failure(promise: Promise<unknown>): Promise<AttemptFailure> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(AttemptFailure);
    return err as AttemptFailure;
  }
  throw new Error('expected the attempt to fail');
}

async function tableExists(name: string): Promise<boolean> {
  const conn = await instance.connect();
  try {
    const r = await conn.runAndReadAll(`SELECT count(*)::INTEGER FROM duckdb_tables() WHERE table_name = '${name}'`);
    return r.getRows()[0]![0] === 1;
  } finally {
    conn.closeSync();
  }
}

describe('runFunctionAttempt', { timeout: DUCKDB_TEST_TIMEOUT }, () => {
  it('calls a Dag task with its inputs and context, and returns its JSON result', async () => {
    const logs: string[] = [];
    let seen: TaskContext | undefined;
    const t = dagTask((inputs: { n: number }, ctx) => {
      seen = ctx;
      ctx.log(`got ${inputs.n}`);
      return { doubled: inputs.n * 2, at: new Date(0), dropped: undefined };
    });
    const out = await attempt(t, { log: (m) => logs.push(m) });
    expect(out).toEqual({ result: { doubled: 2, at: '1970-01-01T00:00:00.000Z' } });
    expect(logs).toEqual(['got 1']);
    expect(seen).toMatchObject({ runId: 'run-1', jobId: 'job-1', taskName: 't', attempt: 1, partitionKey: null, runInputs: { n: 1 } });
    expect(seen!.signal.aborted).toBe(false);
    expect(await attempt(dagTask(() => undefined))).toEqual({ result: null });
  });

  it('fails with the error a task throws (retryable), keeping its stack', async () => {
    const f = await failure(attempt(dagTask(() => Promise.reject(new TypeError('bad input')))));
    expect([f.kind, f.retryable, f.message]).toEqual(['function', true, 'task t failed: bad input']);
    expect(f.context.error_name).toBe('TypeError');
    expect(String(f.context.stack)).toMatch(/TypeError: bad input/);
    const sync = await failure(
      attempt(
        dagTask(() => {
          throw new Error('at once');
        }),
      ),
    );
    expect(sync.message).toBe('task t failed: at once');
  });

  it('says what a task threw when it is not an Error', async () => {
    const s = await failure(attempt(dagTask(() => Promise.reject('boom'))));
    expect(s.kind).toBe('function');
    expect(s.message).toBe('task t threw a non-Error value: "boom"');
    const o = await failure(
      attempt(
        dagTask(() => {
          throw { code: 42 };
        }),
      ),
    );
    expect(o.message).toBe('task t threw a non-Error value: { code: 42 }');
  });

  it('refuses a result that is not JSON, saying what and where (not retryable)', async () => {
    const f = await failure(attempt(dagTask(() => ({ rows: [1, 2n] }))));
    expect([f.kind, f.retryable]).toEqual(['result', false]);
    expect(f.message).toBe(
      'task t returned a value that is not JSON-serialisable: result.rows[1] is a BigInt (2n); convert it with Number() or String()',
    );
    const fn = await failure(attempt(dagTask(() => () => 1)));
    expect(fn.message).toMatch(/result is a function/);
  });

  it('times out a task that never returns, aborting ctx.signal', async () => {
    let signal: AbortSignal | undefined;
    const f = await failure(
      attempt(
        dagTask((_i, ctx) => {
          signal = ctx.signal;
          return new Promise(() => undefined);
        }),
        { timeoutMs: 50 },
      ),
    );
    expect([f.kind, f.retryable, f.message]).toEqual(['timeout', true, 'task t timed out after 0.05s (timeout)']);
    expect(f.context.note).toMatch(/ignores ctx\.signal keeps running in the background/);
    expect(signal?.aborted).toBe(true);
  });

  it('is cancelled by the run signal, before or while it runs', async () => {
    const before = new AbortController();
    before.abort();
    expect(
      (
        await failure(
          attempt(
            dagTask(() => 1),
            { signal: before.signal },
          ),
        )
      ).kind,
    ).toBe('cancelled');
    const during = new AbortController();
    let signal: AbortSignal | undefined;
    const running = attempt(
      dagTask((_i, ctx) => {
        signal = ctx.signal;
        setTimeout(() => during.abort(), 10);
        return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve(1)));
      }),
      { signal: during.signal },
    );
    const f = await failure(running);
    expect([f.kind, f.retryable]).toEqual(['cancelled', false]);
    expect(signal?.aborted).toBe(true);
  });

  it('commits what an asset writes, through `commit` when given', async () => {
    const t = assetTask('main.scores_ok', async ({ connection, runId }) => {
      await connection.run(`CREATE TABLE scores_ok AS SELECT 1 AS s, '${runId}' AS run`);
      return { rows: 1 };
    });
    const setup = await instance.connect();
    await setup.run('CREATE TABLE ledger (task VARCHAR, result VARCHAR)');
    setup.closeSync();
    const out = await attempt(t, {
      commit: async (outcome, tx) => {
        await tx.connection.run(`INSERT INTO ledger VALUES ('scores', '${JSON.stringify(outcome.result)}')`);
        await tx.connection.run('COMMIT');
      },
    });
    expect(out.result).toEqual({ rows: 1 });
    const check = await instance.connect();
    try {
      expect((await check.runAndReadAll('SELECT s, run FROM scores_ok')).getRows()).toEqual([[1, 'run-1']]);
      expect((await check.runAndReadAll('SELECT * FROM ledger')).getRows()).toEqual([['scores', '{"rows":1}']]);
    } finally {
      check.closeSync();
    }
    // Without `commit`, the attempt commits by itself.
    await attempt(
      assetTask('main.scores_self', async ({ connection }) => {
        await connection.run('CREATE TABLE scores_self AS SELECT 1 AS s');
      }),
    );
    expect(await tableExists('scores_self')).toBe(true);
    // Returning what `connection.run` resolves to is a mistake the result check names.
    const leaked = await failure(attempt(assetTask('main.leaked', ({ connection }) => connection.run('SELECT 1'))));
    expect(leaked.message).toMatch(/result is an instance of DuckDBMaterializedResult/);
  });

  it('rolls an asset back when it throws or returns something that is not JSON', async () => {
    const thrown = await failure(
      attempt(
        assetTask('main.half_done', async ({ connection }) => {
          await connection.run('CREATE TABLE half_done AS SELECT 1 AS s');
          throw new Error('second step failed');
        }),
      ),
    );
    expect(thrown.message).toBe('task half_done failed: second step failed');
    expect(await tableExists('half_done')).toBe(false);
    await failure(
      attempt(
        assetTask('main.bad_result', async ({ connection }) => {
          await connection.run('CREATE TABLE bad_result AS SELECT 1 AS s');
          return new Map();
        }),
      ),
    );
    expect(await tableExists('bad_result')).toBe(false);
  });

  it('rolls back a timed-out asset, and its connection refuses what it does afterwards', async () => {
    let release!: () => void;
    const later = new Promise<void>((r) => (release = r));
    let afterwards: unknown;
    let finished!: () => void;
    const tried = new Promise<void>((r) => (finished = r));
    const f = await failure(
      attempt(
        assetTask('main.slow', async ({ connection }) => {
          try {
            await connection.run('CREATE TABLE slow AS SELECT 1 AS s');
            await later; // ignores ctx.signal
            await connection.run('CREATE TABLE slow_late AS SELECT 1 AS s');
          } catch (err) {
            afterwards = err;
          } finally {
            finished();
          }
        }),
        // Room for the first statement on a busy machine: the timeout is to land while it waits.
        { timeoutMs: 400 },
      ),
    );
    expect(f.kind).toBe('timeout');
    expect(f.message).toBe('task slow timed out after 0.4s (timeout); its changes were rolled back');
    release();
    await tried;
    expect(String(afterwards)).toMatch(/the attempt of task slow has ended \(timed out\); its connection is closed/);
    expect(await tableExists('slow')).toBe(false);
    expect(await tableExists('slow_late')).toBe(false);
  });
});
