/**
 * Watching a running project. DuckDB lets one process open a database file for writing, and
 * no other process may open it at all meanwhile. So the process that holds it for a long time
 * (`run`, `worker`) answers on a local socket beside the file: `status`, `list`, `graph`,
 * `queue-depth`, `failures`, `enqueue`, `cancel`, `sql` (in a read-only transaction), `test`
 * and `register` from another terminal are served by the holder's own application service, as
 * the asking process would have answered them (its own `--dag`, not the holder's), and a second
 * `run` hands its run to the holder and follows it to the end (DuckDB has no second writer to
 * join as). An application's client (`src/client`) enqueues and follows runs of a DAG through it
 * too. HTTP on a Unix socket: only
 * processes of users who may open the socket file can ask, and nothing listens on the network.
 */
import type { Simulation } from '../automation.js';
import type { AutomationState } from '../../model/automation/evaluate.js';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { GraphMode } from '../../model/graph/mermaid.js';
import type { JobState } from '../../model/jobs/job-state.js';
import type { TestOutcome } from '../../runtime/test-runner.js';
import type { JsonValue, RunMetadata, RunRecord, TaskFailures } from '../../store/ledger.js';
import { DagRunPlanner, type DagRunRequest } from '../dag-runs.js';
import type {
  AssetQueries,
  PlannedAsset,
  Project,
  RegisterOptions,
  RegisterResult,
  RunResult,
  Selection,
  StatusResult,
  TaskListing,
} from '../project.js';
import { runQueryReadOnly, type QueryResult } from '../sql-query.js';
import { decode, decodeError, encode, encodeError } from './wire.js';

export interface HolderInfo {
  command: 'run' | 'worker';
  pid: number;
  db: string;
}

export interface JoinOptions extends Selection {
  partition?: string;
  maxParallel?: number;
  fullRefresh?: boolean;
}

/** What another process may ask of the process holding the database. */
export interface ProjectApi {
  holder(): Promise<HolderInfo>;
  status(options: { limit: number; task?: string }): Promise<StatusResult>;
  list(selection: Selection): Promise<{ tasks: TaskListing[]; warnings: string[] }>;
  graph(mode: GraphMode, selection: Selection & { statuses?: boolean }): Promise<{ mermaid: string; warnings: string[] }>;
  queueDepth(runId?: string): Promise<Partial<Record<JobState, number>>>;
  failures(withinSeconds: number, limit: number): Promise<TaskFailures[]>;
  enqueue(
    options: Selection & { partition?: string; inputs?: JsonValue; metadata?: RunMetadata; runId?: string },
  ): Promise<{ run: RunRecord | null; warnings: string[] }>;
  cancel(runId: string): Promise<{ run: RunRecord; cancelled: number; stopping: number }>;
  /** Plans a run of the selection and has the holder work it; resolves when it is done. */
  join(options: JoinOptions): Promise<RunResult>;
  /** `duck-orch sql`: in a read-only transaction of the holder's database. */
  sql(query: string): Promise<QueryResult>;
  test(selection: Selection): Promise<{ outcomes: TestOutcome[]; warnings: string[] }>;
  /** `register` of a folder (an absolute path: the holder's working directory is not the asker's). */
  register(dir: string, options?: RegisterOptions): Promise<RegisterResult>;
  /** Runs of a DAG by name, as an application's client enqueues them (`src/client`). */
  enqueueRuns(dag: string, requests: DagRunRequest[]): Promise<RunRecord[]>;
  /** A run by its exact id. */
  getRun(id: string): Promise<RunRecord | undefined>;
  plan(selection: Selection): Promise<{ assets: PlannedAsset[]; warnings: string[] }>;
  /** `automation simulate`. */
  simulate(asset: string, options: { at?: Date; state?: AutomationState }): Promise<Simulation>;
  /** `automation status`. */
  automationStatus(): Promise<Simulation[]>;
  /** The `asset` commands' reads. */
  asset<K extends keyof AssetQueries>(query: K, ...args: Parameters<AssetQueries[K]>): ReturnType<AssetQueries[K]>;
}

const METHODS = [
  'holder',
  'status',
  'list',
  'graph',
  'queueDepth',
  'failures',
  'enqueue',
  'cancel',
  'join',
  'sql',
  'test',
  'register',
  'enqueueRuns',
  'getRun',
  'asset',
  'plan',
  'simulate',
  'automationStatus',
] as const;
/** The asker's `--dag`, which scopes its questions (absent: the registry). */
const DAG_HEADER = 'x-duckorch-dag';

