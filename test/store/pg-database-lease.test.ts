/**
 * The PostgreSQL ledger's per-database leases and completion markers, at the port: one worker at
 * a time holds a DuckDB database; claims give a database's jobs only to its holder (jobs of no
 * database to anyone); a success commits its data with a marker, and a completion that does not
 * reach the ledger after that says so instead of passing for a failed task.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import pg from 'pg';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { definitionHash, snapshotId } from '../../src/model/jobs/snapshot.js';
import { findCompletionMarker } from '../../src/store/duckdb/completion-markers.js';
import { readDatabaseId } from '../../src/store/duckdb/database-identity.js';
import { migrate } from '../../src/store/duckdb/migrate.js';
import type { Snapshot } from '../../src/store/ledger.js';
import { PgLedger } from '../../src/store/postgres/pg-ledger.js';
import { makeTask } from '../model/make-task.js';
import { PG_START_TIMEOUT, freshSchema, pgDatabase, postgresAvailable } from '../pg.js';

const T0 = new Date('2026-03-01T10:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const LEASE = 10_000;

async function ledger(): Promise<PgLedger> {
  const { url, schema } = await freshSchema();
  const pool = new pg.Pool({ connectionString: url, max: 3 });
  onTestFinished(() => pool.end());
  const l = new PgLedger(pool, { schema });
  await l.migrate();
  return l;
}

async function enqueue(l: PgLedger, jobs: Array<{ task: string; database?: string }>): Promise<void> {
  const tasks = new Map(
    jobs.map(({ task }) => {
      const definition = { ...makeTask(`-- @task name=${task}\nSELECT 1`), name: task };
      return [task, { definition, hash: definitionHash(definition), upstream: [] as string[] }] as const;
    }),
  );
  const snapshot: Snapshot = {
    id: snapshotId([...tasks].map(([name, t]) => ({ name, hash: t.hash, upstream: t.upstream }))),
    createdAt: T0,
    tasks,
  };
  await l.saveSnapshot(snapshot);
  await l.enqueueRun(
    {
      id: crypto.randomUUID(),
      snapshotId: snapshot.id,
      trigger: 'test',
      selector: null,
      inputs: null,
      jobs: jobs.map((j) => ({ task: j.task, upstream: [], maxAttempts: 1, ...(j.database ? { database: j.database } : {}) })),
    },
    T0,
  );
}

describe.skipIf(!postgresAvailable().ok)('PostgreSQL ledger: database leases and completion markers', () => {
  beforeAll(() => pgDatabase(), PG_START_TIMEOUT);

  it('a database is held by one worker at a time: renewed by it, taken by another only once expired, given back', async () => {
    const l = await ledger();
    expect(await l.holdDatabase('db1', 'w1', LEASE, T0)).toEqual({ database: 'db1', worker: 'w1', expiresAt: at(LEASE) });
    // Another worker is told who holds it, and until when.
    expect(await l.holdDatabase('db1', 'w2', LEASE, at(1000))).toEqual({ database: 'db1', worker: 'w1', expiresAt: at(LEASE) });
    // Other databases are held independently.
    expect((await l.holdDatabase('db2', 'w2', LEASE, at(1000))).worker).toBe('w2');
    // The holder renews.
    expect(await l.holdDatabase('db1', 'w1', LEASE, at(5000))).toEqual({ database: 'db1', worker: 'w1', expiresAt: at(5000 + LEASE) });
    expect((await l.holdDatabase('db1', 'w2', LEASE, at(5000 + LEASE - 1))).worker).toBe('w1');
    // Expired: anyone's. The old holder's renewal now tells it it lost the database.
    expect((await l.holdDatabase('db1', 'w2', LEASE, at(5000 + LEASE))).worker).toBe('w2');
    expect((await l.holdDatabase('db1', 'w1', LEASE, at(5000 + LEASE + 1))).worker).toBe('w2');
    // Only the holder gives it back.
    await l.releaseDatabase('db1', 'w1');
    expect((await l.holdDatabase('db1', 'w3', LEASE, at(5000 + LEASE + 2))).worker).toBe('w2');
    await l.releaseDatabase('db1', 'w2');
    expect((await l.holdDatabase('db1', 'w3', LEASE, at(5000 + LEASE + 3))).worker).toBe('w3');
  });

  it('claims give a database’s jobs only to a worker holding it, jobs of no database to any, and nextDue agrees', async () => {
    const l = await ledger();
    await enqueue(l, [{ task: 'sql_1', database: 'db1' }, { task: 'sql_2', database: 'db2' }, { task: 'dag_task' }]);
    expect(await l.nextDue({ databases: new Set() })).toEqual(T0);
    const none = await l.claim({ worker: 'w0', limit: 10, leaseMs: LEASE, now: T0, databases: new Set() });
    expect(none.map((j) => [j.task, j.database])).toEqual([['dag_task', null]]);
    // Nothing left for a worker that holds no database, though jobs wait.
    expect(await l.nextDue({ databases: new Set() })).toBeUndefined();
    expect(await l.claim({ worker: 'w0', limit: 10, leaseMs: LEASE, now: T0, databases: new Set() })).toEqual([]);
    const one = await l.claim({ worker: 'w1', limit: 10, leaseMs: LEASE, now: T0, databases: new Set(['db1']) });
    expect(one.map((j) => [j.task, j.database])).toEqual([['sql_1', 'db1']]);
    // Without a filter (the embedded ledger's callers, `run` working its own run): every job.
    expect((await l.claim({ worker: 'w2', limit: 10, leaseMs: LEASE, now: T0 })).map((j) => j.task)).toEqual(['sql_2']);
  });

  it('a run whose job another worker holds is due when that lease runs out (a process working the run waits for it)', async () => {
    const l = await ledger();
    await enqueue(l, [{ task: 'a' }, { task: 'b' }]);
    const [run] = await l.listRuns(1);
    const taken = await l.claim({ worker: 'gone', limit: 1, leaseMs: LEASE, now: T0 });
    expect(taken).toHaveLength(1);
    // One job still waits: due now.
    expect(await l.nextDue({ runId: run!.id })).toEqual(T0);
    await l.claim({ worker: 'here', limit: 1, leaseMs: 2 * LEASE, now: at(1) });
    // Both held: the run is not done; the earlier lease is when one may come back.
    expect(await l.nextDue({ runId: run!.id })).toEqual(at(LEASE));
    // Without the run, nothing is claimable.
    expect(await l.nextDue()).toBeUndefined();
  });

  it('a success commits its data with a completion marker; a completion that then fails says the data committed', async () => {
    const l = await ledger();
    await enqueue(l, [
      { task: 'kept', database: 'db1' },
      { task: 'taken', database: 'db1' },
    ]);
    const instance = await DuckDBInstance.create(':memory:');
    onTestFinished(() => instance.closeSync());
    const conn = await instance.connect();
    onTestFinished(() => conn.closeSync());
    await migrate(conn, 'create', ':memory:');
    expect(await readDatabaseId(conn)).toMatch(/^[0-9a-f-]{36}$/);
    await conn.run('CREATE TABLE data (n INTEGER)');
    const jobs = await l.claim({ worker: 'w1', limit: 10, leaseMs: LEASE, now: T0, databases: new Set(['db1']) });
    const kept = jobs.find((j) => j.task === 'kept')!;
    const taken = jobs.find((j) => j.task === 'taken')!;
    const outcome = { rows: 1, result: null, watermark: 'w', codeVersion: 'v1', assets: ['data'] };

    await conn.run('BEGIN TRANSACTION; INSERT INTO data VALUES (1)');
    await l.complete(kept, 'w1', outcome, at(10), { connection: conn });
    expect((await l.listJobs({ limit: 10, task: 'kept' }))[0]!.state).toBe('succeeded');
    expect(await findCompletionMarker(conn, kept.id)).toEqual({ attempt: 1, committedAt: at(10), outcome });

    // The worker stalled: its lease ran out and the job went back to the queue.
    expect(await l.reapExpired(at(LEASE + 1))).toBe(1);
    await conn.run('BEGIN TRANSACTION; INSERT INTO data VALUES (2)');
    const failed = l.complete(taken, 'w1', outcome, at(LEASE + 2), { connection: conn });
    await expect(failed).rejects.toMatchObject({ code: 'LEASE_LOST' });
    await expect(failed).rejects.toThrow(/committed its data, but its completion was not recorded.*recorded from its completion marker/);
    // The data and its marker committed together: the job's next worker records it from there.
    expect((await conn.runAndReadAll('SELECT n FROM data ORDER BY n')).getRows()).toEqual([[1], [2]]);
    expect((await findCompletionMarker(conn, taken.id))?.attempt).toBe(1);
    expect(await findCompletionMarker(conn, 'no-such-job')).toBeUndefined();
  });
});
