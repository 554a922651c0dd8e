/**
 * `duck-orch demo`: Orchex's demo on duckorch. Seeds the demo DAG shipped in the package
 * (`examples/orchex-demo/dag.ts`), activates its snapshot, enqueues a few runs bound to it and
 * works them with one worker (two jobs at a time) until none is left, then sums them up.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../config/config.js';
import { shortSnapshotId } from '../../model/jobs/short-snapshot-id.js';
import { createProgress } from './progress.js';

/** The same relative place from `src/interfaces/cli` and from `dist/interfaces/cli`. */
export const DEMO_DAG = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../examples/orchex-demo/dag.ts');

export interface DemoSummary {
  dag: string;
  snapshot_id: string;
  where: string;
  runs: Array<{ run_id: string; state: string; jobs: string; metadata: unknown }>;
  succeeded: number;
}

export async function runDemo(
  config: Config,
  options: { runs: number; db?: string | undefined; log: (line: string) => void },
): Promise<DemoSummary> {
  const { Project, initSharedLedger } = await import('../../app/project.js');
  // Without --db the demo's DuckDB file (the worker's data side) is a throwaway.
  const scratch = options.db === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), 'duckorch-demo-')) : undefined;
  const cfg: Config = scratch ? { ...config, db: path.join(scratch, 'demo.duckdb') } : config;
  try {
    let where = cfg.db;
    if (cfg.orch_store === 'postgres') {
      const init = await initSharedLedger(cfg);
      where = `${init.where} (schema ${init.schema})`;
      options.log(`ledger: schema ${init.schema} on ${init.where}, version ${init.version}`);
    }
    const seeding = await Project.open({ config: cfg, access: 'create', dag: DEMO_DAG, ledgerSchema: 'migrate' });
    let snap;
    try {
      snap = await seeding.snapshot({ activate: true });
    } finally {
      await seeding.close();
    }
    options.log(`snapshot ${shortSnapshotId(snap.snapshotId)} of DAG ${snap.dag} active (${snap.taskCount} tasks)`);
    // From here on the DAG is named, as a worker on another machine would name it.
    const p = await Project.open({ config: cfg, access: 'write', dag: snap.dag });
    try {
      const ids: string[] = [];
      for (let index = 0; index < options.runs; index++) {
        const runId = randomUUID();
        await p.enqueue({ runId, inputs: { uri: `memory://${runId}` }, metadata: { demo_run: true, index } });
        ids.push(runId);
        options.log(`enqueued run ${runId}`);
      }
      const progress = createProgress(false, { write: (line) => options.log(line.replace(/\n$/, '')) });
      await p.work({ concurrency: 2, untilIdle: true, pollMs: 50, onEvent: (e) => progress.onEvent(e) });
      const runs = [];
      for (const id of ids) {
        const r = (await (await p.ledger()).getRun(id))!;
        const jobs = Object.entries(r.counts)
          .map(([state, n]) => `${n} ${state}`)
          .join(', ');
        runs.push({ run_id: r.id, state: r.state, jobs, metadata: r.metadata });
      }
      return {
        dag: snap.dag,
        snapshot_id: snap.snapshotId,
        where,
        runs,
        succeeded: runs.filter((r) => r.state === 'succeeded').length,
      };
    } finally {
      await p.close();
    }
  } finally {
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  }
}
