/**
 * `duck-orch worker` on a shared (PostgreSQL) ledger. One worker loop for the life of the
 * process, connected to the ledger throughout; the project's DuckDB file is opened only while
 * this worker holds its lease (`database-lease.ts`). Jobs that write the database are claimed
 * only then; jobs that need none (TypeScript tasks of the registry) always. A `worker --dag`
 * works as on one machine (its Dag's tasks need no shared database). So any number of workers on any
 * number of machines share the work, one of them at a time running the SQL of a database.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import process from 'node:process';
import type { Config } from '../config/config.js';
import { work } from '../runtime/worker.js';
import type { AccessMode } from '../store/duckdb/database.js';
import { LeasedDatabase } from './database-lease.js';
import { SnapshotCache } from './snapshot-cache.js';
import type { Project } from './project.js';
import { openSharedLedger } from './shared-ledger.js';
import { PREFETCH, runFunctionJob, workerSettings, type WorkOptions } from './working.js';

export interface SharedWorkerOptions extends WorkOptions {
  config: Config;
  access: AccessMode;
  /** Lines about the database's lease. */
  log: (line: string) => void;
  /** See `LeasedDatabaseOptions.onHold`. */
  onHold?: (project: Project) => Promise<() => Promise<void>>;
  /** Called once the worker is connected to the ledger (before it loads its DAG and looks at the database). */
  onStarted?: (workerId: string) => void;
  clock?: () => Date;
  random?: () => number;
}

export async function workShared(o: SharedWorkerOptions): Promise<void> {
  const clock = o.clock ?? (() => new Date());
  const workerId = o.workerId ?? `worker-${process.pid}-${randomUUID().slice(0, 8)}`;
  const leaseMs = o.config.orch_lease * 1000;
  // DuckDB's API loads (a tenth of a second of work on this thread) while the ledger's
  // connection is being made, rather than after it.
  const [{ ledger, close }] = await Promise.all([
    openSharedLedger(o.config),
    fs.existsSync(o.config.db) ? import('../duckdb-api.js') : undefined,
  ]);
  try {
    o.onStarted?.(workerId);
    const database = new LeasedDatabase({
      config: o.config,
      ledger,
      workerId,
      leaseMs,
      clock,
      access: o.access,
      log: o.log,
      ...(o.onHold ? { onHold: o.onHold } : {}),
    });
    const snapshots = new SnapshotCache(async () => ledger);
    try {
      await database.start();
      await work({
        ledger,
        databases: database,
        functions: runFunctionJob,
        workerId,
        concurrency: o.concurrency ?? o.config.orch_max_parallel,
        prefetch: PREFETCH,
        ...workerSettings(o.config),
        clock,
        random: o.random ?? Math.random,
        definition: async (job) => {
          // Removed tasks are known from the registry, which is in the database file: only while it is held.
          const current = await database.registeredTasks();
          if (current && !current.has(job.task))
            return { missing: `task \`${job.task}\` was removed from the project after the run was planned` };
          return (await snapshots.task(job.snapshotId, job.task)) ?? { missing: `task \`${job.task}\` is not in the run's snapshot` };
        },
        // Runs of the registry only: each DAG has workers of its own (`worker --dag`).
        dag: null,
        ...(o.shutdown ? { shutdown: o.shutdown } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
        ...(o.graceMs !== undefined ? { graceMs: o.graceMs } : {}),
        ...(o.untilIdle ? { untilIdle: true } : {}),
        ...(o.pollMs !== undefined ? { pollMs: o.pollMs } : {}),
        ...(o.onEvent ? { onEvent: o.onEvent } : {}),
        ...(o.onNotice ? { onNotice: o.onNotice } : {}),
      });
    } finally {
      await database.stop();
    }
  } finally {
    await close();
  }
}
