/**
 * A worker's hold on its DuckDB file under a shared ledger (`app/database-lease.ts`), in-process
 * against real PostgreSQL and DuckDB: the file is opened once the lease is taken; a lease taken
 * over by another worker makes it stop handing the file out, wait for the job using it, close
 * it; and an expired lease is taken back.
 */
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { LeasedDatabase } from '../../src/app/database-lease.js';
import { loadConfig } from '../../src/config/config.js';
import { PgLedger } from '../../src/store/postgres/pg-ledger.js';
import { DUCKDB_TEST_TIMEOUT, queryDb, tempDir, waitFor } from '../helpers.js';
import { PG_START_TIMEOUT, freshSchema, pgDatabase, postgresAvailable } from '../pg.js';

describe.skipIf(!postgresAvailable().ok)('a worker’s lease on its database file', { timeout: DUCKDB_TEST_TIMEOUT }, () => {
  beforeAll(() => pgDatabase(), PG_START_TIMEOUT);

  it('opens the file once it holds the lease, lets it go when the lease is taken over, takes it back once expired', async () => {
    const { url, schema } = await freshSchema();
    const pool = new pg.Pool({ connectionString: url, max: 3 });
    onTestFinished(() => pool.end());
    const ledger = new PgLedger(pool, { schema });
    await ledger.migrate();
    const db = path.join(tempDir(), 'shared.duckdb');
    const config = loadConfig({ env: { DATABASE_URL: url, DUCKORCH_PG_SCHEMA: schema }, flags: { db }, cwd: os.tmpdir() });
    const lines: string[] = [];
    const lease = new LeasedDatabase({
      config,
      ledger,
      workerId: 'w1',
      // A beat every 100 ms.
      leaseMs: 300,
      clock: () => new Date(),
      access: 'create',
      log: (line) => lines.push(line),
    });
    let changes = 0;
    lease.onChange(() => changes++);
    await lease.start();
    onTestFinished(() => lease.stop());
    const [id] = [...lease.held()];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines).toEqual([`holds database ${id} (${db}): working its jobs`]);
    expect(changes).toBe(1);
    expect(lease.use('some-other-database')).toBeUndefined();

    // A job is using the file when another worker takes the lease over.
    const job = lease.use(id!)!;
    await job.instance.connect().then((c) => c.run('CREATE TABLE t AS SELECT 1 AS x').finally(() => c.closeSync()));
    await pool.query(`UPDATE "${schema}".database_leases SET worker = 'w2', expires_at = now() + interval '1 hour'`);
    await waitFor('the lease to be seen lost', () => lines.some((l) => l.startsWith('lost the lease')));
    expect(lines.at(-1)).toBe(`lost the lease on database ${db} to w2: letting it go`);
    // No new job gets the file; the one using it finishes before it is closed.
    expect(lease.held().size).toBe(0);
    expect(lease.use(id!)).toBeUndefined();
    job.release();
    await waitFor('the file to be closed', () => lines.some((l) => l.startsWith(`database ${db} is held by worker w2`)));
    expect(await queryDb(db, 'SELECT x FROM t')).toEqual([[1]]);
    // It gave back nothing it does not hold.
    expect((await pool.query(`SELECT worker FROM "${schema}".database_leases`)).rows).toEqual([{ worker: 'w2' }]);

    // w2's lease runs out: w1 takes the file back at its next beat.
    await pool.query(`UPDATE "${schema}".database_leases SET expires_at = now() - interval '1 second'`);
    await waitFor('the database to be held again', () => lease.held().has(id!));
    expect(lines.at(-1)).toBe(`holds database ${id} (${db}): working its jobs`);
    expect(changes).toBe(2);
    await lease.stop();
    // Stopping gives the lease back and closes the file.
    expect((await pool.query(`SELECT * FROM "${schema}".database_leases`)).rows).toEqual([]);
    expect(await queryDb(db, 'SELECT count(*)::INTEGER FROM t')).toEqual([[1]]);
  });
});
