/**
 * A ledger read after crash recovery sees every row written before the crash. DuckDB 1.4–1.5
 * loses the entries of a secondary (non-constraint) index that it rebuilt while replaying the
 * log of a killed process, once the file is next checkpointed: an index lookup then misses rows
 * that a scan finds. The embedded ledger therefore keeps no secondary index (migration 0008).
 */
import { describe, expect, it } from 'vitest';
import { SUBPROCESS_TEST_TIMEOUT, json, register, runCli, startCli, tempProject } from '../helpers.js';

describe('after a crash', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('status still lists the failed attempts recorded just before the process was killed', async () => {
    const p = tempProject();
    p.write('tasks/bad.sql', 'SELECT * FROM no_such_table;');
    await register(p);
    expect((await runCli(['--db', p.db, 'enqueue'])).code).toBe(0);
    const worker = startCli(['--db', p.db, 'worker']);
    const badAttempts = async () => {
      const status = json<{ jobs: Array<{ task: string; failed_attempts: Array<{ attempt: number; error: string }> }> }>(
        await runCli(['--db', p.db, 'status', '--json']),
      );
      return status.jobs.find((j) => j.task === 'bad')?.failed_attempts ?? [];
    };
    // Asked while the worker holds the file, it answers: once its ledger has the attempt, kill it.
    await worker.waitForStderr(/ finish bad +\w+ after 1 attempt/);
    while ((await badAttempts()).length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    worker.child.kill('SIGKILL'); // the attempt is in the write-ahead log only, not yet in the file
    expect((await worker.exited).signal).toBe('SIGKILL');
    // This process replays the log, reads no attempt, and checkpoints the file as it closes.
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    const attempts = await badAttempts();
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ attempt: 1, error: expect.stringMatching(/no_such_table/) });
  });
});
