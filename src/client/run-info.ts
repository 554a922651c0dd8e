/**
 * A run as applications and scripts see it: `status --json`'s shape (snake_case, times as ISO
 * strings), typed: what the CLI prints and, with the run's `id` first, what the client returns.
 */
import type { JobState, RunState } from '../model/jobs/job-state.js';
import type { RunMetadata, RunRecord } from '../store/ledger.js';

/** A run as `status --json`, `enqueue --json` and `cancel --json` print it. */
export interface RunJson {
  run_id: string;
  /** The snapshot of the definitions the run is bound to. */
  snapshot_id: string | null;
  /** What asked for it: `run`, `enqueue`, `retry`, … */
  trigger: string;
  /** The selection as written (`--select …`); null for a whole DAG or registry. */
  selector: string | null;
  /** `queued`, `running`, or how it ended: `succeeded`, `failed`, `cancelled`. */
  state: RunState;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  /** How many tasks it plans. */
  tasks: number;
  /** Its jobs per state. */
  jobs: Partial<Record<JobState, number>>;
  /** The DAG it runs; null for a run of the registry. */
  dag: string | null;
  metadata: RunMetadata;
}

/** A run as the client returns it: `status --json`'s fields, and `id` (= `run_id`). */
export interface RunInfo extends RunJson {
  id: string;
}

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

export function runJson(r: RunRecord): RunJson {
  return {
    run_id: r.id,
    snapshot_id: r.snapshotId,
    trigger: r.trigger,
    selector: r.selector,
    state: r.state,
    created_at: r.createdAt.toISOString(),
    started_at: iso(r.startedAt),
    finished_at: iso(r.finishedAt),
    duration_ms: r.startedAt && r.finishedAt ? r.finishedAt.getTime() - r.startedAt.getTime() : null,
    tasks: r.tasks.length,
    jobs: r.counts,
    dag: r.dag,
    metadata: r.metadata,
  };
}

export function runInfo(r: RunRecord): RunInfo {
  return { id: r.id, ...runJson(r) };
}

/** Whether a run has ended: nothing of it is left to work. */
export function runEnded(state: RunState): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'cancelled';
}
