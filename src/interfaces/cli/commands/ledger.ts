/** Commands about the ledger itself: its tables in PostgreSQL, DAG snapshots, Orchex's demo. */
import pc from 'picocolors';
import { shortSnapshotId } from '../../../model/jobs/short-snapshot-id.js';
import type { InitResult } from '../../../app/project.js';
import { ExitCode, wholeNumberOption, type Cli, type GlobalOptions } from '../cli.js';
import { colourStatus, formatTime, printJson, table } from '../render.js';

export function ledgerCommands(cli: Cli): void {
  const { program, output, config, dagOption, withProject } = cli;

  program
    .command('init-db')
    .description('create or migrate the ledger’s tables in PostgreSQL (DATABASE_URL, schema orch_pg_schema); workers need it done once')
    .action(async () => {
      const o = output();
      const cfg = await config();
      const { initSharedLedger, Project } = await import('../../../app/project.js');
      const embedded = async (): Promise<InitResult> => {
        // The embedded ledger lives in the project database and is migrated whenever it is opened to write.
        const p = await Project.open({ config: cfg, access: 'create' });
        try {
          return { store: 'duckdb', where: p.dbFile, schema: '__orch__', ...(await p.database()).store.migrated };
        } finally {
          await p.close();
        }
      };
      const r = cfg.orch_store === 'postgres' ? await initSharedLedger(cfg) : await embedded();
      // As Orchex's init-db: with --dag, the DAG gets an active snapshot when it has none yet.
      const snap =
        dagOption() && r.store === 'postgres'
          ? await withProject('ledger', async (p) =>
              (await p.dagSnapshots()).some((d) => d.active) ? undefined : p.snapshot({ activate: true }),
            )
          : undefined;
      if (o.json)
        return printJson(o, {
          store: r.store,
          where: r.where,
          schema: r.schema,
          version: r.version,
          applied: r.applied,
          ...(snap ? { activated: { dag: snap.dag, snapshot_id: snap.snapshotId } } : {}),
        });
      if (r.applied.length === 0) o.out(`Schema ${r.schema} on ${r.where} is already up to date (version ${r.version}).`);
      else
        o.out(
          `Initialised schema ${r.schema} on ${r.where}: version ${r.version}, applied ${r.applied.map((m) => `${m.id} ${m.name}`).join(', ')}.`,
        );
      if (snap) o.out(`Activated snapshot ${shortSnapshotId(snap.snapshotId)} of DAG ${snap.dag} (it had none).`);
    });

  program
    .command('snapshot')
    .description('take a snapshot of --dag’s code for its DAG name; --activate makes it what `--dag <name>` means; --list lists them')
    .option('--activate', 'make the snapshot the DAG’s active one (enqueue and worker with --dag <name> use it)')
    .option('--list', 'list the snapshots taken (of --dag’s DAG, or of every DAG), newest first; * marks the active ones')
    .action(async (opts: { activate?: boolean; list?: boolean }) => {
      const o = output();
      if (opts.list) {
        const rows = await withProject('ledger', (p) => p.dagSnapshots());
        if (o.json)
          return printJson(
            o,
            rows.map((r) => ({
              dag: r.dag,
              snapshot_id: r.snapshotId,
              active: r.active,
              tasks: r.taskCount,
              module: r.module,
              export: r.exportName,
              created_at: r.createdAt,
            })),
          );
        if (rows.length === 0) return o.out('No snapshots yet. Take one with: duck-orch snapshot --activate --dag path/module.ts:export');
        return o.out(
          table([
            ['', 'SNAPSHOT', 'DAG', 'TASKS', 'CREATED', 'MODULE'].map((h) => pc.dim(h)),
            ...rows.map((r) => [
              r.active ? pc.green('*') : ' ',
              shortSnapshotId(r.snapshotId),
              r.dag,
              String(r.taskCount),
              formatTime(r.createdAt),
              `${r.module}:${r.exportName}`,
            ]),
          ]),
        );
      }
      const r = await withProject('ledger', (p) => p.snapshot({ activate: opts.activate === true }));
      if (o.json)
        return printJson(o, {
          dag: r.dag,
          snapshot_id: r.snapshotId,
          tasks: r.taskCount,
          created: r.recorded,
          active: r.active,
          activated: r.activated,
        });
      const id = shortSnapshotId(r.snapshotId);
      const what = `snapshot ${id} of DAG ${r.dag} (${r.taskCount} task${r.taskCount === 1 ? '' : 's'})`;
      if (opts.activate && !r.activated) o.out(`Unchanged, already active: ${what}.`);
      else if (opts.activate) o.out(`${r.recorded ? 'Created and activated' : 'Activated'} ${what}.`);
      else o.out(`${r.recorded ? 'Created' : 'Unchanged:'} ${what}${r.active ? ', active' : '; activate it with --activate'}.`);
    });

  program
    .command('demo')
    .description('seed a demo DAG, activate its snapshot, enqueue a few runs and work them with a worker, then print a summary')
    .option('--postgres', 'put the ledger in PostgreSQL (DATABASE_URL must be set), as on many machines')
    .option('--runs <n>', 'how many runs to enqueue', '3')
    .action(async (opts: { postgres?: boolean; runs: string }) => {
      const o = output();
      const runs = wholeNumberOption('--runs', opts.runs, 1);
      const { runDemo } = await import('../demo.js');
      const g = program.opts<GlobalOptions>();
      const cfg = await config(opts.postgres ? { orch_store: 'postgres' } : {}, opts.postgres ? { orch_store: '--postgres' } : {});
      const summary = await runDemo(cfg, { runs, db: g.db, log: (line) => (o.json ? undefined : o.err(line)) });
      if (o.json) return printJson(o, summary);
      o.out(
        table([
          ['RUN', 'STATE', 'JOBS', 'METADATA'].map((h) => pc.dim(h)),
          ...summary.runs.map((r) => [r.run_id.slice(0, 8), colourStatus(r.state), r.jobs, JSON.stringify(r.metadata)]),
        ]),
      );
      o.out(
        `\nDemo DAG ${summary.dag} (snapshot ${shortSnapshotId(summary.snapshot_id)}) on ${summary.where}: ${summary.succeeded}/${summary.runs.length} runs succeeded`,
      );
      if (summary.succeeded !== summary.runs.length) throw new ExitCode(1);
    });
}
