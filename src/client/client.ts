/**
 * The client for applications that submit work, as graphile-worker's `makeWorkerUtils().addJob`
 * and Orchex's `enqueue_run` are used:
 *
 *     import { connect } from 'duckorch';
 *     const client = await connect(process.env.DATABASE_URL);
 *     const run = await client.enqueue('etl', { day: '2026-12-01' });
 *     await client.waitForRun(run.id, { timeoutMs: 60_000 });
 *
 * A run is of a DAG by name, bound to its active snapshot (`duck-orch snapshot --activate`), as
 * `duck-orch --dag <name> enqueue` plans it; the DAG's workers work it. The ledger is PostgreSQL
 * (a URL), or the one inside a DuckDB file: the client opens the file, or — while a worker holds
 * it — goes through that worker's socket, as the CLI does.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DagRunRequest } from '../app/dag-runs.js';
import { runEnded, runInfo, type RunInfo } from './run-info.js';
import { parseConfig, parseSetting } from '../config/config.js';
import { DuckorchError } from '../errors.js';
import { JOB_STATES, type JobState } from '../model/jobs/job-state.js';
import type { JsonValue, RunMetadata } from '../store/ledger.js';
import { HolderBackend, LedgerBackend, type Backend } from './backends.js';

export type { RunInfo, RunJson } from './run-info.js';

export interface ClientOptions {
  /**
   * The PostgreSQL schema holding the ledger (`orch_pg_schema`): default `$DUCKORCH_PG_SCHEMA`
   * (or Orchex's `$DB_SCHEMA`), else `duckorch`. Not for a DuckDB file.
   */
  schema?: string;
  /** Connections the PostgreSQL pool opens at most (`orch_pg_pool_max`); default 10. */
  poolMax?: number;
}

export interface EnqueueOptions {
  /** Kept with the run (`status --json` shows it): a JSON object. */
  metadata?: RunMetadata;
  /** The run's id, a UUID (default: a new one); an id that exists is refused (`DUPLICATE_RUN`). */
  runId?: string;
}

export interface EnqueueManyOptions {
  /** Kept with every run. */
  metadata?: RunMetadata;
}

