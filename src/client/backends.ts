/**
 * Where the client's calls go: a ledger this process opened (PostgreSQL's, or the one inside a
 * DuckDB file it holds), or the process that holds the DuckDB file (a `duck-orch worker`),
 * through that process's socket — as the CLI reaches it when the file is taken.
 */
import type { DagRunRequest } from '../app/dag-runs.js';
import { DagRunPlanner } from '../app/dag-runs.js';
import type { Project } from '../app/project.js';
import type { ProjectApi } from '../app/remote/socket.js';
import { DuckorchError, DuckorchErrors } from '../errors.js';
import type { JobState } from '../model/jobs/job-state.js';
import type { RunRecord } from '../store/ledger.js';

export interface Backend {
  enqueueRuns(dag: string, requests: readonly DagRunRequest[]): Promise<RunRecord[]>;
  getRun(id: string): Promise<RunRecord | undefined>;
  /** Cancels the run's unfinished jobs; the run after it. */
  cancel(id: string): Promise<RunRecord | undefined>;
  queueDepth(dag?: string): Promise<Partial<Record<JobState, number>>>;
  close(): Promise<void>;
}

/** The ledger of a project this process opened. */
export class LedgerBackend implements Backend {
  /** Keeps each snapshot's plan for the client's life. */
  private planner: DagRunPlanner | undefined;

  constructor(private readonly project: Project) {}

  async enqueueRuns(dag: string, requests: readonly DagRunRequest[]): Promise<RunRecord[]> {
    this.planner ??= new DagRunPlanner(await this.project.ledger());
    return this.planner.enqueue(dag, requests, new Date());
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    return (await this.project.ledger()).getRun(id);
  }

  async cancel(id: string): Promise<RunRecord | undefined> {
    const ledger = await this.project.ledger();
    if (!(await ledger.getRun(id))) return undefined;
    await ledger.cancelRun(id, 'cancelled by the application', new Date());
    return ledger.getRun(id);
  }

  async queueDepth(dag?: string): Promise<Partial<Record<JobState, number>>> {
    return (await this.project.ledger()).queueDepth(dag === undefined ? {} : { dag });
  }

  close(): Promise<void> {
    return this.project.close();
  }
}

/**
 * The process holding the DuckDB file, over its socket. Bound to that process: when it stops,
 * calls fail (DB_UNAVAILABLE) and the application connects again.
 */
export class HolderBackend implements Backend {
  /** The holder answering as if asked with a `--dag` (queue depth keeps to it), by DAG. */
  private readonly scoped = new Map<string, Promise<ProjectApi | undefined>>();

  private constructor(
    private readonly file: string,
    private readonly api: ProjectApi,
    private readonly describe: string,
  ) {}

  /** The holder of `file`, when one answers on its socket. */
  static async find(file: string): Promise<HolderBackend | undefined> {
    const { connectToHolder } = await import('../app/remote/socket.js');
    const api = await connectToHolder(file);
    if (!api) return undefined;
    const info = await api.holder().catch(() => undefined);
    return info && new HolderBackend(file, api, `${info.command} ${info.pid}`);
  }

  enqueueRuns(dag: string, requests: readonly DagRunRequest[]): Promise<RunRecord[]> {
    return this.call(this.api.enqueueRuns(dag, [...requests]));
  }

  getRun(id: string): Promise<RunRecord | undefined> {
    return this.call(this.api.getRun(id));
  }

  async cancel(id: string): Promise<RunRecord | undefined> {
    // The holder's `cancel` also takes a prefix of an id: only an exact id is the client's.
    if (!(await this.getRun(id))) return undefined;
    return (await this.call(this.api.cancel(id))).run;
  }

  async queueDepth(dag?: string): Promise<Partial<Record<JobState, number>>> {
    if (dag === undefined) return this.call(this.api.queueDepth());
    let scoped = this.scoped.get(dag);
    if (!scoped) this.scoped.set(dag, (scoped = import('../app/remote/socket.js').then((m) => m.connectToHolder(this.file, dag))));
    const api = await scoped;
    if (!api) throw this.gone(undefined);
    return this.call(api.queueDepth());
  }

  async close(): Promise<void> {
    // Nothing is held here: each call is a request of its own.
  }

  /** A call's errors as they are, except that a holder that went away is said so. */
  private async call<T>(pending: Promise<T>): Promise<T> {
    try {
      return await pending;
    } catch (err) {
      if (err instanceof DuckorchError || err instanceof DuckorchErrors) throw err;
      throw this.gone(err);
    }
  }

  private gone(cause: unknown): DuckorchError {
    return new DuckorchError('DB_UNAVAILABLE', `${this.describe}, which held ${this.file}, no longer answers`, {
      hint: 'connect again: to the file itself once no process holds it, or to the process that holds it now',
      ...(cause !== undefined ? { cause } : {}),
    });
  }
}
