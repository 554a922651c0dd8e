import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { DuckorchError } from '../../src/errors.js';
import { PgLedger } from '../../src/store/postgres/pg-ledger.js';
import { PG_MIGRATIONS, quoteIdent } from '../../src/store/postgres/schema.js';
import { PG_START_TIMEOUT, freshSchema, pgDatabase, postgresAvailable } from '../pg.js';
import { ledgerConformance } from './ledger-conformance.js';

describe.skipIf(!postgresAvailable().ok)('PostgreSQL ledger', () => {
  beforeAll(() => pgDatabase(), PG_START_TIMEOUT);

  ledgerConformance('PostgreSQL', async () => {
    const { url, schema, drop } = await freshSchema();
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    const ledger = new PgLedger(pool, { schema });
    await ledger.migrate();
    return {
      ledger,
      close: async () => {
        await pool.end();
        await drop();
      },
    };
  });

  it('completes batches while heartbeats renew the same jobs and two sinks wait for them all, without a deadlock', async () => {
    const { url, schema, drop } = await freshSchema();
    const pool = new pg.Pool({ connectionString: url, max: 8 });
    try {
      const ledger = new PgLedger(pool, { schema });
      await ledger.migrate();
      const leaves = Array.from({ length: 40 }, (_, i) => `leaf_${i}`);
      const snapshot = { id: 'sha256:fan', createdAt: new Date(), tasks: new Map() };
      await ledger.saveSnapshot(snapshot);
      const run = await ledger.enqueueRun(
        {
          id: '00000000-0000-4000-8000-00000000fa40',
          snapshotId: snapshot.id,
          trigger: 'test',
          selector: null,
          inputs: null,
          jobs: [
            ...leaves.map((task) => ({ task, upstream: [], maxAttempts: 1 })),
            { task: 'sink_a', upstream: leaves, maxAttempts: 1 },
            { task: 'sink_b', upstream: leaves, maxAttempts: 1 },
          ],
        },
        new Date(),
      );
      const now = () => new Date();
      const claimed = await ledger.claim({ worker: 'w', limit: 40, leaseMs: 60_000, now: now(), runId: run.id });
      expect(claimed).toHaveLength(40);
      // Batches in descending id order (the reverse of a heartbeat's), completed concurrently with heartbeats of all.
      const byIdDesc = [...claimed].sort((a, b) => (a.id < b.id ? 1 : -1));
      const batches = Array.from({ length: 10 }, (_, i) => byIdDesc.slice(i * 4, i * 4 + 4));
      const success = { rows: null, result: null, watermark: null, codeVersion: null, assets: [] as string[] };
      const next = { worker: 'w', limit: 0, leaseMs: 60_000, now: now(), runId: run.id, tasks: new Set(['none']) };
      await Promise.all([
        ...batches.map((b) =>
          ledger.completeAndClaim(
            'w',
            b.map((job) => ({ job, outcome: success })),
            now(),
            next,
          ),
        ),
        ...Array.from({ length: 10 }, () =>
          ledger.heartbeat(
            'w',
            claimed.map((j) => j.id),
            60_000,
            now(),
          ),
        ),
      ]);
      const sinks = await ledger.claim({ worker: 'w', limit: 5, leaseMs: 60_000, now: now(), runId: run.id });
      expect(sinks.map((j) => j.task).sort()).toEqual(['sink_a', 'sink_b']);
    } finally {
      await pool.end();
      await drop();
    }
  });

  describe('migrations', () => {
    const withSchema = (title: string, fn: (pool: pg.Pool, schema: string) => Promise<void>) =>
      it(title, async () => {
        const { url, schema, drop } = await freshSchema();
        const pool = new pg.Pool({ connectionString: url, max: 2 });
        try {
          await fn(pool, schema);
        } finally {
          await pool.end();
          await drop();
        }
      });

    withSchema('brings a schema of the first version up to date, its unfinished runs still running', async (pool, schema) => {
      const s = quoteIdent(schema);
      // The first version as an earlier duck-orch left it: a run a → b with a in flight.
      await pool.query(`CREATE TABLE ${s}.schema_migrations (id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`);
      await pool.query(PG_MIGRATIONS[0]!.sql(s));
      await pool.query(`INSERT INTO ${s}.schema_migrations VALUES (1, 'jobs_ledger', now())`);
      await pool.query(`INSERT INTO ${s}.snapshots VALUES ('sha256:x', now(), 2)`);
      await pool.query(`INSERT INTO ${s}.runs VALUES ('r1', 'sha256:x', 'run', NULL, 'null', now(), '{a,b}')`);
      await pool.query(
        `INSERT INTO ${s}.jobs (job_id, run_id, task_name, partition_key, state, attempts, max_attempts, run_at, lease_owner, lease_expires_at,
           created_at, started_at, updated_at, upstream, waiting)
         VALUES ('ja', 'r1', 'a', '__default__', 'processing', 1, 1, now(), 'w1', now() + interval '1 hour', now(), now(), now(), '{}', 0),
                ('jb', 'r1', 'b', '__default__', 'pending', 0, 1, now(), NULL, NULL, now(), NULL, now(), '{a}', 1)`,
      );
      const ledger = new PgLedger(pool, { schema });
      await ledger.migrate();
      const applied = (await pool.query(`SELECT id FROM ${s}.schema_migrations ORDER BY id`)).rows.map((r: { id: number }) => r.id);
      expect(applied).toEqual(PG_MIGRATIONS.map((m) => m.id).sort((x, y) => x - y));
      expect((await pool.query(`SELECT downstream FROM ${s}.jobs WHERE job_id = 'ja'`)).rows[0]).toEqual({ downstream: ['jb'] });
      // Its completion now finds b through the backfilled list.
      const [a] = await ledger.listJobs({ limit: 1, task: 'a' });
      const now = new Date();
      await ledger.complete(
        { ...a!, snapshotId: 'sha256:x', runInputs: null, database: null },
        'w1',
        {
          rows: null,
          result: null,
          watermark: null,
          codeVersion: null,
          assets: [],
        },
        now,
      );
      const claimed = await ledger.claim({ worker: 'w2', limit: 5, leaseMs: 60_000, now: new Date(now.getTime() + 1) });
      expect(claimed.map((j) => j.task)).toEqual(['b']);
      await ledger.migrate(); // again: nothing to do
    });

    withSchema('refuses a schema migrated by a newer duck-orch, naming both versions', async (pool, schema) => {
      const ledger = new PgLedger(pool, { schema });
      await ledger.migrate();
      await pool.query(`INSERT INTO ${quoteIdent(schema)}.schema_migrations VALUES (9999, 'future', now())`);
      const err = await ledger.migrate().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DuckorchError);
      expect((err as DuckorchError).code).toBe('SCHEMA_VERSION');
      expect((err as DuckorchError).message).toMatch(/newer duck-orch \(version 9999, this one knows up to \d+\)/);
    });
  });
});
