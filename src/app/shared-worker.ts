/**
 * `duck-orch worker` on a shared (PostgreSQL) ledger. One worker loop for the life of the
 * process, connected to the ledger throughout; the project's DuckDB file is opened only while
 * this worker holds its lease (`database-lease.ts`). Jobs that write the database are claimed
 * only then; jobs that need none (Dag function tasks) always. So any number of workers on any
 * number of machines share the work, one of them at a time running the SQL of a database.
 */
import { randomUUID } from 'node:crypto';
import process from 'node:process';
import type { Config } from '../config/config.js';
import { DuckorchErrors } from '../errors.js';
import type { TaskDefinition } from '../model/taskfile/task.js';
import { work } from '../runtime/worker.js';
import type { AccessMode } from '../store/duckdb/database.js';
import type { ClaimedJob, Ledger, Snapshot } from '../store/ledger.js';
import { assembleProject } from './assemble.js';
import { LeasedDatabase } from './database-lease.js';
import { openSharedLedger, runFunctionJob, type Project, type WorkOptions } from './project.js';

export interface SharedWorkerOptions extends WorkOptions {
  config: Config;
  access: AccessMode;
  dag?: string;
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
  const { ledger, close } = await openSharedLedger(o.config);
  try {
    o.onStarted?.(workerId);
    // A --dag worker keeps to its DAG's tasks (other DAGs have workers of their own).
    const dagTasks = o.dag !== undefined ? await dagTaskNames(o.dag) : undefined;
    const database = new LeasedDatabase({
      config: o.config,
      ledger,
      workerId,
      leaseMs,
      clock,
      access: o.access,
      log: o.log,
      ...(o.dag !== undefined ? { dag: o.dag } : {}),
      ...(o.onHold ? { onHold: o.onHold } : {}),
    });
    const snapshots = new SnapshotCache(ledger);
    try {
      await database.start();
      await work({
        ledger,
        databases: database,
        functions: runFunctionJob,
        workerId,
        concurrency: o.concurrency ?? o.config.orch_max_parallel,
        leaseMs,
        ...(o.config.orch_task_timeout !== undefined ? { defaultTimeoutMs: o.config.orch_task_timeout * 1000 } : {}),
        retry: { baseMs: o.config.orch_retry_base * 1000, maxMs: o.config.orch_retry_max * 1000 },
        clock,
        random: o.random ?? Math.random,
        definition: async (job) => {
          // Removed tasks are known from the registry, which is in the database file: only while it is held.
          const current = dagTasks ?? (await database.registeredTasks());
          if (current && !current.has(job.task))
            return { missing: `task \`${job.task}\` was removed from the project after the run was planned` };
          return (await snapshots.task(job)) ?? { missing: `task \`${job.task}\` is not in the run's snapshot` };
        },
        ...(dagTasks ? { tasks: dagTasks } : {}),
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

async function dagTaskNames(spec: string): Promise<ReadonlySet<string>> {
  const { loadDagSpec } = await import('./task-modules.js');
  const { definitions, errors } = assembleProject(await loadDagSpec(spec, process.cwd()));
  if (errors.length > 0) throw new DuckorchErrors(errors);
  return new Set(definitions.map((d) => d.name));
}

/** The definitions jobs run, read from their run's snapshot once per task. */
class SnapshotCache {
  private readonly snapshots = new Map<string, Snapshot>();

  constructor(private readonly ledger: Ledger) {}

  async task(job: ClaimedJob): Promise<TaskDefinition | undefined> {
    const known = this.snapshots.get(job.snapshotId);
    const hit = known?.tasks.get(job.task);
    if (hit) return hit.definition;
    const loaded = await this.ledger.loadSnapshot(job.snapshotId, [job.task]);
    const def = loaded?.tasks.get(job.task);
    if (!loaded || !def) return undefined;
    if (known) (known.tasks as Map<string, typeof def>).set(job.task, def);
    else this.snapshots.set(job.snapshotId, loaded);
    return def.definition;
  }
}
