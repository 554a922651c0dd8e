/** Commands about the definitions: register and validate task files, list them, draw the graph, walk lineage, run their `@test`s, query the data. */
import { Command } from 'commander';
import path from 'node:path';
import pc from 'picocolors';
import { DuckorchError } from '../../../errors.js';
import { GRAPH_MODES, type GraphMode } from '../../../model/graph/mermaid.js';
import { ExitCode, printWarnings, selectOptions, selectionOf, type Cli } from '../cli.js';
import { plural, printJson, renderError, renderWarning, table } from '../render.js';

export function definitionsCommands(cli: Cli): void {
  const { program, output, config, withProject, withProjectOrHolder, holderOf } = cli;

  program
    .command('register')
    .description('parse and register every *.sql task file under a folder (all-or-nothing)')
    .argument('<dir>', 'folder of task files')
    .option(
      '--strict',
      'treat warnings (a table read that no task writes and the database lacks, unknown header keys, …) as errors, e.g. in CI',
    )
    .action(async (dir: string, opts: { strict?: boolean }) => {
      const o = output();
      const options = { strict: opts.strict === true };
      const result = await withProject('create', (p) => p.register(dir, options), {}, {}, 'migrate').catch(async (err: unknown) => {
        // While a run or worker holds the database, it registers (the folder by its absolute path: its working directory is not ours).
        const holder = err instanceof DuckorchError && err.code === 'DB_LOCKED' ? await holderOf() : undefined;
        if (!holder) throw err;
        return holder.register(path.resolve(dir), options);
      });
      if (o.json) {
        const { leftBehind, ...rest } = result;
        printJson(o, { ...rest, left_behind: leftBehind, warnings: result.warnings.map((w) => w.toJSON()) });
        return;
      }
      for (const w of result.warnings) o.err(renderWarning(w));
      const counts = (c: string) => result.tasks.filter((t) => t.change === c).length;
      o.out(
        `Registered ${result.tasks.length} task${result.tasks.length === 1 ? '' : 's'} from ${result.root} ` +
          `(${counts('added')} added, ${counts('changed')} changed, ${counts('unchanged')} unchanged, ${result.removed.length} removed)`,
      );
      for (const t of result.tasks)
        if (t.change !== 'unchanged') o.out(`  ${t.change === 'added' ? pc.green('+') : pc.yellow('~')} ${t.name}  ${pc.dim(t.file)}`);
      for (const n of result.removed) {
        const tables = result.leftBehind.filter((l) => l.task === n).map((l) => l.table);
        o.out(`  ${pc.red('-')} ${n}${tables.length ? pc.dim(`  (left behind in the database: ${tables.join(', ')})`) : ''}`);
      }
    });

  program
    .command('validate')
    .description('check task files, or a whole project folder, without a database; reports every error')
    .argument('<paths...>', 'task files (.sql) or folders (a folder is checked as a project: cycles, two writers, unknown dependencies)')
    .option('--strict', 'treat warnings (unknown header keys, untracked statements, …) as errors, e.g. in CI')
    .action(async (paths: string[], opts: { strict?: boolean }) => {
      const o = output();
      const [{ validatePaths }, { taskToJson }] = await Promise.all([
        import('../../../app/registration.js'),
        import('../../../model/taskfile/task-json.js'),
      ]);
      const v = await validatePaths(paths);
      const failing = (errors: readonly unknown[], warnings: readonly unknown[]) =>
        errors.length > 0 || (opts.strict === true && warnings.length > 0);
      const valid = !failing(v.errors, v.warnings) && v.files.every((f) => !failing(f.errors, f.warnings));
      if (o.json) {
        const items = v.files.map((f) => ({
          file: f.file,
          valid: !failing(f.errors, f.warnings),
          task: f.task && f.errors.length === 0 ? taskToJson(f.task) : null,
          errors: f.errors.map((e) => e.toJSON()),
          warnings: f.warnings.map((w) => w.toJSON()),
        }));
        if (items.length === 1 && !v.project) printJson(o, items[0]);
        else printJson(o, { valid, files: items, errors: v.errors.map((e) => e.toJSON()), warnings: v.warnings.map((w) => w.toJSON()) });
      } else {
        for (const w of v.warnings) o.err(renderWarning(w));
        for (const f of v.files) {
          for (const e of f.errors) o.err(renderError(e));
          for (const w of f.warnings) o.err(renderWarning(w));
          const t = f.task;
          if (f.errors.length > 0) o.out(`${pc.red('invalid')} ${f.file}: ${plural(f.errors.length, 'error')}`);
          else if (t)
            o.out(
              `${pc.green('ok')} ${f.file}: task ${t.name} reads ${t.inputs.join(', ') || 'nothing'}; writes ${t.outputs.join(', ') || 'nothing'}`,
            );
          else o.out(`${pc.dim('skipped')} ${f.file}: not a task`);
        }
        for (const e of v.errors) o.err(renderError(e));
        if (v.project) {
          const errors = v.errors.length + v.files.reduce((n, f) => n + f.errors.length, 0);
          const warnings = v.warnings.length + v.files.reduce((n, f) => n + f.warnings.length, 0);
          const counts = `${plural(v.fileCount, 'file')}, ${plural(errors, 'error')}, ${plural(warnings, 'warning')}${opts.strict ? ' (--strict)' : ''}`;
          o.out(valid ? `${pc.green('valid')}: ${counts}` : `${pc.red('invalid')}: ${counts}`);
        }
      }
      if (!valid) throw new ExitCode(1);
    });

  selectOptions(program.command('list').alias('ls').description('list registered tasks (after --select/--exclude) in run order')).action(
    async (opts: { select?: string[]; exclude?: string[] }) => {
      const o = output();
      const { tasks: rows, warnings } = await withProjectOrHolder('read', (p) => p.list(selectionOf(opts)));
      if (o.json) printJson(o, { tasks: rows, warnings });
      else if (rows.length > 0 || warnings.length === 0)
        o.out(
          table([
            ['TASK', 'FILE', 'UPSTREAM', 'OUTPUTS'].map((h) => pc.dim(h)),
            ...rows.map((r) => [r.name, r.file, r.upstream.join(', '), r.outputs.join(', ')]),
          ]),
        );
      if (!o.json) printWarnings(o, warnings);
    },
  );

  selectOptions(
    program
      .command('graph')
      .description('Mermaid flowchart of the project, styled by each task’s latest run')
      .addArgument(
        new Command()
          .createArgument('[mode]', 'lineage (datasets), dag (tasks) or combined')
          .choices([...GRAPH_MODES])
          .default('lineage'),
      )
      .option('--no-status', 'leave out run-status styling'),
  ).action(async (mode: GraphMode, opts: { select?: string[]; exclude?: string[]; status: boolean }) => {
    const o = output();
    const { mermaid, warnings } = await withProjectOrHolder('read', (p) => p.graph(mode, { ...selectionOf(opts), statuses: opts.status }));
    if (o.json) printJson(o, { mode, mermaid, warnings });
    else {
      printWarnings(o, warnings);
      o.out(mermaid.trimEnd());
    }
  });

  for (const [name, direction, description] of [
    ['impact', 'down', 'what is built from a table, downstream (what breaks if it changes)'],
    ['lineage', 'up', 'what a table is built from, upstream'],
  ] as const) {
    program
      .command(name)
      .description(description)
      .argument('<table>', 'table (schema.name) or file:path')
      .action(async (tableName: string) => {
        const o = output();
        const { table: canonical, hops } = await withProject('read', (p) => p.walk(tableName, direction));
        if (o.json) {
          printJson(o, { table: canonical, direction: direction === 'down' ? 'downstream' : 'upstream', rows: hops });
          return;
        }
        if (hops.length === 0) {
          o.out(`${canonical} has no ${direction === 'down' ? 'downstream' : 'upstream'} tables.`);
          return;
        }
        o.out(
          table([['DEPTH', 'TABLE', 'VIA TASK'].map((h) => pc.dim(h)), ...hops.map((h) => [String(h.depth), h.table_name, h.via_task])]),
        );
      });
  }

  selectOptions(program.command('test').description('run the @test assertions of the registered tasks against the current data')).action(
    async (opts: { select?: string[]; exclude?: string[] }) => {
      const o = output();
      const { outcomes, warnings } = await withProjectOrHolder('write', (p) => p.test(selectionOf(opts)));
      const passed = outcomes.filter((x) => x.status === 'pass').length;
      const failed = outcomes.length - passed;
      if (o.json) printJson(o, { passed, failed, results: outcomes, warnings });
      else {
        printWarnings(o, warnings);
        for (const t of outcomes) {
          if (t.status === 'pass') o.out(`${pc.green('PASS')} ${t.task} @test ${t.index}: ${t.assertion}`);
          else
            o.out(
              `${pc.red(t.status === 'fail' ? 'FAIL' : 'ERROR')} ${t.task} @test ${t.index} (${t.file}:${t.line}): ${t.assertion} — ${t.message}`,
            );
        }
        o.out(`Tests: ${passed} passed, ${failed} failed`);
      }
      if (failed > 0) throw new ExitCode(1);
    },
  );

  program
    .command('sql')
    .description('run SQL against the project database, opened read-only, and print the last statement’s result')
    .argument('<query>', 'one or more SQL statements separated by `;` (quote them for the shell)')
    .option('--csv', 'print CSV (RFC 4180) instead of a table')
    .action(async (query: string, opts: { csv?: boolean }) => {
      const o = output();
      if (o.json && opts.csv) throw new DuckorchError('USAGE', '--csv and --json cannot be combined', { hint: 'choose one output format' });
      const [{ db }, q, r] = await Promise.all([config(), import('../../../app/sql-query.js'), import('../sql-render.js')]);
      const result = await q.runQuery(db, query).catch(async (err: unknown) => {
        // Held by a run or worker: it answers in a read-only transaction of its own.
        const holder = err instanceof DuckorchError && err.code === 'DB_LOCKED' ? await holderOf() : undefined;
        if (!holder) throw err;
        return holder.sql(query);
      });
      if (o.json) printJson(o, q.resultJson(result));
      else if (opts.csv) o.out(r.resultCsv(result));
      else o.out(table([result.headers.map((h) => pc.dim(h)), ...r.resultCells(result, pc.dim('NULL'))]));
    });
}
