import fs from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { socketPath } from '../../src/app/remote/socket.js';
import {
  SUBPROCESS_TEST_TIMEOUT,
  json,
  queryDb,
  register,
  runCli,
  startCli,
  tempProject,
  writeGateTask,
  type TempProject,
} from '../helpers.js';

/** `gate` waits until the test creates its file, so the run holding the database stays up until then. */
function gated(p: TempProject): string {
  const gate = writeGateTask(p);
  p.write('tasks/quick.sql', 'CREATE OR REPLACE TABLE quick AS SELECT 1 AS x;');
  return gate;
}

describe('watching a running project', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('while a run holds the database, status, list, graph, queue-depth and enqueue are answered by it, and a second run is handed to it', async () => {
    const p = tempProject();
    const gate = gated(p);
    await register(p);
    const holder = startCli(['--db', p.db, 'run', '-s', 'gate']);
    await holder.waitForStderr(/ start +gate \(attempt 1\)/);
    expect(fs.existsSync(socketPath(p.db))).toBe(true);

    const status = await runCli(['--db', p.db, 'status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(json<{ jobs: Array<{ task: string; state: string }> }>(status).jobs[0]).toMatchObject({ task: 'gate', state: 'processing' });
    expect(json(await runCli(['--db', p.db, 'queue-depth', '--json']))).toMatchObject({ processing: 1 });
    expect((await runCli(['--db', p.db, 'list'])).stdout).toMatch(/^quick +\S*quick\.sql/m);
    expect((await runCli(['--db', p.db, 'graph', 'dag'])).stdout).toMatch(/class t_gate running/);
    const enqueued = await runCli(['--db', p.db, 'enqueue', '-s', 'quick', '--json']);
    expect(json<{ run: { state: string } }>(enqueued).run.state).toBe('queued');

    const second = await runCli(['--db', p.db, 'run', '-s', 'quick', '--json']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toBe(''); // --json: stdout carries the one document
    expect(json<{ run: { state: string }; jobs: Array<{ task: string; rows: number }> }>(second)).toMatchObject({
      run: { state: 'succeeded' },
      jobs: [{ task: 'quick', rows: 1 }],
    });

    fs.writeFileSync(gate, '');
    const first = await holder.exited;
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/✔ +gate +succeeded/);
    expect(fs.existsSync(socketPath(p.db))).toBe(false);
  });

  it('cancel from another terminal stops the holder’s run, the job in flight included', async () => {
    const p = tempProject();
    gated(p);
    await register(p);
    const holder = startCli(['--db', p.db, 'run', '-s', 'gate']);
    await holder.waitForStderr(/ start +gate \(attempt 1\)/);
    const runId = json<{ runs: Array<{ run_id: string }> }>(await runCli(['--db', p.db, 'status', '--json'])).runs[0]!.run_id;
    const cancel = await runCli(['--db', p.db, 'cancel', runId.slice(0, 8)]);
    expect(cancel.code, cancel.stderr).toBe(0);
    // The holder's heartbeat may stop the job (and so end the run) before the state is read back.
    expect(cancel.stdout).toContain(`Cancelled 1 job of run ${runId.slice(0, 8)} (`);
    expect(cancel.stdout).toMatch(/ \((running|cancelled)\); 1 in flight stops at its worker's next heartbeat/);
    const done = await holder.exited;
    expect(done.code).toBe(130);
    expect(done.stdout).toMatch(/gate +cancelled +.*cancelled by the user/);
    // Stopped by its worker, which says so and records the attempt.
    expect(done.stderr).toMatch(/finish gate cancelled after 1 attempt: cancelled by the user/);
    const attempts = await queryDb(p.db, "SELECT outcome, worker LIKE 'run-%' FROM __orch__.attempts WHERE task_name = 'gate'");
    expect(attempts).toEqual([['cancelled', true]]);
  });

  it('run --wait waits for the holder to finish, then runs itself', async () => {
    const p = tempProject();
    const gate = gated(p);
    await register(p);
    const holder = startCli(['--db', p.db, 'run', '-s', 'gate']);
    await holder.waitForStderr(/ start +gate/);
    const waiting = startCli(['--db', p.db, 'run', '-s', 'quick', '--wait']);
    await waiting.waitForStderr(/is in use by another process.*; waiting for it to finish \(--wait\)/);
    fs.writeFileSync(gate, '');
    const [first, second] = await Promise.all([holder.exited, waiting.exited]);
    expect(first.code, first.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).not.toMatch(/following it/);
    expect(second.stdout).toMatch(/✔ +quick +succeeded/);
  });

  it('a worker answers too, and works the runs handed to it', async () => {
    const p = tempProject();
    gated(p);
    await register(p);
    const worker = startCli(['--db', p.db, 'worker']);
    await worker.waitForStderr(/^worker \d+ started/);
    const handed = await runCli(['--db', p.db, 'run', '-s', 'quick']);
    expect(handed.code, handed.stderr).toBe(0);
    expect(handed.stderr).toMatch(/held by duck-orch worker \(pid \d+\)/);
    expect(handed.stdout).toMatch(/Run [0-9a-f]{8} succeeded: 1 succeeded/);
    expect(await worker.waitForStderr(/ finish quick +succeeded/)).toBeTruthy();
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
    expect(fs.existsSync(socketPath(p.db))).toBe(false);
  });

  it('a database held by a process that does not answer (or a stale socket) is still a clear error', async () => {
    const p = tempProject();
    gated(p);
    await register(p);
    fs.writeFileSync(socketPath(p.db), ''); // left by a process that died
    const instance = await DuckDBInstance.create(p.db); // this test process now holds the file
    try {
      const status = await runCli(['--db', p.db, 'status']);
      expect(status.code).not.toBe(0);
      expect(status.stderr).toMatch(/database .* is in use by another process/);
      const run = await runCli(['--db', p.db, 'run']);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain('wait for it to finish (`run --wait` does that)');
    } finally {
      instance.closeSync();
    }
  });
});
