/**
 * The PostgreSQL ledger's enqueueing: a run and its jobs (or many runs from shared plans) in one
 * statement, each job with the ids of the jobs waiting for it and how many it waits for.
 */
import { randomUUID } from 'node:crypto';
import { PgSnapshots } from './pg-snapshots.js';
import { DEFAULT_PARTITION, type NewRun, type RunRecord, assertDistinctRunIds, duplicateRun, enqueuedRunRecord } from '../ledger.js';
import { type Row } from '../rows.js';
import { quoteIdent } from './schema.js';

/**
 * For each job of a new run, the ids of the jobs of that run waiting for it (those whose upstream
 * names its task, in the same partition, or in any when either is unpartitioned), and for each job how
 * many it waits for. Both follow one rule, so a job never waits for a job that will not tell it.
 */
function dependencies(jobs: NewRun['jobs'], ids: readonly string[]): { downstream: string[][]; waiting: number[] } {
  const byTask = new Map<string, number[]>();
  jobs.forEach((j, i) => {
    const list = byTask.get(j.task);
    if (list) list.push(i);
    else byTask.set(j.task, [i]);
  });
  const downstream: string[][] = jobs.map(() => []);
  const waiting = jobs.map(() => 0);
  jobs.forEach((d, di) => {
    const part = d.partitionKey ?? DEFAULT_PARTITION;
    for (const u of new Set(d.upstream))
      for (const ui of byTask.get(u) ?? []) {
        const upPart = jobs[ui]!.partitionKey ?? DEFAULT_PARTITION;
        if (upPart !== DEFAULT_PARTITION && part !== DEFAULT_PARTITION && upPart !== part) continue;
        downstream[ui]!.push(ids[di]!);
        waiting[di]!++;
      }
  });
  return { downstream, waiting };
}

export abstract class PgEnqueue extends PgSnapshots {
  async enqueueRun(run: NewRun, now: Date): Promise<RunRecord> {
    const tasks = [...new Set(run.jobs.map((j) => j.task))];
    const ids = run.jobs.map(() => randomUUID());
    const { downstream, waiting } = dependencies(run.jobs, ids);
    const dag = run.dag ?? null;
    const metadata = run.metadata ?? {};
    // One statement, one round trip: the run, its jobs and the wake-up commit together (the jobs'
    // foreign key is checked at the end of the statement, when the run is there). A run id taken
    // already inserts nothing.
    const { rows } = await this.q(
      `WITH run AS (
         INSERT INTO ${this.s}.runs (run_id, created_at, snapshot_id, trigger, selector, inputs, planned_tasks, dag_name, metadata, database_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $17, $18, $20) ON CONFLICT (run_id) DO NOTHING RETURNING run_id
       ), jobs AS (
         INSERT INTO ${this.s}.jobs (job_id, run_id, task_name, partition_key, state, attempts, max_attempts, run_at, created_at, updated_at, upstream, waiting,
           downstream, dag_name, database_id)
         SELECT id, $1, task, part, 'pending', 0, attempts, $2, $2, $2, ARRAY(SELECT jsonb_array_elements_text(up)), waiting,
           ARRAY(SELECT jsonb_array_elements_text(down)), $17, db
         FROM unnest($8::text[], $9::text[], $10::text[], $11::int[], $12::jsonb[], $13::int[], $14::jsonb[], $19::text[])
           AS t(id, task, part, attempts, up, waiting, down, db)
         WHERE EXISTS (SELECT 1 FROM run)
       ), wake AS (
         SELECT pg_notify($15, '') FROM run WHERE $16
       )
       SELECT (SELECT count(*) FROM run)::int AS inserted, (SELECT count(*) FROM wake)::int AS woke`,
      [
        run.id,
        now,
        run.snapshotId,
        run.trigger,
        run.selector,
        JSON.stringify(run.inputs),
        tasks,
        ids,
        run.jobs.map((j) => j.task),
        run.jobs.map((j) => j.partitionKey ?? DEFAULT_PARTITION),
        run.jobs.map((j) => Math.max(1, j.maxAttempts)),
        run.jobs.map((j) => JSON.stringify(j.upstream)),
        waiting,
        downstream.map((d) => JSON.stringify(d)),
        this.channelName,
        run.jobs.length > 0,
        dag,
        JSON.stringify(metadata),
        run.jobs.map((j) => j.database ?? null),
        run.database ?? null,
      ],
    );
    if (Number(rows[0]!.inserted) === 0) throw duplicateRun(run.id);
    if (run.jobs.length === 0) return (await this.getRun(run.id))!;
    return enqueuedRunRecord(run, now);
  }

