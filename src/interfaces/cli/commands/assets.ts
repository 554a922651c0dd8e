/** Commands about assets and their partitions: `backfill`, and the `asset` listings. */
import pc from 'picocolors';
import type { BackfillResult } from '../../../app/project.js';
import { DuckorchError } from '../../../errors.js';
import { DEFAULT_PARTITION, jobLabel } from '../../../model/jobs/job-state.js';
import { ExitCode, limitOption, printWarnings, selectOptions, selectionOf, type Cli } from '../cli.js';
import {
  assetCard,
  checkResultJson,
  checkTable,
  assetJson,
  freshnessJson,
  healthJson,
  healthTable,
  materializationJson,
  materializationRows,
  partitionCalendar,
  partitionsJson,
} from '../asset-render.js';
import { colourStatus, describeCounts, durationMs, formatMs, plural, printJson, runJson, table, type Output } from '../render.js';

/** How many failed partitions the summary names; `--json` lists all. */
const FAILURES_NAMED = 20;

function printBackfill(o: Output, r: BackfillResult, enqueueOnly: boolean, what: 'Backfill' | 'Restate' = 'Backfill'): void {
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
      `${failed.length ? '\n' : ''}${what} run ${r.run.id.slice(0, 8)} ${colourStatus(r.run.state)}: ${describeCounts(r.run.counts)} in ${formatMs(durationMs(r.run))}`,
    );
    if (failed.length) o.out(`take the failed partitions again with: duck-orch retry-failed --run ${r.run.id.slice(0, 8)}`);
  }
  if (r.run && !enqueueOnly && r.run.state !== 'succeeded') throw new ExitCode(r.run.state === 'cancelled' ? 130 : 1);
}

