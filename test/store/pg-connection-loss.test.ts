/**
 * The PostgreSQL ledger when its connections break: a statement cut off by a lost connection
 * fails as DB_UNAVAILABLE (what workers retry), a statement PostgreSQL refuses keeps its own
 * error, the LISTEN connection comes back by itself, and a completion sent again after its reply
 * was lost is this worker's success without being applied twice.
 */
import pg from 'pg';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { DuckorchError } from '../../src/errors.js';
import { definitionHash, snapshotId } from '../../src/model/jobs/snapshot.js';
import type { Ledger, Snapshot } from '../../src/store/ledger.js';
import { isConnectionError } from '../../src/store/postgres/connect.js';
import { PgLedger } from '../../src/store/postgres/pg-ledger.js';
import { makeTask } from '../model/make-task.js';
import { PG_START_TIMEOUT, closedPort, freshSchema, pgDatabase, postgresAvailable } from '../pg.js';

const T0 = new Date('2026-03-01T10:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const LEASE = 60_000;
const success = { rows: 1, result: null, watermark: null, codeVersion: 'v1', assets: [] as string[] };

async function enqueue(ledger: Ledger, names: string[]): Promise<string> {
  const tasks = new Map(
    names.map((name) => {
      const definition = { ...makeTask(`-- @task name=${name}\nSELECT 1`), name };
      return [name, { definition, hash: definitionHash(definition), upstream: [] as string[] }] as const;
    }),
  );
  const snapshot: Snapshot = {
    id: snapshotId([...tasks].map(([name, t]) => ({ name, hash: t.hash, upstream: t.upstream }))),
    createdAt: T0,
    tasks,
  };
  await ledger.saveSnapshot(snapshot);
  const run = await ledger.enqueueRun(
    {
      id: crypto.randomUUID(),
      snapshotId: snapshot.id,
      trigger: 'test',
      selector: null,
      inputs: null,
      jobs: names.map((task) => ({ task, upstream: [], maxAttempts: 1 })),
    },
    T0,
  );
  return run.id;
}

describe('what counts as a lost connection', () => {
  it('socket failures, a server going away or not back yet, and node-postgres’s dropped connections; not refused statements', () => {
    const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });
    for (const lost of [
      coded('ECONNREFUSED'),
      coded('ECONNRESET'),
      coded('57P01', 'terminating connection due to administrator command'),
      coded('57P03', 'the database system is starting up'),
      coded('08006'),
      new Error('Connection terminated unexpectedly'),
      new Error('Client has encountered a connection error and is not queryable'),
      new Error('wrapped', { cause: coded('ECONNRESET') }),
      new DuckorchError('DB_UNAVAILABLE', 'lost the connection to PostgreSQL'),
    ])
      expect(isConnectionError(lost), String(lost)).toBe(true);
    for (const refused of [
      coded('42P01', 'relation "jobs" does not exist'),
      coded('42601', 'syntax error'),
      coded('57014', 'canceling statement due to statement timeout'),
      coded('23505', 'duplicate key value'),
      new DuckorchError('LEASE_LOST', 'job j was not held by w'),
      new Error('something else'),
      'a string',
      null,
    ])
      expect(isConnectionError(refused), String(refused)).toBe(false);
  });

  it('a ledger whose server cannot be reached fails with DB_UNAVAILABLE, naming host and port', async () => {
    const port = await closedPort();
    const pool = new pg.Pool({ connectionString: `postgresql://me:secret@127.0.0.1:${port}/x`, max: 1 });
    pool.on('error', () => undefined);
    const ledger = new PgLedger(pool, { schema: 'nowhere' });
    try {
      const claim = await ledger.claim({ worker: 'w', limit: 1, leaseMs: LEASE, now: T0 }).catch((e: unknown) => e);
      expect(claim).toBeInstanceOf(DuckorchError);
      expect((claim as DuckorchError).code).toBe('DB_UNAVAILABLE');
      expect((claim as DuckorchError).message).toMatch(
        new RegExp(`^lost the connection to PostgreSQL at 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`),
      );
      expect((claim as DuckorchError).message).not.toContain('secret');
      // Transactions (here a reap) fail the same way.
      await expect(ledger.reapExpired(T0)).rejects.toMatchObject({ code: 'DB_UNAVAILABLE' });
    } finally {
      await pool.end();
    }
  });
});