  async enqueueRuns(runs: readonly NewRun[], now: Date): Promise<RunRecord[]> {
    if (runs.length === 0) return [];
    assertDistinctRunIds(runs);
    // Runs of one batch share their list of jobs and, but for their inputs, their fields: each
    // distinct combination is sent once, as a plan (the run's fields, its jobs by position,
    // downstream jobs as positions), and PostgreSQL makes every run and its jobs from it. A run
    // itself is its id, its inputs and its plan. Each table's rows go as one JSON document: a few
    // MB parsed by the server at once instead of a text array per column escaped element by element.
    const plans = new Map<NewRun['jobs'], Map<string, number>>();
    const planned: Row[] = [];
    const templates: Row[] = [];
    let first = 0;
    const rows = runs.map((r) => {
      const fields = [r.snapshotId, r.trigger, r.selector, r.dag ?? null, r.metadata ?? {}, r.database ?? null] as const;
      const key = JSON.stringify(fields);
      let byFields = plans.get(r.jobs);
      if (byFields === undefined) plans.set(r.jobs, (byFields = new Map()));
      let plan = byFields.get(key);
      if (plan === undefined) {
        byFields.set(key, (plan = planned.length));
        const [snap, trig, sel, dag, meta, db] = fields;
        planned.push({ plan, tasks: [...new Set(r.jobs.map((j) => j.task))], snap, trig, sel, dag, meta, db });
        const { downstream, waiting } = dependencies(
          r.jobs,
          r.jobs.map((_, i) => String(i)),
        );
        r.jobs.forEach((j, pos) =>
          templates.push({
            plan,
            pos,
            task: j.task,
            part: j.partitionKey ?? DEFAULT_PARTITION,
            attempts: Math.max(1, j.maxAttempts),
            up: j.upstream,
            waiting: waiting[pos],
            down: downstream[pos]!.map(Number),
            job_db: j.database ?? null,
          }),
        );
      }
      const row = { id: r.id, inp: r.inputs, plan, first };
      first += r.jobs.length;
      return row;
    });
    // The batch's job ids: the start of a random UUID and a 12-digit sequence number (the job's
    // place in the batch), so that a job's downstream ids follow from their positions without a
    // join, and the ids of one batch sit side by side in the primary key's index.
    const prefix = randomUUID().slice(0, 24);
    try {
      await this.tx(async (c) => {
        // The batch's rows are worked on in memory rather than in temporary files.
        await c.query(`SET LOCAL work_mem = '64MB'`);
        await c.query(
          `WITH r AS MATERIALIZED (
             SELECT * FROM json_to_recordset($2::json) AS r(id text, inp jsonb, plan int, first bigint)
           ), p AS MATERIALIZED (
             SELECT * FROM json_to_recordset($4::json)
               AS p(plan int, tasks text[], snap text, trig text, sel text, dag text, meta jsonb, db text)
           ), t AS MATERIALIZED (
             SELECT * FROM json_to_recordset($3::json)
               AS t(plan int, pos int, task text, part text, attempts int, up text[], waiting int, down int[], job_db text)
           ), run AS (
             INSERT INTO ${this.s}.runs (run_id, created_at, snapshot_id, trigger, selector, inputs, planned_tasks, dag_name, metadata, database_id)
             SELECT r.id, $1, p.snap, p.trig, p.sel, coalesce(r.inp, 'null'), p.tasks, p.dag, p.meta, p.db
             FROM r JOIN p USING (plan)
             RETURNING 1
           ), jobs AS (
             INSERT INTO ${this.s}.jobs (job_id, run_id, task_name, partition_key, state, attempts, max_attempts, run_at, created_at, updated_at,
               upstream, waiting, downstream, dag_name, database_id)
             SELECT $5 || lpad(to_hex(r.first + t.pos), 12, '0'), r.id, t.task, t.part, 'pending', 0, t.attempts, $1, $1, $1, t.up, t.waiting,
               ARRAY(SELECT $5 || lpad(to_hex(r.first + d), 12, '0') FROM unnest(t.down) AS d), p.dag, t.job_db
             FROM r JOIN p USING (plan) JOIN t USING (plan)
           ), wake AS (
             SELECT pg_notify($6, '') WHERE EXISTS (SELECT 1 FROM t)
           )
           SELECT (SELECT count(*) FROM run)::int AS inserted, (SELECT count(*) FROM wake)::int AS woke`,
          [now, JSON.stringify(rows), JSON.stringify(templates), JSON.stringify(planned), prefix, this.channelName],
        );
      });
    } catch (err) {
      const e = err as { code?: string; constraint?: string; detail?: string };
      if (e.code === '23505' && e.constraint === 'runs_pkey') throw duplicateRun(/\(run_id\)=\((.*)\)/.exec(e.detail ?? '')?.[1] ?? '?');
      throw err;
    }
    const empty = runs.filter((r) => r.jobs.length === 0).map((r) => r.id);
    const read = new Map(empty.length ? (await this.runRecords('WHERE r.run_id = ANY($1)', [empty])).map((r) => [r.id, r]) : []);
    return runs.map((r) => read.get(r.id) ?? enqueuedRunRecord(r, now));
  }

  /** The channel idle workers LISTEN on: one per schema. */
  protected get channelName(): string {
    return `${this.s.slice(1, -1)}_jobs`;
  }

  protected get channel(): string {
    return quoteIdent(this.channelName);
  }
}
