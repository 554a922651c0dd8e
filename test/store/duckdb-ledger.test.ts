import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { definitionHash, snapshotId } from '../../src/model/jobs/snapshot.js';
import { DuckDbStore } from '../../src/store/duckdb/duckdb-store.js';
import type { Ledger } from '../../src/store/ledger.js';
import { tempDir } from '../helpers.js';
import { makeTask } from '../model/make-task.js';
import { ledgerConformance } from './ledger-conformance.js';

async function openStore(file: string, now = new Date('2026-03-01T09:00:00Z')) {
  const instance = await DuckDBInstance.create(file);
  const store = await DuckDbStore.open(instance, 'create', file, now);
  return {
    instance,
    store,
    ledger: store.ledger as Ledger,
    close: async () => {
      await store.close();
      instance.closeSync();
    },
  };
}

ledgerConformance('embedded DuckDB', async () => openStore(path.join(tempDir(), 'ledger.duckdb')));

const T0 = new Date('2026-03-01T10:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

async function oneJobRun(ledger: Ledger) {
  const definition = makeTask('-- @task name=load\nSELECT 1');
  const hash = definitionHash(definition);
  const id = snapshotId([{ name: 'load', hash, upstream: [] }]);
  await ledger.saveSnapshot({ id, createdAt: T0, tasks: new Map([['load', { definition, hash, upstream: [] }]]) });
  return ledger.enqueueRun(
    {
      id: '11111111-0000-4000-8000-000000000001',
      snapshotId: id,
      trigger: 'test',
      selector: null,
      inputs: null,
      jobs: [{ task: 'load', upstream: [], maxAttempts: 1 }],
    },
    T0,
  );
}

describe('the embedded ledger', () => {
  it('commits a success in the task’s own transaction: the data and the record of it together', async () => {
    const file = path.join(tempDir(), 'tx.duckdb');
    const h = await openStore(file);
    try {
      await oneJobRun(h.ledger);
      const [job] = await h.ledger.claim({ worker: 'w', limit: 1, leaseMs: 60_000, now: T0 });
      const conn = await h.instance.connect();
      await conn.run('BEGIN TRANSACTION');
      await conn.run('CREATE TABLE loaded AS SELECT 42 AS x');
      await h.ledger.complete(job!, 'w', { rows: 1, result: null, watermark: '7', codeVersion: 'v', assets: ['main.loaded'] }, at(5), {
        connection: conn,
      });
      // `complete` committed the transaction: the table and the journalled record are durable together.
      const rows = await conn.runAndReadAll(
        'SELECT (SELECT x FROM loaded), (SELECT count(*) FROM __orch__.ledger_journal), (SELECT count(*) FROM __orch__.attempts)',
      );
      expect(rows.getRows()[0]).toEqual([42, 1n, 0n]);
      // A flush moves the journal into the typed attempts table.
      await h.ledger.flush();
      const moved = await conn.runAndReadAll(
        'SELECT (SELECT count(*) FROM __orch__.ledger_journal) AS journal, outcome, rows_count, last_processed_at, assets, started_at FROM __orch__.attempts',
      );
      expect(moved.getRowObjectsJS()).toEqual([
        {
          journal: 0n,
          outcome: 'succeeded',
          rows_count: 1n,
          last_processed_at: '7',
          assets: ['main.loaded'],
          started_at: T0,
        },
      ]);
      conn.closeSync();
    } finally {
      await h.close();
    }
  });

  it('after a crash: a committed success is folded in, a job in flight goes back to pending keeping its start time', async () => {
    const file = path.join(tempDir(), 'crash.duckdb');
    const first = await openStore(file);
    await oneJobRun(first.ledger);
    const second = await first.ledger.enqueueRun(
      {
        id: '11111111-0000-4000-8000-000000000002',
        snapshotId: (await first.ledger.listRuns(1))[0]!.snapshotId!,
        trigger: 'test',
        selector: null,
        inputs: null,
        jobs: [{ task: 'load', upstream: [], maxAttempts: 1 }],
      },
      at(1),
    );
    const claimed = await first.ledger.claim({ worker: 'dying', limit: 2, leaseMs: 60_000, now: at(2) });
    expect(claimed).toHaveLength(2);
    await first.ledger.flush(); // the claims reach the file, as the periodic flush would have done
    const done = claimed.find((j) => j.runId !== second.id)!;
    const conn = await first.instance.connect();
    await conn.run('BEGIN TRANSACTION');
    await first.ledger.complete(done, 'dying', { rows: 3, result: null, watermark: 'w1', codeVersion: 'v', assets: ['main.t'] }, at(3), {
      connection: conn,
    });
    conn.closeSync();
    // Die without flushing: the success's attempt row is committed, the job row still says processing.
    first.instance.closeSync();

    const again = await openStore(file, at(10_000));
    try {
      const jobs = await again.ledger.listJobs({ limit: 10 });
      const succeeded = jobs.find((j) => j.id === done.id)!;
      expect(succeeded).toMatchObject({ state: 'succeeded', rows: 3, watermark: 'w1', finishedAt: at(3) });
      expect(await again.ledger.lastWatermark('load')).toBe('w1');
      expect((await again.ledger.assetStates('main.t'))[0]).toMatchObject({ status: 'succeeded', rows: 3 });
      const lostJob = jobs.find((j) => j.runId === second.id)!;
      expect(lostJob).toMatchObject({ state: 'pending', attempts: 0, leaseOwner: null });
      const attempts = await again.ledger.listAttempts([lostJob.id]);
      expect(attempts.map((a) => [a.outcome, a.worker, a.startedAt])).toEqual([['lost', 'dying', at(2)]]);
      expect(await again.ledger.getRun(second.id)).toMatchObject({ state: 'running', counts: { pending: 1 } });
      expect((await again.ledger.claim({ worker: 'next', limit: 5, leaseMs: 60_000, now: at(10_001) })).map((j) => j.id)).toEqual([
        lostJob.id,
      ]);
    } finally {
      await again.close();
    }
  });

  it('a flush that fails keeps its batch for the next one', async () => {
    const h = await openStore(path.join(tempDir(), 'retry-flush.duckdb'));
    try {
      await oneJobRun(h.ledger);
      const [job] = await h.ledger.claim({ worker: 'w', limit: 1, leaseMs: 60_000, now: T0 });
      await h.ledger.complete(job!, 'w', { rows: 2, result: null, watermark: null, codeVersion: 'v', assets: ['main.t'] }, at(1));
      const conn = await h.instance.connect();
      await conn.run('ALTER TABLE __orch__.asset_materializations RENAME TO hidden');
      await expect(h.ledger.flush()).rejects.toThrow(/asset_materializations/);
      await conn.run('ALTER TABLE __orch__.hidden RENAME TO asset_materializations');
      await h.ledger.flush();
      expect((await conn.runAndReadAll('SELECT asset_name, rows FROM __orch__.asset_materializations')).getRows()).toEqual([
        ['main.t', 2n],
      ]);
      expect((await conn.runAndReadAll('SELECT state FROM __orch__.jobs')).getRows()).toEqual([['succeeded']]);
      conn.closeSync();
    } finally {
      await h.close();
    }
  });

  it('keeps the spec’s `__orch__.runs` view and `asset_materializations` answering with their columns', async () => {
    const h = await openStore(path.join(tempDir(), 'views.duckdb'));
    try {
      const run = await oneJobRun(h.ledger);
      const [job] = await h.ledger.claim({ worker: 'w', limit: 1, leaseMs: 60_000, now: T0 });
      await h.ledger.complete(job!, 'w', { rows: 5, result: null, watermark: null, codeVersion: 'v', assets: ['main.t'] }, at(4));
      await h.ledger.flush();
      const conn = await h.instance.connect();
      const runs = (
        await conn.runAndReadAll(
          'SELECT run_id, pipeline_run_id, task_name, status, rows_count, retry_count, partition_key FROM __orch__.runs',
        )
      ).getRowObjectsJS();
      expect(runs).toEqual([
        {
          run_id: job!.id,
          pipeline_run_id: run.id,
          task_name: 'load',
          status: 'success',
          rows_count: 5n,
          retry_count: 0,
          partition_key: '__default__',
        },
      ]);
      const mats = (
        await conn.runAndReadAll(
          'SELECT asset_name, partition_key, run_id, job_id, attempt, rows, bytes, status FROM __orch__.asset_materializations',
        )
      ).getRowObjectsJS();
      expect(mats).toEqual([
        {
          asset_name: 'main.t',
          partition_key: '__default__',
          run_id: run.id,
          job_id: job!.id,
          attempt: 1,
          rows: 5n,
          bytes: null,
          status: 'succeeded',
        },
      ]);
      conn.closeSync();
    } finally {
      await h.close();
    }
  });
});
