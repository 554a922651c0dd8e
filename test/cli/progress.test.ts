import { describe, expect, it } from 'vitest';
import { createProgress, formatRunEvent, progressEnabled } from '../../src/interfaces/cli/progress.js';
import type { RunEvent } from '../../src/runtime/executor.js';
import type { TaskRunRecord } from '../../src/store/store.js';

const AT = new Date('2026-12-02T10:00:00.123Z');

function record(overrides: Partial<TaskRunRecord>): TaskRunRecord {
  return {
    runId: 'r1',
    pipelineRunId: 'p1',
    taskName: 'stg_orders',
    startedAt: new Date('2026-12-02T09:59:59.000Z'),
    finishedAt: new Date('2026-12-02T09:59:59.012Z'),
    status: 'success',
    rowsCount: 5000,
    errorMessage: null,
    errorContext: null,
    attempts: 1,
    lastProcessedAt: null,
    codeVersion: null,
    assets: [],
    ...overrides,
  };
}

const finish = (overrides: Partial<TaskRunRecord>): RunEvent => ({ type: 'finish', task: 'stg_orders', record: record(overrides) });

describe('the run log lines', () => {
  it('logs a start with its attempt', () => {
    expect(formatRunEvent({ type: 'start', task: 'stg_orders', attempt: 1 }, AT)).toBe(
      '2026-12-02T10:00:00.123Z start  stg_orders (attempt 1)',
    );
    expect(formatRunEvent({ type: 'start', task: 'stg_orders', attempt: 3 }, AT)).toBe(
      '2026-12-02T10:00:00.123Z start  stg_orders (attempt 3)',
    );
  });

  it('logs a retry with its delay and the first line of the error', () => {
    const error =
      'tasks/stg_orders.sql:2:1: Catalog Error: Table with name x does not exist!\nDid you mean "y"?\n\nLINE 1: SELECT * FROM x';
    expect(formatRunEvent({ type: 'retry', task: 'stg_orders', attempt: 1, delayMs: 1234, error }, AT)).toBe(
      '2026-12-02T10:00:00.123Z retry  stg_orders in 1.23s after attempt 1: tasks/stg_orders.sql:2:1: Catalog Error: Table with name x does not exist!',
    );
    expect(formatRunEvent({ type: 'retry', task: 'stg_orders', attempt: 2, delayMs: 12.6, error: 'boom' }, AT)).toBe(
      '2026-12-02T10:00:00.123Z retry  stg_orders in 13ms after attempt 2: boom',
    );
  });

  it('logs a success with its duration, attempts and rows', () => {
    expect(formatRunEvent(finish({}), AT)).toBe('2026-12-02T10:00:00.123Z finish stg_orders success in 12ms, 5000 rows');
    expect(formatRunEvent(finish({ rowsCount: 1, attempts: 2, finishedAt: new Date('2026-12-02T10:00:01.500Z') }), AT)).toBe(
      '2026-12-02T10:00:00.123Z finish stg_orders success in 2.50s after 2 attempts, 1 row',
    );
    expect(formatRunEvent(finish({ rowsCount: null }), AT)).toBe('2026-12-02T10:00:00.123Z finish stg_orders success in 12ms');
  });

  it('logs a failure with its attempts and the first line of the error', () => {
    expect(formatRunEvent(finish({ status: 'failed', attempts: 2, rowsCount: null, errorMessage: 'first line\nsecond line' }), AT)).toBe(
      '2026-12-02T10:00:00.123Z finish stg_orders failed after 2 attempts: first line',
    );
    expect(
      formatRunEvent(
        finish({
          status: 'failed',
          attempts: 1,
          errorMessage: "cancelled: the run was interrupted and the task's changes were rolled back",
        }),
        AT,
      ),
    ).toBe(
      "2026-12-02T10:00:00.123Z finish stg_orders failed after 1 attempt: cancelled: the run was interrupted and the task's changes were rolled back",
    );
  });

  it('logs a skip with its reason', () => {
    const skip = (errorMessage: string): RunEvent => ({
      type: 'skip',
      task: 'report',
      record: record({ taskName: 'report', status: 'skipped', startedAt: null, attempts: 0, rowsCount: null, errorMessage }),
    });
    expect(formatRunEvent(skip('skipped: upstream task `stg_orders` failed'), AT)).toBe(
      '2026-12-02T10:00:00.123Z skip   report: upstream task `stg_orders` failed',
    );
    expect(formatRunEvent(skip('skipped: the run was interrupted'), AT)).toBe(
      '2026-12-02T10:00:00.123Z skip   report: the run was interrupted',
    );
  });

  it('lines up the task names after a fixed-width event column', () => {
    const events: RunEvent[] = [
      { type: 'start', task: 't', attempt: 1 },
      { type: 'retry', task: 't', attempt: 1, delayMs: 5, error: 'e' },
      { ...finish({}), task: 't' },
      { type: 'skip', task: 't', record: record({ status: 'skipped', errorMessage: 'skipped: x' }) },
    ];
    for (const e of events) expect(formatRunEvent(e, AT).indexOf(' t')).toBe('2026-12-02T10:00:00.123Z '.length + 6);
  });
});

describe('createProgress without a progress bar', () => {
  it('writes one line per event, stamped by the clock, and nothing for the plan or the end', () => {
    const written: string[] = [];
    let tick = 0;
    const progress = createProgress(false, {
      write: (line) => written.push(line),
      clock: () => new Date(AT.getTime() + 1000 * tick++),
    });
    progress.start(['stg_orders', 'report']);
    progress.onEvent({ type: 'start', task: 'stg_orders', attempt: 1 });
    progress.onEvent(finish({ status: 'failed', errorMessage: 'boom' }));
    progress.onEvent({
      type: 'skip',
      task: 'report',
      record: record({ taskName: 'report', status: 'skipped', errorMessage: 'skipped: why' }),
    });
    progress.stop();
    expect(written).toEqual([
      '2026-12-02T10:00:00.123Z start  stg_orders (attempt 1)\n',
      '2026-12-02T10:00:01.123Z finish stg_orders failed after 1 attempt: boom\n',
      '2026-12-02T10:00:02.123Z skip   report: why\n',
    ]);
  });

  it('is what --json gets, whatever the terminal', () => {
    expect(progressEnabled(true)).toBe(false);
  });
});
