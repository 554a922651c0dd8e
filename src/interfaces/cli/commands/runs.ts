/** Commands that plan, run, retry and cancel runs. */
import pc from 'picocolors';
import type { RunResult } from '../../../app/project.js';
import { DuckorchError } from '../../../errors.js';
import { shortSnapshotId } from '../../../model/jobs/short-snapshot-id.js';
import type { RequeuedJob } from '../../../store/ledger.js';
import { parseJsonOption, printRunResult, printWarnings, requeueFilter, selectOptions, selectionOf, type Cli } from '../cli.js';
import { colourStatus, jobJson, plural, printJson, runJson, table, type Output } from '../render.js';

/** How many runs the summary of a requeue names; `--json` and `--dry-run` list every job. */
const RUNS_NAMED = 10;

/** What `retry-dead` / `retry-failed` across runs requeued (or, dry, would): how many jobs, of which runs and snapshots. */
function printRequeued(o: Output, state: 'dead' | 'failed', jobs: readonly RequeuedJob[], dryRun: boolean): void {
  if (o.json)
    return printJson(o, {
      requeued: jobs.length,
      dry_run: dryRun,
      jobs: jobs.map((j) => ({ job_id: j.id, run_id: j.runId, task: j.task, partition_key: j.partitionKey, snapshot_id: j.snapshotId })),
    });
  const snapshot = (id: string | null) => (id === null ? 'none' : shortSnapshotId(id));
  const runs = new Map<string, { snapshotId: string | null; jobs: number }>();
  for (const j of jobs) {
    const run = runs.get(j.runId) ?? { snapshotId: j.snapshotId, jobs: 0 };
    run.jobs++;
    runs.set(j.runId, run);
  }
  const named = [...runs]
    .slice(0, RUNS_NAMED)
    .map(([id, r]) => `${id.slice(0, 8)} (snapshot ${snapshot(r.snapshotId)}, ${plural(r.jobs, 'job')})`);
  const more = runs.size > named.length ? `, and ${runs.size - named.length} more` : '';
  const what = plural(jobs.length, `${state} job`) + (jobs.length > 0 ? ` of ${plural(runs.size, 'run')}: ${named.join(', ')}${more}` : '');
  if (!dryRun) return o.out(`Requeued ${what}.${jobs.length > 0 ? ' Work them with: duck-orch worker' : ''}`);
  if (jobs.length > 0)
    o.out(
      table([
        ['RUN', 'SNAPSHOT', 'TASK', 'JOB'].map((h) => pc.dim(h)),
        ...jobs.map((j) => [j.runId.slice(0, 8), snapshot(j.snapshotId), j.task, j.id]),
      ]),
    );
  o.out(`Would requeue ${what} (--dry-run: nothing changed).`);
}

/** `retry-failed` of a run with no job to retry: said, the run left as it was; exit 0. */
function printNothingToRetry(o: Output, { run, jobs, warnings }: RunResult): void {
  if (o.json) return printJson(o, { run: run && runJson(run), jobs: jobs.map(jobJson), warnings, retried: 0 });
  const unfinished = jobs.filter((j) => j.state === 'pending' || j.state === 'processing').length;
  o.out(
    `nothing to retry in run ${run!.id.slice(0, 8)}: ` +
      (unfinished === 0
        ? 'every job succeeded'
        : `no job failed; ${plural(unfinished, 'job')} still to run (duck-orch worker --once works ${unfinished === 1 ? 'it' : 'them'})`),
  );
}

