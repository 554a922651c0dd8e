/** Commands that read the ledger: recent jobs, queue depth, failures, stale leases. */
import pc from 'picocolors';
import { jobLabel } from '../../../model/jobs/job-state.js';
import { limitOption, sinceSeconds, type Cli } from '../cli.js';
import { colourStatus, durationMs, formatMs, formatTime, jobJson, printJson, runJson, table } from '../render.js';

export function historyCommands(cli: Cli): void {
  const { program, output, withProject, withProjectOrHolder } = cli;

  program
    .command('status')
    .description('recent task runs, newest first')
    .option('-n, --limit <n>', 'how many task runs to show', '50')
    .option('-t, --task <name>', 'only runs of this task')
    .action(async (opts: { limit: string; task?: string }) => {
      const o = output();
      const limit = limitOption(opts.limit);
      const { jobs, failedAttempts, runs, removedJobs } = await withProjectOrHolder('ledger', (p) =>
        p.status({ limit, ...(opts.task ? { task: opts.task } : {}) }),
      );
      const removed = new Set(removedJobs);
      const earlier = (id: string) =>
        (failedAttempts.get(id) ?? []).map((a) => ({ attempt: a.attempt, outcome: a.outcome, error: a.error, started_at: a.startedAt }));
      if (o.json) {
        printJson(o, {
          jobs: jobs.map((j) => ({ ...jobJson(j), failed_attempts: earlier(j.id), task_removed: removed.has(j.id) })),
          runs: runs.map(runJson),
        });
        return;
      }
      if (jobs.length === 0) {
        o.out('No runs yet. Start one with: duck-orch run');
        return;
      }
      const errorOf = (j: (typeof jobs)[number]) => {
        const attempts = failedAttempts.get(j.id) ?? [];
        if (j.state !== 'succeeded' || attempts.length === 0) return j.error ?? '';
        return pc.dim(`earlier: ${attempts.map((a) => `#${a.attempt} ${(a.error ?? a.outcome).split('\n')[0]}`).join('; ')}`);
      };
      o.out(
        table([
          ['STARTED', 'TASK', 'STATE', 'DURATION', 'ATTEMPTS', 'ROWS', 'ERROR'].map((h) => pc.dim(h)),
          ...jobs.map((j) => [
            formatTime(j.startedAt ?? j.finishedAt),
            removed.has(j.id) ? `${jobLabel(j)} ${pc.dim('(removed)')}` : jobLabel(j),
            colourStatus(j.state),
            formatMs(durationMs(j)),
            String(j.attempts),
            j.rows === null ? '' : String(j.rows),
            errorOf(j),
          ]),
        ]),
      );
    });

  program
    .command('queue-depth')
    .description('jobs per state, over all runs or one')
    .option('--run <id>', 'only this run')
    .action(async (opts: { run?: string }) => {
      const o = output();
      const depth = await withProjectOrHolder('ledger', (p) => p.queueDepth(opts.run));
      const { JOB_STATES } = await import('../../../model/jobs/job-state.js');
      const counts = Object.fromEntries(JOB_STATES.map((s) => [s, depth[s] ?? 0]));
      if (o.json) return printJson(o, counts);
      o.out(table(JOB_STATES.map((s) => [colourStatus(s), String(counts[s])])));
    });

  program
    .command('failures')
    .description('tasks whose attempts failed recently, most failures first')
    .option('--since <duration>', 'how far back to look (e.g. 24h, 7d)', '24h')
    .option('-n, --limit <n>', 'how many tasks to show', '20')
    .action(async (opts: { since: string; limit: string }) => {
      const o = output();
      const seconds = await sinceSeconds(opts.since);
      const limit = limitOption(opts.limit);
      const rows = await withProjectOrHolder('ledger', (p) => p.failures(seconds, limit));
      if (o.json)
        return printJson(
          o,
          rows.map((r) => ({ task: r.task, failures: r.failures, last_error: r.lastError, last_failed_at: r.lastFailedAt })),
        );
      if (rows.length === 0) return o.out(`No failed attempts in the last ${opts.since}.`);
      o.out(
        table([
          ['TASK', 'FAILURES', 'LAST FAILED', 'LAST ERROR'].map((h) => pc.dim(h)),
          ...rows.map((r) => [r.task, String(r.failures), formatTime(r.lastFailedAt), (r.lastError ?? '').split('\n')[0]!]),
        ]),
      );
    });

  program
    .command('stale-locks')
    .description('jobs whose worker stopped renewing its lease (any live worker takes them back)')
    .action(async () => {
      const o = output();
      const jobs = await withProject('ledger', (p) => p.staleLeases());
      if (o.json)
        return printJson(
          o,
          jobs.map((j) => ({ ...jobJson(j), lease_owner: j.leaseOwner, lease_expires_at: j.leaseExpiresAt })),
        );
      if (jobs.length === 0) return o.out('No stale leases.');
      o.out(
        table([
          ['TASK', 'RUN', 'WORKER', 'STARTED', 'LEASE EXPIRED'].map((h) => pc.dim(h)),
          ...jobs.map((j) => [j.task, j.runId.slice(0, 8), j.leaseOwner ?? '', formatTime(j.startedAt), formatTime(j.leaseExpiresAt)]),
        ]),
      );
    });
}