export interface WaitOptions {
  /** Reject with `RunWaitTimeoutError` when the run has not ended after this long; default: wait as long as it takes. */
  timeoutMs?: number;
  /** Stops waiting (rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** Jobs per state, every state present. */
export type QueueDepth = Record<JobState, number>;

export interface Client {
  /** Where the ledger is: PostgreSQL, or a DuckDB file (opened here, or through the worker holding it). */
  readonly ledger: 'postgres' | 'duckdb';
  /**
   * Enqueues a run of the DAG named `dag`, on its active snapshot: one job per task, its root
   * tasks receiving `inputs` (null when omitted). Resolves to the run, queued. An unknown DAG
   * rejects with `UNKNOWN_NAME`, naming the closest DAG or those there are.
   */
  enqueue(dag: string, inputs?: JsonValue, options?: EnqueueOptions): Promise<RunInfo>;
  /** Enqueues one run per element of `inputsList`, all in one transaction (all or none); in order. */
  enqueueMany(dag: string, inputsList: readonly JsonValue[], options?: EnqueueManyOptions): Promise<RunInfo[]>;
  /** The run now; undefined when there is no run with this id. */
  getRun(id: string): Promise<RunInfo | undefined>;
  /**
   * Resolves to the run once it has ended (`succeeded`, `failed` or `cancelled`), polling the
   * ledger with backoff (25 ms, doubling to 1 s). Rejects with `RunWaitTimeoutError` after
   * `timeoutMs`, with `UNKNOWN_NAME` for a run that does not exist.
   */
  waitForRun(id: string, options?: WaitOptions): Promise<RunInfo>;
  /** Cancels the run's unfinished jobs (those in flight stop at their worker's next heartbeat); the run after it. */
  cancel(id: string): Promise<RunInfo>;
  /** Jobs per state over the whole ledger, or one DAG's runs. */
  queueDepth(options?: { dag?: string }): Promise<QueueDepth>;
  /** Closes the connections (or the DuckDB file). */
  close(): Promise<void>;
}

/** `waitForRun`'s time ran out before the run ended; `run` is the run as last seen. */
export class RunWaitTimeoutError extends DuckorchError {
  constructor(
    readonly run: RunInfo,
    readonly timeoutMs: number,
  ) {
    super('WAIT_TIMEOUT', `run ${run.id} had not ended after ${timeoutMs} ms (it is ${run.state})`, {
      hint: 'a worker of its DAG works it: duck-orch --dag <name> worker',
    });
  }
}

const POSTGRES_URL = /^postgres(?:ql)?:\/\//i;
const OTHER_URL = /^[a-z][a-z0-9+.-]*:\/\//i;
const TARGET_FORM = 'postgresql://user:password@host:5432/database, or the path of a DuckDB file';

/**
 * Connects to a ledger: a PostgreSQL URL (`postgres://` or `postgresql://`; `DATABASE_URL` when
 * omitted) whose schema `duck-orch init-db` created, or the path of a project's DuckDB file.
 */
export async function connect(url?: string, options: ClientOptions = {}): Promise<Client> {
  const target = url ?? process.env.DATABASE_URL;
  if (target === undefined || target.trim() === '')
    throw new DuckorchError('CONFIG', 'connect() was given no ledger, and DATABASE_URL is not set', {
      expected: TARGET_FORM,
      hint: 'pass a URL or a file to connect(), or export DATABASE_URL',
    });
  if (POSTGRES_URL.test(target)) return new LedgerClient('postgres', await openPostgres(target, options));
  if (OTHER_URL.test(target))
    throw new DuckorchError('CONFIG', `connect() takes a PostgreSQL URL or a DuckDB file, got ${target.split('//')[0]}// …`, {
      expected: TARGET_FORM,
    });
  if (options.schema !== undefined || options.poolMax !== undefined)
    throw new DuckorchError('USAGE', 'connect() options `schema` and `poolMax` are for a PostgreSQL ledger, not a DuckDB file');
  return new LedgerClient('duckdb', await openDuckDb(target));
}

async function openPostgres(url: string, options: ClientOptions): Promise<Backend> {
  const schema = options.schema ?? (process.env.DUCKORCH_PG_SCHEMA || process.env.DB_SCHEMA || undefined);
  const config = {
    orch_store: 'postgres',
    orch_database_url: url,
    ...(schema !== undefined ? { orch_pg_schema: checked('schema', 'orch_pg_schema', schema) } : {}),
    ...(options.poolMax !== undefined ? { orch_pg_pool_max: checked('poolMax', 'orch_pg_pool_max', options.poolMax) } : {}),
  };
  const { Project } = await import('../app/project.js');
  // `require`: an application never creates or changes the ledger's tables (`duck-orch init-db` does).
  return new LedgerBackend(await Project.open({ config: parseConfig(config), access: 'read', ledgerSchema: 'require' }));
}

/** An option checked as the config checks the setting it stands for. */
function checked(option: string, key: 'orch_pg_schema' | 'orch_pg_pool_max', value: unknown): unknown {
  const parsed = parseSetting(key, value);
  if (parsed.ok) return parsed.value;
  const expected =
    key === 'orch_pg_schema' ? 'a name of letters, digits and _ (not starting with a digit)' : 'a whole number from 1 to 1000';
  throw new DuckorchError('CONFIG', `connect() option \`${option}\` must be ${expected}, got \`${String(value)}\``);
}

/** The DuckDB file opened here, or the worker that holds it. */
async function openDuckDb(file: string): Promise<Backend> {
  const holder = await HolderBackend.find(file);
  if (holder) return holder;
  const { Project } = await import('../app/project.js');
  try {
    return new LedgerBackend(await Project.open({ config: parseConfig({ db: file }), access: 'write' }));
  } catch (err) {
    // Taken meanwhile, or held by a process that answers on no socket (another client, a command).
    if (!(err instanceof DuckorchError) || err.code !== 'DB_LOCKED') throw err;
    const late = await HolderBackend.find(file);
    if (late) return late;
    throw err;
  }
}

class LedgerClient implements Client {
  private closed = false;