export function assetsCommands(cli: Cli): void {
  const { program, output, withRunProgress, withProject, withProjectOrHolder } = cli;

  const asset = program.command('asset').description('assets: list, show, materializations, partitions, health');

  asset
    .command('list')
    .alias('ls')
    .description('every asset, with its kind, group, task and partitions')
    .option('--group <name>', 'only the assets of this group')
    .option('--stale', 'only the stale ones (see duck-orch plan)')
    .action(async (opts: { group?: string; stale?: boolean }) => {
      const o = output();
      const { all, stale, health } = await withProjectOrHolder('ledger', async (p) => ({
        all: await p.asset('list', opts.group !== undefined ? { group: opts.group } : {}),
        stale: opts.stale ? new Set((await p.plan({})).assets.map((a) => a.asset)) : undefined,
        // Each asset's freshness, for the JSON document (what automation's freshness_violated() reads).
        health: o.json ? new Map((await p.asset('health')).map((h) => [h.name, h])) : undefined,
      }));
      const assets = stale ? all.filter((a) => stale.has(a.name)) : all;
      if (o.json)
        return printJson(
          o,
          assets.map((a) => ({ ...assetJson(a), freshness: health?.get(a.name) ? freshnessJson(health.get(a.name)!) : null })),
        );
      if (assets.length === 0)
        return o.out(opts.stale ? 'no stale asset' : opts.group !== undefined ? `no asset in group ${opts.group}` : 'no assets registered');
      o.out(
        table([
          ['ASSET', 'KIND', 'GROUP', 'TASK', 'PARTITIONS'].map((h) => pc.dim(h)),
          ...assets.map((a) => [a.name, a.kind, a.group ?? '', a.definedByTask, a.partitions?.description ?? '']),
        ]),
      );
    });

  asset
    .command('show')
    .description('one asset: kind, group, owner, code version, deps, partitions, checks, freshness, last materialisation')
    .argument('<asset>')
    .action(async (name: string) => {
      const o = output();
      const r = await withProjectOrHolder('ledger', (p) => p.asset('show', name));
      if (o.json)
        return printJson(o, {
          ...assetJson(r.asset),
          freshness: freshnessJson(r.freshness),
          last_materialization: r.last && materializationJson(r.last),
          partition_status: r.partitions && partitionsJson(r.partitions),
        });
      o.out(assetCard(r.asset, r.last, r.freshness, r.partitions));
    });

  asset
    .command('materializations')
    .description("an asset's materialisations, newest first")
    .argument('<asset>')
    .option('-n, --limit <n>', 'how many', '50')
    .option('--partition <key>', 'only this partition')
    .action(async (name: string, opts: { limit: string; partition?: string }) => {
      const o = output();
      const limit = limitOption(opts.limit);
      const r = await withProjectOrHolder('ledger', (p) =>
        p.asset('materializations', name, { limit, ...(opts.partition !== undefined ? { partitionKey: opts.partition } : {}) }),
      );
      if (o.json) return printJson(o, r.materializations.map(materializationJson));
      if (r.materializations.length === 0) return o.out(`${r.asset.name} has not been materialised yet`);
      o.out(materializationRows(r.materializations));
    });

  asset
    .command('partitions')
    .description("an asset's partitions: a calendar (✅ ok 🟡 running ❌ failed ⚪ missing) and a status line")
    .argument('<asset>')
    .action(async (name: string) => {
      const o = output();
      const r = await withProjectOrHolder('ledger', async (p) => ({ view: await p.asset('partitions', name), name }));
      if (!r.view) {
        if (o.json) return printJson(o, { asset: name, partitioned: false });
        return o.out(`Asset ${name} is not partitioned`);
      }
      if (o.json) return printJson(o, partitionsJson(r.view));
      o.out(partitionCalendar(r.view));
    });

  asset
    .command('health')
    .description('per asset: freshness (ok, violated since when, none) and the last 24 hours of materialisations')
    .action(async () => {
      const o = output();
      const rows = await withProjectOrHolder('ledger', (p) => p.asset('health'));
      if (o.json) return printJson(o, rows.map(healthJson));
      if (rows.length === 0) return o.out('no assets registered');
      o.out(healthTable(rows));
    });

  selectOptions(
    program
      .command('plan')
      .description(
        'what is stale and why (never materialised, failed, code changed, upstream newer), and what it rebuilds downstream; runs nothing',
      ),
  ).action(async (opts: { select?: string[]; exclude?: string[] }) => {
    const o = output();
    const { assets, warnings } = await withProjectOrHolder('ledger', (p) => p.plan(selectionOf(opts)));
    if (o.json) return printJson(o, assets);
    printWarnings(o, warnings);
    if (assets.length === 0) return o.out('Nothing is stale: every asset is up to date.');
    o.out(`${plural(assets.length, 'stale asset')}:`);
    for (const a of assets) {
      const what = a.partitions
        ? `${a.partitions.stale} of ${plural(a.partitions.total, 'partition')}: ${Object.entries(a.partitions.counts)
            .map(([k, n]) => `${n} ${k.replaceAll('_', ' ')}`)
            .join(', ')} (${a.partitions.keys.join(', ')}${a.partitions.stale > a.partitions.keys.length ? ', …' : ''})`
        : a.reasons.map((r) => r.text).join('; ');
      o.out(`  ${pc.bold(a.asset)} ${pc.dim(`(task ${a.task})`)}: ${what}`);
      if (a.partitions) for (const r of a.reasons) o.out(pc.dim(`    ${r.text}`));
      if (a.downstream.length) o.out(pc.dim(`    rebuilds downstream: ${a.downstream.join(', ')}`));
    }
    o.out(`Build them with: duck-orch run --stale`);
  });

  const check = program.command('check').description("assets' @checks: run them now, or read their history");

  check
    .command('run')
    .description("run an asset's @checks against its current data (a partitioned asset's latest materialised partition unless --partition)")
    .argument('<asset>')
    .option('--partition <key>', 'check this partition')
    .action(async (name: string, opts: { partition?: string }) => {
      const o = output();
      const r = await withProjectOrHolder('write', (p) =>
        p.asset('checkRun', name, opts.partition !== undefined ? { partitionKey: opts.partition } : {}),
      );
      if (o.json) printJson(o, { asset: r.asset, partition_key: r.partitionKey, results: r.results.map(checkResultJson) });
      else {
        // Which data was checked, when the asset is partitioned (the latest materialised unless told).
        if (r.partitionKey !== DEFAULT_PARTITION) o.out(`${r.asset}, partition ${r.partitionKey}:`);
        o.out(checkTable(r.results, false));
      }
      if (r.results.some((c) => !c.passed && c.severity === 'error')) throw new ExitCode(1);
    });

  check
    .command('history')
    .description("an asset's check results, newest first")
    .argument('<asset>')
    .option('-n, --limit <n>', 'how many', '20')
    .action(async (name: string, opts: { limit: string }) => {
      const o = output();
      const limit = limitOption(opts.limit);
      const r = await withProjectOrHolder('ledger', (p) => p.asset('checkHistory', name, limit));
      if (o.json) return printJson(o, r.results.map(checkResultJson));
      if (r.results.length === 0) return o.out(`no check of ${r.asset} has run yet`);
      o.out(checkTable(r.results, true));
    });

  program
    .command('restate')
    .description(
      'build a range of an asset again: an interval task forgets what it processed there and processes it anew; a partitioned one rebuilds its partitions',
    )
    .argument('<asset>')
    .requiredOption('--from <date|time>', 'start of the range (a date is its whole day)')
    .requiredOption('--to <date|time>', 'end of the range, inclusive (a date is its whole day)')
    .option('-p, --max-parallel <n>', 'batches or partitions to build at once (default: orch_max_parallel, 4)')
    .action(async (asset: string, opts: { from: string; to: string; maxParallel?: string }) => {
      const o = output();
      printBackfill(
        o,
        await withRunProgress(
          o,
          (p, progress) => p.restate({ assets: [asset], from: opts.from, to: opts.to, ...progress }),
          opts.maxParallel,
        ),
        false,
        'Restate',
      );
    });

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
