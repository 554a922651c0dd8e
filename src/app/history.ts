/**
 * What happened and what is happening: the latest jobs with their failed attempts, queue depth,
 * recent failures and stale leases — all read from the ledger alone (with PostgreSQL, no
 * database file is opened), over the whole ledger or, with `--dag`, that DAG's runs.
 */
import type { JobState } from '../model/jobs/job-state.js';
import type { AttemptRecord, JobRecord, RunRecord, TaskFailures } from '../store/ledger.js';
import type { ProjectContext } from './context.js';
import { unknownName, type Definitions } from './definitions.js';
import type { Runs } from './runs.js';

export interface StatusResult {
  /** The latest jobs, newest first. */
  jobs: JobRecord[];
  /** The failed attempts of those jobs (also of jobs that finally succeeded), by job id. */
  failedAttempts: Map<string, AttemptRecord[]>;
  runs: RunRecord[];
  /**
   * The listed jobs whose task their own run's definitions no longer have (the DAG's active
   * snapshot, or the registry of the run's database): by job, as a name removed from one
   * database or DAG may still be defined in another.
   */
  removedJobs: string[];
}

export class History {
  constructor(
    private readonly ctx: ProjectContext,
    private readonly definitions: Definitions,
    private readonly runs: Runs,
  ) {}

  /**
   * The latest task runs, newest first. The history of a task that is no longer defined stays
   * reachable: its jobs are listed, and named in `removedJobs`.
   */
  async status(options: { limit: number; task?: string }): Promise<StatusResult> {
    const ledger = await this.ctx.ledger();
    const jobs = await ledger.listJobs({
      limit: options.limit,
      ...(await this.definitions.scope()),
      ...(options.task !== undefined ? { task: options.task } : {}),
    });
    const current = await ledger.currentTasks([...new Set(jobs.map((j) => j.runId))]);
    const removedJobs = jobs.filter((j) => current.get(j.runId)?.has(j.task) === false).map((j) => j.id);
    if (options.task !== undefined && jobs.length === 0) {
      const names = await this.definitions.taskNames().catch(() => undefined);
      if (names && !names.includes(options.task)) throw unknownName('task', options.task, names);
    }
    const failedAttempts = new Map<string, AttemptRecord[]>();
    // Every listed job's attempts: a job retried with `retry-failed` starts counting again at 1.
    for (const a of await ledger.listAttempts(jobs.map((j) => j.id)))
      if (a.outcome === 'failed' || a.outcome === 'lost') failedAttempts.set(a.jobId, [...(failedAttempts.get(a.jobId) ?? []), a]);
    return {
      jobs,
      failedAttempts,
      runs: options.task === undefined ? await ledger.listRuns(Math.min(options.limit, 10)) : [],
      removedJobs,
    };
  }

  async queueDepth(runId?: string): Promise<Partial<Record<JobState, number>>> {
    return (await this.ctx.ledger()).queueDepth({
      ...(runId === undefined ? {} : { runId: (await this.runs.resolveRun(runId)).id }),
      ...(await this.definitions.scope()),
    });
  }

  /** Tasks whose attempts failed in the last `withinSeconds`. */
  async failures(withinSeconds: number, limit: number): Promise<TaskFailures[]> {
    const since = new Date(this.ctx.clock().getTime() - withinSeconds * 1000);
    return (await this.ctx.ledger()).failures(since, limit, (await this.definitions.scope()).tasks);
  }

  /** Jobs being processed whose worker has not renewed its lease in time: a worker that stopped (Orchex's `stale-locks`). */
  async staleLeases(): Promise<JobRecord[]> {
    const now = this.ctx.clock();
    return (
      await (await this.ctx.ledger()).listJobs({ states: ['processing'], limit: 100_000, ...(await this.definitions.scope()) })
    ).filter((j) => j.leaseExpiresAt !== null && j.leaseExpiresAt.getTime() <= now.getTime());
  }
}