  constructor(
    readonly ledger: 'postgres' | 'duckdb',
    private readonly backend: Backend,
  ) {}

  async enqueue(dag: string, inputs: JsonValue = null, options: EnqueueOptions = {}): Promise<RunInfo> {
    const request: DagRunRequest = {
      inputs,
      ...(options.metadata !== undefined ? { metadata: options.metadata } : {}),
      ...(options.runId !== undefined ? { runId: options.runId } : {}),
    };
    return runInfo((await this.open().enqueueRuns(checkDag(dag), [request]))[0]!);
  }

  async enqueueMany(dag: string, inputsList: readonly JsonValue[], options: EnqueueManyOptions = {}): Promise<RunInfo[]> {
    if (!Array.isArray(inputsList)) throw new DuckorchError('USAGE', 'enqueueMany() takes an array of inputs, one per run');
    const requests = inputsList.map((inputs) => ({ inputs, ...(options.metadata !== undefined ? { metadata: options.metadata } : {}) }));
    if (requests.length === 0) return [];
    return (await this.open().enqueueRuns(checkDag(dag), requests)).map(runInfo);
  }

  async getRun(id: string): Promise<RunInfo | undefined> {
    const run = await this.open().getRun(runKey(id));
    return run && runInfo(run);
  }

  async waitForRun(id: string, options: WaitOptions = {}): Promise<RunInfo> {
    const { timeoutMs, signal } = options;
    if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs >= 0))
      throw new DuckorchError(
        'USAGE',
        `waitForRun() option \`timeoutMs\` must be a number of milliseconds ≥ 0, got \`${String(timeoutMs)}\``,
      );
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    // Polling, not LISTEN: the ledger notifies when jobs become claimable, not when a run ends.
    for (let delay = 25; ; delay = Math.min(1000, delay * 2)) {
      signal?.throwIfAborted();
      const run = await this.getRun(id);
      if (!run) throw unknownRun(id);
      if (runEnded(run.state)) return run;
      const left = deadline - Date.now();
      if (left <= 0) throw new RunWaitTimeoutError(run, timeoutMs!);
      await sleep(Math.min(delay, left), undefined, signal ? { signal } : {});
    }
  }

  async cancel(id: string): Promise<RunInfo> {
    const run = await this.open().cancel(runKey(id));
    if (!run) throw unknownRun(id);
    return runInfo(run);
  }

  async queueDepth(options: { dag?: string } = {}): Promise<QueueDepth> {
    const counts = await this.open().queueDepth(options.dag === undefined ? undefined : checkDag(options.dag));
    return Object.fromEntries(JOB_STATES.map((s) => [s, counts[s] ?? 0])) as QueueDepth;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.backend.close();
  }

  private open(): Backend {
    if (this.closed) throw new DuckorchError('USAGE', 'this duck-orch client is closed', { hint: 'connect() again' });
    return this.backend;
  }
}

function checkDag(dag: unknown): string {
  if (typeof dag !== 'string' || dag.trim() === '')
    throw new DuckorchError('USAGE', `the DAG must be named, got \`${String(dag)}\``, {
      expected: 'the name of a DAG whose snapshot is active',
    });
  return dag;
}

/** Run ids are UUIDs kept in lower case. */
function runKey(id: unknown): string {
  if (typeof id !== 'string' || id === '') throw new DuckorchError('USAGE', `a run id must be a string, got \`${String(id)}\``);
  return /^[0-9A-F-]{36}$/i.test(id) ? id.toLowerCase() : id;
}

function unknownRun(id: string): DuckorchError {
  return new DuckorchError('UNKNOWN_NAME', `unknown run \`${id}\``, { hint: 'a run id as enqueue returned it (`id`)' });
}
