/**
 * The embedded ledger keeps a large run of independent jobs (a backfill of one asset) in memory
 * a page at a time: every job still runs exactly once and in plan order, the run's counts cover
 * the jobs not read yet, a cancel reaches them on disk, and a reopened ledger carries on.
 */
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { definitionHash, snapshotId } from '../../src/model/jobs/snapshot.js';
import { DuckDbLedger } from '../../src/store/duckdb/duckdb-ledger.js';
import { migrate } from '../../src/store/duckdb/migrate.js';
import type { RunRecord } from '../../src/store/ledger.js';
import { tempDir } from '../helpers.js';
import { makeTask } from '../model/make-task.js';

const T0 = new Date('2026-03-01T10:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const PAGE = 10;
const JOBS = 45;
const SUCCESS = { rows: 1, result: null, watermark: null, codeVersion: 'v', assets: ['main.h'] };

async function openLedger(file: string, now = T0) {
  const instance = await DuckDBInstance.create(file);
  const conn = await instance.connect();
  await migrate(conn, 'create', file);
  const [writer, reader] = [await instance.connect(), await instance.connect()];
  const ledger = await DuckDbLedger.open(writer, reader, { recover: true, now, pageSize: PAGE });
  return {
    ledger,
    /** Closed without writing what is buffered: as a process that dies. */
    crash: () => {
      for (const c of [writer, reader, conn]) c.closeSync();
      instance.closeSync();
    },
  };
}

const key = (i: number) => `p${String(i).padStart(2, '0')}`;

async function enqueueBackfill(ledger: DuckDbLedger): Promise<RunRecord> {
  const definition = makeTask('-- @task name=h\nSELECT 1');
  const hash = definitionHash(definition);
  const id = snapshotId([{ name: 'h', hash, upstream: [] }]);
  await ledger.saveSnapshot({ id, createdAt: T0, tasks: new Map([['h', { definition, hash, upstream: [] }]]) });
  return ledger.enqueueRun(
    {
      id: '22222222-0000-4000-8000-000000000001',
      snapshotId: id,
      trigger: 'backfill',
      selector: null,
      inputs: null,
      jobs: Array.from({ length: JOBS }, (_, i) => ({ task: 'h', partitionKey: key(i), upstream: [], maxAttempts: 1 })),
    },
    T0,
  );
}

/** Claims and completes everything claimable, three at a time; returns the keys in claim order and the most jobs held in memory. */
async function drain(ledger: DuckDbLedger, from: number): Promise<{ keys: string[]; peak: number }> {
  const keys: string[] = [];
  let peak = 0;
  for (let t = from; ; t += 10) {
    const claimed = await ledger.claim({ worker: 'w', limit: 3, leaseMs: 60_000, now: at(t) });
    if (claimed.length === 0) break;
    for (const job of claimed) {
      keys.push(job.partitionKey);
      await ledger.complete(job, 'w', SUCCESS, at(t + 5));
    }
    await ledger.flush();
    peak = Math.max(peak, ledger.jobsInMemory());
  }
  return { keys, peak };
}

describe('the embedded ledger, a large run of independent jobs', () => {
  it('runs every job once and in plan order, holding about a page of them in memory', async () => {
    const { ledger, crash } = await openLedger(path.join(tempDir(), 'pages.duckdb'));
    try {
      const run = await enqueueBackfill(ledger);
      expect(run.counts).toEqual({ pending: JOBS });
      expect(ledger.jobsInMemory()).toBe(PAGE);
      const { keys, peak } = await drain(ledger, 1);
      expect(keys).toEqual(Array.from({ length: JOBS }, (_, i) => key(i)));
      expect(peak).toBeLessThanOrEqual(2 * PAGE);
      const done = (await ledger.getRun(run.id))!;
      expect(done).toMatchObject({ state: 'succeeded', counts: { succeeded: JOBS } });
      expect(ledger.jobsInMemory()).toBe(0);
    } finally {
      crash();
    }
  });

  it('cancelled, cancels the jobs not read yet on disk too, and counts them', async () => {
    const { ledger, crash } = await openLedger(path.join(tempDir(), 'cancel.duckdb'));
    try {
      const run = await enqueueBackfill(ledger);
      const [first] = await ledger.claim({ worker: 'w', limit: 1, leaseMs: 60_000, now: at(1) });
      await ledger.complete(first!, 'w', SUCCESS, at(2));
      await ledger.cancelRun(run.id, 'stop', at(3));
      const after = (await ledger.getRun(run.id))!;
      expect(after).toMatchObject({ state: 'cancelled', counts: { succeeded: 1, cancelled: JOBS - 1 } });
      const jobs = await ledger.listJobs({ runId: run.id, limit: 100 });
      expect(jobs.filter((j) => j.state === 'cancelled')).toHaveLength(JOBS - 1);
      expect(await ledger.claim({ worker: 'w', limit: 100, leaseMs: 60_000, now: at(4) })).toEqual([]);
    } finally {
      crash();
    }
  });

  it('reopened after its process died, carries on from what was written: each job once', async () => {
    const file = path.join(tempDir(), 'crash.duckdb');
    const first = await openLedger(file);
    const run = await enqueueBackfill(first.ledger);
    const done: string[] = [];
    for (const job of await first.ledger.claim({ worker: 'w', limit: 12, leaseMs: 60_000, now: at(1) })) {
      done.push(job.partitionKey);
      await first.ledger.complete(job, 'w', SUCCESS, at(2));
    }
    await first.ledger.flush();
    // Claimed, never finished, never written: lost with the process.
    await first.ledger.claim({ worker: 'w', limit: 3, leaseMs: 60_000, now: at(3) });
    first.crash();

    const again = await openLedger(file, at(100));
    try {
      expect((await again.ledger.getRun(run.id))!.counts).toEqual({ succeeded: done.length, pending: JOBS - done.length });
      const { keys } = await drain(again.ledger, 101);
      expect([...done, ...keys].sort()).toEqual(Array.from({ length: JOBS }, (_, i) => key(i)));
      expect((await again.ledger.getRun(run.id))!).toMatchObject({ state: 'succeeded', counts: { succeeded: JOBS } });
    } finally {
      again.crash();
    }
  });
});
