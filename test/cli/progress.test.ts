import { describe, expect, it } from 'vitest';
import { createProgress, formatRunEvent, progressEnabled } from '../../src/interfaces/cli/progress.js';
import type { RunEvent } from '../../src/runtime/worker.js';
import type { JobRecord } from '../../src/store/ledger.js';

const AT = new Date('2026-12-02T10:00:00.123Z');

function job(overrides: Partial<JobRecord>): JobRecord {
  return {
    id: 'j1',
    runId: 'p1',
    task: 'stg_orders',
    partitionKey: '__default__',
    state: 'succeeded',
    attempts: 1,
    maxAttempts: 1,
    runAt: new Date('2026-12-02T09:59:58.000Z'),
    leaseOwner: null,
    leaseExpiresAt: null,
    createdAt: new Date('2026-12-02T09:59:58.000Z'),
    startedAt: new Date('2026-12-02T09:59:59.000Z'),
    finishedAt: new Date('2026-12-02T09:59:59.012Z'),
    rows: 5000,
    result: null,
    watermark: null,
    error: null,
    errorContext: null,
    codeVersion: null,
    upstream: [],
    cancelRequested: false,
    ...overrides,
  };
}

const finish = (overrides: Partial<JobRecord>): RunEvent => ({ type: 'finish', task: 'stg_orders', job: job(overrides) });
const skip = (overrides: Partial<JobRecord>): RunEvent => ({
  type: 'skip',
  task: 'report',
  job: job({ task: 'report', startedAt: null, finishedAt: null, attempts: 0, rows: null, ...overrides }),
});

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
    expect(formatRunEvent(finish({}), AT)).toBe('2026-12-02T10:00:00.123Z finish stg_orders succeeded in 12ms, 5000 rows');
    expect(formatRunEvent(finish({ rows: 1, attempts: 2, finishedAt: new Date('2026-12-02T10:00:01.500Z') }), AT)).toBe(
      '2026-12-02T10:00:00.123Z finish stg_orders succeeded in 2.50s after 2 attempts, 1 row',
    );
    expect(formatRunEvent(finish({ rows: null }), AT)).toBe('2026-12-02T10:00:00.123Z finish stg_orders succeeded in 12ms');
  });

  it('logs a failure with its attempts and the first line of the error', () => {
    expect(formatRunEvent(finish({ state: 'dead', attempts: 2, rows: null, error: 'first line\nsecond line' }), AT)).toBe(
      '2026-12-02T10:00:00.123Z finish stg_orders dead after 2 attempts: first line',
    );
    expect(formatRunEvent(finish({ state: 'cancelled', attempts: 1, rows: null, error: 'the run was cancelled while it ran' }), AT)).toBe(
      '2026-12-02T10:00:00.123Z finish stg_orders cancelled after 1 attempt: the run was cancelled while it ran',
    );
  });

  it('logs a job that ended without running with its state and reason', () => {
    expect(formatRunEvent(skip({ state: 'blocked', error: 'upstream task `stg_orders` failed\nmore' }), AT)).toBe(
      '2026-12-02T10:00:00.123Z skip   report blocked: upstream task `stg_orders` failed',
    );
    expect(formatRunEvent(skip({ state: 'cancelled', error: 'upstream task `stg_orders` was cancelled' }), AT)).toBe(
      '2026-12-02T10:00:00.123Z skip   report cancelled: upstream task `stg_orders` was cancelled',
    );
    expect(formatRunEvent(skip({ state: 'skipped', error: "task `report` is not in the run's snapshot" }), AT)).toBe(
      "2026-12-02T10:00:00.123Z skip   report skipped: task `report` is not in the run's snapshot",
    );
  });

  it('lines up the task names after a fixed-width event column', () => {
    const events: RunEvent[] = [
      { type: 'start', task: 't', attempt: 1 },
      { type: 'retry', task: 't', attempt: 1, delayMs: 5, error: 'e' },
      { ...finish({}), task: 't' },
      { ...skip({ state: 'blocked', error: 'x' }), task: 't' },
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
    progress.onEvent(finish({ state: 'dead', error: 'boom' }));
    progress.onEvent(skip({ state: 'blocked', error: 'why' }));
    progress.stop();
    expect(written).toEqual([
      '2026-12-02T10:00:00.123Z start  stg_orders (attempt 1)\n',
      '2026-12-02T10:00:01.123Z finish stg_orders dead after 1 attempt: boom\n',
      '2026-12-02T10:00:02.123Z skip   report blocked: why\n',
    ]);
  });

  it('is what --json gets, whatever the terminal', () => {
    expect(progressEnabled(true)).toBe(false);
  });
});