describe.skipIf(!postgresAvailable().ok)('the PostgreSQL ledger when connections break', { timeout: 60_000 }, () => {
  beforeAll(() => pgDatabase(), PG_START_TIMEOUT);

  async function open(): Promise<{ ledger: PgLedger; admin: pg.Client; schema: string }> {
    const { url, schema } = await freshSchema();
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    pool.on('error', () => undefined);
    const admin = new pg.Client({ connectionString: url });
    admin.on('error', () => undefined);
    await admin.connect();
    // Registered after freshSchema(): they run first, so the schema's drop finds no connection on it.
    onTestFinished(async () => {
      await admin.end().catch(() => undefined);
      await pool.end();
    });
    const ledger = new PgLedger(pool, { schema });
    await ledger.migrate();
    return { ledger, admin, schema };
  }

  /** Polls the server (a state row, not a time). */
  async function until(what: string, condition: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('a statement whose connection is terminated under it fails with DB_UNAVAILABLE; a refused one keeps its error', async () => {
    const { ledger, admin, schema } = await open();
    await admin.query('BEGIN');
    await admin.query(`LOCK TABLE "${schema}".jobs IN ACCESS EXCLUSIVE MODE`);
    const waiting = ledger.queueDepth().catch((e: unknown) => e);
    let pid: number | undefined;
    await until('the ledger’s statement to wait for the lock', async () => {
      // Inside a transaction pg_stat_activity is a snapshot taken once: look afresh each time.
      await admin.query('SELECT pg_stat_clear_snapshot()');
      const r = await admin.query(
        `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1 AND pid <> pg_backend_pid()`,
        [`%"${schema}".jobs%`],
      );
      pid = (r.rows[0] as { pid: number } | undefined)?.pid;
      return pid !== undefined;
    });
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    await admin.query('ROLLBACK');
    const err = await waiting;
    expect(err).toBeInstanceOf(DuckorchError);
    expect((err as DuckorchError).code).toBe('DB_UNAVAILABLE');
    expect((err as DuckorchError).message).toMatch(/^lost the connection to PostgreSQL at [^:]+:\d+: terminating connection/);
    // The pool replaced the broken connection: the next call works.
    expect(await ledger.queueDepth()).toEqual({});

    await admin.query(`DROP TABLE "${schema}".attempts CASCADE`);
    const refused = await ledger.listAttempts(['x']).catch((e: unknown) => e);
    expect((refused as { code?: string }).code).toBe('42P01');
  });

  it('the LISTEN connection comes back after it is terminated, and wakes the subscriber again', async () => {
    const { ledger, admin, schema } = await open();
    const listeners = async () =>
      (
        await admin.query(`SELECT pid FROM pg_stat_activity WHERE query = $1 AND pid <> pg_backend_pid()`, [`LISTEN "${schema}_jobs"`])
      ).rows.map((r: { pid: number }) => r.pid);
    let calls = 0;
    const unsubscribe = await ledger.subscribe(() => calls++);
    try {
      const [first] = await listeners();
      expect(first).toBeDefined();
      await admin.query('SELECT pg_terminate_backend($1)', [first]);
      // Back on a new backend; the subscriber is told once, for what it may have missed meanwhile.
      await until('a new LISTEN connection', async () => {
        const now = await listeners();
        return now.length === 1 && now[0] !== first;
      });
      await until('the subscriber told of the reconnection', async () => calls >= 1);
      const before = calls;
      await enqueue(ledger, ['a']);
      await until('a notification on the new connection', async () => calls > before);
    } finally {
      await unsubscribe();
    }
    await until('the LISTEN connection closed', async () => (await listeners()).length === 0);
  });

  it('a completion sent again after its reply was lost succeeds once; a late one on a job taken back is LEASE_LOST', async () => {
    const { ledger, admin, schema } = await open();
    const runId = await enqueue(ledger, ['a', 'b']);
    const claimed = await ledger.claim({ worker: 'w1', limit: 2, leaseMs: LEASE, now: T0 });
    const a = claimed.find((j) => j.task === 'a')!;
    const b = claimed.find((j) => j.task === 'b')!;
    await ledger.complete(a, 'w1', success, at(1));
    // The same completion again, as a worker sends it when the connection broke before the reply.
    await ledger.complete(a, 'w1', { ...success, rows: 99 }, at(2));
    const attempts = await admin.query(`SELECT outcome, rows_count FROM "${schema}".attempts WHERE job_id = $1`, [a.id]);
    expect(attempts.rows).toEqual([{ outcome: 'succeeded', rows_count: '1' }]);
    expect((await ledger.listJobs({ runId, limit: 10 })).find((j) => j.task === 'a')).toMatchObject({ state: 'succeeded', rows: 1 });
    // Another worker's success is not this one's.
    await expect(ledger.complete(a, 'w2', success, at(3))).rejects.toMatchObject({ code: 'LEASE_LOST' });
    // A batch of completions (with the next claim) sent again: recorded once, not lost, and it claims nothing more.
    const [c1, c2] = await Promise.all([enqueue(ledger, ['c1']), enqueue(ledger, ['c2'])]).then(() =>
      ledger.claim({ worker: 'w1', limit: 2, leaseMs: LEASE, now: at(4) }),
    );
    const batch = [c1!, c2!].map((job) => ({ job, outcome: success }));
    const first = await ledger.completeAndClaim('w1', batch, at(5), { worker: 'w1', limit: 2, leaseMs: LEASE, now: at(5) });
    expect(first.lost).toEqual([]);
    const resent = await ledger.completeAndClaim('w1', batch, at(6), { worker: 'w1', limit: 2, leaseMs: LEASE, now: at(6) });
    expect(resent).toEqual({ claimed: [], lost: [] });
    expect(
      await admin.query(`SELECT count(*)::int AS n FROM "${schema}".attempts WHERE outcome = 'succeeded' AND job_id = ANY($1)`, [
        [c1!.id, c2!.id],
      ]),
    ).toMatchObject({ rows: [{ n: 2 }] });
    // Another worker's batch with them is lost for it.
    expect((await ledger.completeAndClaim('w2', batch, at(7), { worker: 'w2', limit: 2, leaseMs: LEASE, now: at(7) })).lost.sort()).toEqual(
      [c1!.id, c2!.id].sort(),
    );

    // b's lease runs out while w1 cannot reach the server; w2 takes it back and holds it.
    expect(await ledger.reapExpired(at(LEASE + 1))).toBe(1);
    const [again] = await ledger.claim({ worker: 'w2', limit: 1, leaseMs: LEASE, now: at(LEASE + 2) });
    expect(again?.id).toBe(b.id);
    await expect(ledger.complete(b, 'w1', success, at(LEASE + 3))).rejects.toMatchObject({ code: 'LEASE_LOST' });
    await expect(
      ledger.fail(
        b,
        'w1',
        { error: 'late', errorContext: {}, retryable: true, retryDelayMs: 0, assets: [], codeVersion: 'v1' },
        at(LEASE + 3),
      ),
    ).rejects.toMatchObject({ code: 'LEASE_LOST', message: expect.stringMatching(/is processing and leased to w2, not held by w1/) });
    await ledger.complete(again!, 'w2', success, at(LEASE + 4));
    const outcomes = await admin.query(`SELECT outcome, worker FROM "${schema}".attempts WHERE job_id = $1 ORDER BY attempt_seq`, [b.id]);
    expect(outcomes.rows).toEqual([
      { outcome: 'lost', worker: 'w1' },
      { outcome: 'succeeded', worker: 'w2' },
    ]);
  });
});
