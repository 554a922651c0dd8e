/** Commands about assets and their partitions: `backfill`, and the `asset` listings. */
import pc from 'picocolors';
import type { BackfillResult } from '../../../app/project.js';
import { DuckorchError } from '../../../errors.js';
import { jobLabel } from '../../../model/jobs/job-state.js';
import { ExitCode, printWarnings, type Cli } from '../cli.js';
import { colourStatus, describeCounts, durationMs, formatMs, plural, printJson, runJson, type Output } from '../render.js';

/** How many failed partitions the summary names; `--json` lists all. */
const FAILURES_NAMED = 20;

function printBackfill(o: Output, r: BackfillResult, enqueueOnly: boolean): void {
  const failed = r.jobs.filter((j) => j.state !== 'succeeded');
  if (o.json) {
    printJson(o, {
      run: r.run && runJson(r.run),
      planned: r.planned,
      resumed: r.resumed,
      succeeded: r.jobs.filter((j) => j.state === 'succeeded').map((j) => ({ task: j.task, partition_key: j.partitionKey })),
      failed: failed.map((j) => ({ task: j.task, partition_key: j.partitionKey, state: j.state, error: j.error })),
      warnings: r.warnings,
    });
  } else {
    printWarnings(o, r.warnings);
    if (!r.run) return;
    if (enqueueOnly) {
      o.out(`Enqueued backfill run ${r.run.id} (${plural(r.planned, 'partition')}); work it with: duck-orch worker`);
      return;
    }
    for (const j of failed.slice(0, FAILURES_NAMED))
      o.out(`${pc.red('✘')}  ${jobLabel(j)}  ${colourStatus(j.state)}  ${pc.dim((j.error ?? '').split('\n')[0]!)}`);
    if (failed.length > FAILURES_NAMED) o.out(pc.dim(`… and ${failed.length - FAILURES_NAMED} more (--json lists them all)`));
    o.out(
      `${failed.length ? '\n' : ''}Backfill run ${r.run.id.slice(0, 8)} ${colourStatus(r.run.state)}: ${describeCounts(r.run.counts)} in ${formatMs(durationMs(r.run))}`,
    );
    if (failed.length) o.out(`take the failed partitions again with: duck-orch retry-failed --run ${r.run.id.slice(0, 8)}`);
  }
  if (r.run && !enqueueOnly && r.run.state !== 'succeeded') throw new ExitCode(r.run.state === 'cancelled' ? 130 : 1);
}

export function assetsCommands(cli: Cli): void {
  const { program, output, withRunProgress, withProject } = cli;

  program
    .command('backfill')
    .description('build partitions of assets as one run: a range (--from/--to, inclusive), keys, dimension values or what is missing')
    .argument('<asset...>', 'assets (or the tasks that materialise them)')
    .option('--from <key>', 'first partition (a date or key; inclusive)')
    .option('--to <key>', 'last partition (inclusive)')
    .option('--partition <key...>', 'these partitions')
    .option('--where <dim=value...>', 'only partitions whose dimension has this value (multi partitions), e.g. region=jp')
    .option('--missing', 'only partitions without a successful materialisation')
    .option('--all', 'every partition that exists now')
    .option('-p, --max-parallel <n>', 'partitions to build at once (default: orch_max_parallel, 4)')
    .option('--enqueue', 'only enqueue the run; `duck-orch worker` processes work it')
    .action(
      async (
        assets: string[],
        opts: {
          from?: string;
          to?: string;
          partition?: string[];
          where?: string[];
          missing?: boolean;
          all?: boolean;
          maxParallel?: string;
          enqueue?: boolean;
        },
      ) => {
        const o = output();
        if (
          !opts.all &&
          !opts.missing &&
          opts.from === undefined &&
          opts.to === undefined &&
          !opts.partition?.length &&
          !opts.where?.length
        )
          throw new DuckorchError('USAGE', 'backfill: say which partitions', {
            expected: '--from/--to (a range), --partition <key…>, --where dim=value, --missing or --all',
          });
        const spec = {
          assets,
          ...(opts.from !== undefined ? { from: opts.from } : {}),
          ...(opts.to !== undefined ? { to: opts.to } : {}),
          ...(opts.partition?.length ? { partitions: opts.partition } : {}),
          ...(opts.where?.length ? { where: opts.where } : {}),
          ...(opts.missing ? { missing: true } : {}),
        };
        if (opts.enqueue) {
          const r = await withProject('ledger', (p) => p.backfill({ ...spec, enqueueOnly: true }), {}, {}, 'migrate');
          return printBackfill(o, r, true);
        }
        printBackfill(o, await withRunProgress(o, (p, progress) => p.backfill({ ...spec, ...progress }), opts.maxParallel), false);
      },
    );
}
