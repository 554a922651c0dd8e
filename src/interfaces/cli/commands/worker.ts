/**
 * `duck-orch worker`: works queued runs until stopped. On the embedded ledger it holds the
 * database file (and answers other commands on its socket); on PostgreSQL it opens the file only
 * while it holds the database's lease (`app/shared-worker.ts`), and a worker for one `--dag`
 * opens no file at all, so that many of them run side by side in one folder.
 */
import { DuckorchError } from '../../../errors.js';
import type { RunEvent } from '../../../runtime/worker.js';
import type { Cli } from '../cli.js';
import { printJson, type Output } from '../render.js';

interface WorkerFlags {
  concurrency?: string;
  once?: boolean;
  grace: string;
  pollInterval?: string;
  workerId?: string;
}

/** What a worker did, for its log's last line and `--json`. */
class Tally {
  readonly startedAt = new Date();
  readonly jobs = { started: 0, succeeded: 0, retried: 0, dead: 0, cancelled: 0, skipped: 0, released: 0, recovered: 0 };

  onEvent(e: RunEvent): void {
    if (e.type === 'start') this.jobs.started++;
    else if (e.type === 'retry') this.jobs.retried++;
    else if (e.type === 'release') this.jobs.released++;
    else if (e.type === 'recovered') this.jobs.recovered++;
    else if (e.type === 'finish' || e.type === 'skip') {
      const state = e.job.state;
      if (state === 'succeeded' || state === 'dead' || state === 'cancelled') this.jobs[state]++;
      else this.jobs.skipped++;
    }
  }

  print(o: Output, worker: string): void {
    if (o.json) printJson(o, { worker, pid: process.pid, started_at: this.startedAt, stopped_at: new Date(), jobs: this.jobs });
  }
}

function seconds(flag: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new DuckorchError('USAGE', `${flag} must be a number of seconds, got \`${text}\``);
  return n;
}

export function workerCommands(cli: Cli): void {
  const { program, output, config, dagOption, withProject, serving, io } = cli;
  program
    .command('worker')
    .description('work queued runs until stopped (Ctrl-C or SIGTERM: in-flight jobs finish or go back to the queue)')
    .option('-c, --concurrency <n>', 'jobs to work at once (default: orch_max_parallel, 4)')
    .option('--once', 'exit when no job is left to work')
    .option('--grace <seconds>', 'on shutdown, how long in-flight jobs may take to finish before they are handed back', '30')
    .option(
      '--poll-interval <seconds>',
      'how often an idle worker looks for work when no notification wakes it (default: orch_poll_interval, 0.2)',
    )
    .option('--worker-id <id>', 'the name this worker claims jobs under (default: worker-<pid>-<random>)')
    .action(async (opts: WorkerFlags) => {
      const o = output();
      const grace = seconds('--grace', opts.grace);
      const poll = opts.pollInterval === undefined ? undefined : seconds('--poll-interval', opts.pollInterval);
      const [{ createProgress }, { randomUUID }] = await Promise.all([import('../progress.js'), import('node:crypto')]);
      const progress = createProgress(false, { write: (line) => io.err(line.replace(/\n$/, '')) });
      const tally = new Tally();
      const workerId = opts.workerId ?? `worker-${process.pid}-${randomUUID().slice(0, 8)}`;
      const shutdown = new AbortController();
      // A shutdown is not a verdict: stop claiming, let in-flight jobs finish, hand back the rest.
      const onSignal = () => shutdown.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const cfg = await config({ orch_max_parallel: opts.concurrency }, { orch_max_parallel: '--concurrency' });
      const common = {
        workerId,
        shutdown: shutdown.signal,
        graceMs: grace * 1000,
        pollMs: Math.max(10, (poll ?? cfg.orch_poll_interval) * 1000),
        onEvent: (e: RunEvent) => {
          tally.onEvent(e);
          progress.onEvent(e);
        },
        // Timestamped like the job lines around them.
        onNotice: (message: string) => o.err(`${new Date().toISOString()} ${message}`),
        ...(opts.once ? { untilIdle: true } : {}),
      };
      const until = opts.once ? ' (until idle)' : '';
      try {
        if (cfg.orch_store === 'postgres' && !dagOption()) {
          // The registry's worker on a shared ledger: the file only while it holds the database's lease.
          const [{ workShared }, { serveProject }] = await Promise.all([
            import('../../../app/shared-worker.js'),
            import('../../../app/remote/socket.js'),
          ]);
          await workShared({
            ...common,
            config: cfg,
            access: 'write',
            log: (line) => o.err(`worker ${process.pid} ${line}`),
            onStarted: (id) => o.err(`worker ${process.pid} started on ${cfg.db} as ${id}${until}`),
            // While it holds the file, other commands on this machine reach the project through it.
            onHold: async (p) => {
              const server = await serveProject(p, { command: 'worker', pid: process.pid, db: p.dbFile }, (joined) =>
                p.runForOther(joined, false),
              );
              // Not awaited: a run joined through the socket is followed in the ledger, not in the file.
              return async () => void server.close();
            },
          });
        } else {
          await withProject(
            'write',
            async (p) => {
              const { startMetrics } = await import('../metrics.js');
              const metrics = startMetrics(p, (line) => o.err(line));
              const work = async () => {
                o.err(
                  `worker ${process.pid} started on ${cfg.orch_store === 'postgres' ? `DAG ${dagOption()}` : p.dbFile} as ${workerId}${until}`,
                );
                try {
                  await p.work({
                    ...common,
                    onEvent: (e) => {
                      metrics.onEvent(e);
                      common.onEvent(e);
                    },
                  });
                } finally {
                  metrics.stop();
                }
              };
              // A DAG's worker on a shared ledger holds no file, so it has nothing to answer for: the
              // ledger answers everyone. Holding the file, a worker answers on its socket.
              if (cfg.orch_store === 'postgres') return work();
              return serving(p, 'worker', (joined) => p.runForOther(joined, false), work);
            },
            { orch_max_parallel: opts.concurrency },
            { orch_max_parallel: '--concurrency' },
          );
        }
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
      o.err(`worker ${process.pid} stopped`);
      tally.print(o, workerId);
    });
}