export function runsCommands(cli: Cli): void {
  const { program, output, dagOption, withProject, withProjectOrHolder, holderOf, withRunProgress } = cli;

  selectOptions(
    program
      .command('run')
      .description('run the registered tasks (or a selection) in dependency order')
      .option('-p, --max-parallel <n>', 'tasks to run at once (default: orch_max_parallel, 4)')
      .option('--full-refresh', 'ignore recorded @incremental_by watermarks: incremental tasks load from the beginning')
      .option('--partition <key>', 'build this partition of the selected partitioned tasks (a plain run leaves them to backfill)')
      .option('--stale', 'build exactly what `duck-orch plan` lists as stale (and stale partitions)')
      .option('--wait', 'when another run or worker holds the database, wait for it to finish instead of handing this run to it'),
  ).action(
    async (opts: {
      select?: string[];
      exclude?: string[];
      maxParallel?: string;
      fullRefresh?: boolean;
      partition?: string;
      stale?: boolean;
      wait?: boolean;
    }) => {
      const o = output();
      if (opts.stale && opts.partition !== undefined)
        throw new DuckorchError('USAGE', '--stale and --partition cannot go together: --stale picks the stale partitions itself');
      const partition = opts.partition !== undefined ? { partition: opts.partition } : {};
      const fullRefresh = opts.fullRefresh ? { fullRefresh: true } : {};
      const runHere = () =>
        withRunProgress(
          o,
          (p, progress) =>
            opts.stale
              ? p.runStale({ ...selectionOf(opts), ...progress, ...fullRefresh })
              : p.run({ ...selectionOf(opts), ...partition, ...progress, ...fullRefresh }),
          opts.maxParallel,
        );
      for (let waited = 0; ; waited++) {
        try {
          return printRunResult(o, await runHere());
        } catch (err) {
          if (!(err instanceof DuckorchError && err.code === 'DB_LOCKED')) throw err;
          if (opts.wait) {
            // The holder's socket could say when it ends, but it may be a short command with none: look again shortly.
            if (waited === 0) o.err(`${err.message}; waiting for it to finish (--wait)`);
            await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 100 * 2 ** Math.min(waited, 4))));
            continue;
          }
          const holder = await holderOf();
          if (!holder)
            throw new DuckorchError('DB_LOCKED', err.message, {
              hint: 'wait for it to finish (`run --wait` does that), or stop it; a `duck-orch run` or `worker` holding it would have taken this run over',
            });
          const info = await holder.holder();
          if (!o.json) o.err(`${info.db} is held by duck-orch ${info.command} (pid ${info.pid}): it works this run; following it`);
          const parallel = opts.maxParallel === undefined ? undefined : Number(opts.maxParallel);
          return printRunResult(
            o,
            await holder.join({
              ...selectionOf(opts),
              ...partition,
              ...(parallel !== undefined && Number.isInteger(parallel) && parallel > 0 ? { maxParallel: parallel } : {}),
              ...(opts.fullRefresh ? { fullRefresh: true } : {}),
            }),
          );
        }
      }
    },
  );

  program
    .command('retry-failed')
    .description(
      'run again what a run (by default the latest) did not finish: dead, blocked, skipped and cancelled jobs, not what succeeded; ' +
        'with --task, --since, --min-attempts or --all-runs, put failed jobs (waiting for a retry) of every run back in the queue at once, as Orchex does',
    )
    .option('--run <id>', 'the run to retry (its id or the first characters of it)')
    .option('-p, --max-parallel <n>', 'tasks to run at once (default: orch_max_parallel, 4)')
    .option('-t, --task <name>', 'across runs: only failed jobs of this task')
    .option('--since <duration|time>', 'across runs: only jobs that failed in this last while (24h) or since this ISO time')
    .option('--min-attempts <n>', 'across runs: only jobs that have had at least this many attempts')
    .option('--all-runs', 'across runs, with no filter: every failed job')
    .option('--dry-run', 'across runs: list the failed jobs that would be requeued, and change nothing')
    .action(
      async (opts: {
        run?: string;
        maxParallel?: string;
        task?: string;
        since?: string;
        minAttempts?: string;
        allRuns?: boolean;
        dryRun?: boolean;
      }) => {
        const o = output();
        if (opts.task !== undefined || opts.since !== undefined || opts.minAttempts !== undefined || opts.allRuns) {
          if (opts.run !== undefined)
            throw new DuckorchError('USAGE', '--run retries one run; --task, --since, --min-attempts and --all-runs requeue across runs', {
              hint: 'give one or the other',
            });
          const filter = await requeueFilter(opts);
          return printRequeued(o, 'failed', await withProject('ledger', (p) => p.retryFailedJobs(filter)), opts.dryRun === true);
        }
        if (opts.dryRun)
          throw new DuckorchError(
            'USAGE',
            '--dry-run lists the failed jobs that --task, --since, --min-attempts or --all-runs would requeue',
            {
              hint: 'add one of them (--all-runs: every failed job of every run)',
            },
          );
        const result = await withRunProgress(
          o,
          (p, progress) => p.retryFailed({ ...progress, ...(opts.run ? { runId: opts.run } : {}) }),
          opts.maxParallel,
        );
        if (result.retried === 0) return printNothingToRetry(o, result);
        printRunResult(o, result, { retried: result.retried });
      },
    );

  program
    .command('retry-dead')
    .description('put dead jobs back in the queue, across runs (what they blocked follows as they succeed); a worker works them')
    .option('-t, --task <name>', 'only jobs of this task')
    .option('--since <duration|time>', 'only jobs that died in this last while (e.g. 24h) or since this ISO time')
    .option('--min-attempts <n>', 'only jobs that have had at least this many attempts')
    .option('--dry-run', 'list the dead jobs that would be requeued, and change nothing')
    .action(async (opts: { task?: string; since?: string; minAttempts?: string; dryRun?: boolean }) => {
      const o = output();
      const filter = await requeueFilter(opts);
      printRequeued(o, 'dead', await withProject('ledger', (p) => p.retryDead(filter)), opts.dryRun === true);
    });

  selectOptions(
    program
      .command('enqueue')
      .description('create a run of the registered tasks (or a selection) without working it; `duck-orch worker` works it')
      .option('--inputs <json>', 'JSON payload the run’s root TypeScript tasks receive')
      .option('--metadata <json>', 'a JSON object kept with the run (shown by status --json)')
      .option('--run-id <uuid>', 'the run’s id (default: a new UUID); an id that exists is refused')
      .option('--partition <key>', 'this partition of the selected partitioned tasks'),
  ).action(
    async (opts: { select?: string[]; exclude?: string[]; inputs?: string; metadata?: string; runId?: string; partition?: string }) => {
      const o = output();
      const inputs = opts.inputs === undefined ? null : parseJsonOption('--inputs', opts.inputs);
      const metadata = opts.metadata === undefined ? undefined : parseJsonOption('--metadata', opts.metadata);
      if (metadata !== undefined && (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)))
        throw new DuckorchError('USAGE', `--metadata must be a JSON object, got \`${opts.metadata}\``, {
          hint: `e.g. --metadata '{"source": "nightly"}'`,
        });
      const { run, warnings } = await withProjectOrHolder('ledger', (p) =>
        p.enqueue({
          ...selectionOf(opts),
          inputs,
          ...(metadata !== undefined ? { metadata } : {}),
          ...(opts.runId !== undefined ? { runId: opts.runId } : {}),
          ...(opts.partition !== undefined ? { partition: opts.partition } : {}),
        }),
      );
      if (o.json) return printJson(o, { run: run && runJson(run), warnings });
      printWarnings(o, warnings);
      if (!run) return;
      // A DAG's runs are worked by that DAG's workers (named as this command named it: a module
      // never activated has no name to go by); the registry's by a plain worker.
      const how = run.dag !== null ? `duck-orch --dag ${dagOption() ?? run.dag} worker` : 'duck-orch worker';
      o.out(`Enqueued run ${run.id} (${run.tasks.length} task${run.tasks.length === 1 ? '' : 's'}); work it with: ${how}`);
    },
  );

  program
    .command('cancel')
    .description('cancel a run: its unfinished jobs end cancelled')
    .argument('<run>', 'the run id, or the first characters of it')
    .action(async (id: string) => {
      const o = output();
      const { run, cancelled, stopping } = await withProjectOrHolder('ledger', (p) => p.cancel(id));
      if (o.json) return printJson(o, { run: runJson(run), cancelled, stopping });
      o.out(
        `Cancelled ${cancelled} job${cancelled === 1 ? '' : 's'} of run ${run.id.slice(0, 8)} (${colourStatus(run.state)})` +
          (stopping > 0
            ? `; ${stopping} in flight stop${stopping === 1 ? 's' : ''} at ${stopping === 1 ? 'its' : 'their'} worker's next heartbeat`
            : ''),
      );
    });
}