/** Beside the database when the path fits a socket address (about 100 bytes), else in the temp folder. */
export function socketPath(dbFile: string): string {
  const abs = path.resolve(dbFile);
  const beside = path.join(path.dirname(abs), `.${path.basename(abs)}.duckorch.sock`);
  if (Buffer.byteLength(beside) < 100) return beside;
  return path.join(os.tmpdir(), `duckorch-${crypto.createHash('sha256').update(abs).digest('hex').slice(0, 16)}.sock`);
}

export interface Served {
  close(): Promise<void>;
}

/**
 * Answers on the database's socket until closed. `join` is the holder's: a `worker` enqueues
 * and waits, a `run` also works the joined run with a second in-process worker loop.
 */
export async function serveProject(
  project: Project,
  info: HolderInfo,
  join: (options: JoinOptions) => Promise<RunResult>,
): Promise<Served> {
  const file = socketPath(info.db);
  const joins = new Set<Promise<unknown>>();
  // One planner for every client that asks: it keeps each snapshot's plan.
  let planner: Promise<DagRunPlanner> | undefined;
  /** The holder's project as the asker sees it: with the asker's `--dag`. */
  const apiFor = (asker: Project): ProjectApi => ({
    holder: async () => info,
    status: (o) => asker.status(o),
    list: (s) => asker.list(s),
    graph: (m, s) => asker.graph(m, s),
    queueDepth: (r) => asker.queueDepth(r),
    failures: (within, limit) => asker.failures(within, limit),
    enqueue: (o) => asker.enqueue(o),
    cancel: (r) => asker.cancel(r),
    join: (o) => {
      const p = join(o);
      joins.add(p);
      void p.finally(() => joins.delete(p)).catch(() => undefined);
      return p;
    },
    sql: async (query) => runQueryReadOnly((await asker.database()).instance, query),
    test: (s) => asker.test(s),
    register: (dir, options) => asker.register(dir, options),
    enqueueRuns: async (dag, requests) =>
      (await (planner ??= project.ledger().then((l) => new DagRunPlanner(l)))).enqueue(dag, requests, new Date()),
    getRun: async (id) => (await asker.ledger()).getRun(id),
    asset: (query, ...args) => asker.asset(query, ...args),
    plan: (selection) => asker.plan(selection),
    simulate: (asset, options) => asker.simulate(asset, options),
    automationStatus: () => asker.automationStatus(),
  });
  const server = http.createServer((req, res) => {
    const method = (req.url ?? '').slice(1) as (typeof METHODS)[number];
    const dag = req.headers[DAG_HEADER];
    const api = apiFor(project.withDag(typeof dag === 'string' && dag !== '' ? decodeURIComponent(dag) : undefined));
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const call = METHODS.includes(method)
        ? (api[method] as (...args: unknown[]) => Promise<unknown>)(...decode<unknown[]>(body || '[]'))
        : Promise.reject(new Error(`unknown method ${method}`));
      call.then(
        (result) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(encode(result));
        },
        (err: unknown) => {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(encodeError(err));
        },
      );
    });
  });
  await removeStale(file);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(file, () => resolve());
  });
  return {
    async close() {
      // Joined runs are finished before the holder lets go of the database.
      await Promise.allSettled([...joins]);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(file, { force: true });
    },
  };
}

/** A socket left by a process that died answers nothing: remove it. */
async function removeStale(file: string): Promise<void> {
  if (!fs.existsSync(file)) return;
  const alive = await callSocket(file, 'holder', []).then(
    () => true,
    () => false,
  );
  if (!alive) fs.rmSync(file, { force: true });
}

function callSocket(file: string, method: string, args: unknown[], dag?: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath: file,
        path: `/${method}`,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(dag !== undefined ? { [DAG_HEADER]: encodeURIComponent(dag) } : {}) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => (res.statusCode === 200 ? resolve(decode(text)) : reject(decodeError(text))));
      },
    );
    req.on('error', reject);
    req.end(encode(args));
  });
}

/** The holder of `dbFile`, when one answers on its socket; it answers as if asked with `dag`. */
export async function connectToHolder(dbFile: string, dag?: string): Promise<ProjectApi | undefined> {
  const file = socketPath(dbFile);
  if (!fs.existsSync(file)) return undefined;
  const call =
    (method: string) =>
    (...args: unknown[]) =>
      callSocket(file, method, args, dag);
  const api = Object.fromEntries(METHODS.map((m) => [m, call(m)])) as unknown as ProjectApi;
  try {
    await api.holder();
  } catch {
    return undefined;
  }
  return api;
}
