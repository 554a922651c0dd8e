/**
 * The `duck-orch` command line: global options, the commands of each capability
 * (`commands/`), and the exit codes and error rendering. No business logic.
 */
import { Command, CommanderError, Option } from 'commander';
import pc from 'picocolors';
import { DuckorchError } from '../../errors.js';
import { createCli, type CliIo, type GlobalOptions } from './cli.js';
import { assetsCommands } from './commands/assets.js';
import { automationCommands } from './commands/automation.js';
import { definitionsCommands } from './commands/definitions.js';
import { historyCommands } from './commands/history.js';
import { ledgerCommands } from './commands/ledger.js';
import { runsCommands } from './commands/runs.js';
import { workerCommands } from './commands/worker.js';
import { errorsOf, printJson, renderError } from './render.js';
import { packageVersion } from './version.js';
import { ExitCode } from './cli.js';

export type { CliIo } from './cli.js';

/** A command-line mistake commander found, with the command whose `--help` explains it. */
class UsageError extends Error {
  constructor(
    readonly error: CommanderError,
    readonly helpCommand: string,
  ) {
    super(error.message);
  }
}

export function buildProgram(io: CliIo): Command {
  const program = new Command('duck-orch');
  program
    .description('Offline-first, DuckDB-native orchestrator: SQL task files → inferred DAG → runs on embedded DuckDB.')
    .addOption(new Option('--db <file>', 'project DuckDB database (default: $DUCKORCH_DB, duckorch.toml `db`, then ./mydata.duckdb)'))
    .addOption(
      new Option(
        '--store <store>',
        'where runs, jobs and history live (default: $DUCKORCH_STORE; postgres when $DATABASE_URL is set)',
      ).choices(['duckdb', 'postgres']),
    )
    .option(
      '--dag <module:export|name>',
      'take the tasks from this TypeScript Dag module instead of the registry, e.g. dags/etl.ts:etl, or from the active snapshot of the DAG of this name (default: $DUCKORCH_DAG, $ORCHEX_DAG)',
    )
    .option('--config <file>', 'config file (default: the nearest duckorch.toml in this folder or above)')
    .option('--json', 'print machine-readable JSON on stdout')
    .version(packageVersion(), '-V, --version', 'print the version')
    .configureOutput({
      writeOut: (s) => io.out(s.trimEnd()),
      // Under --json, stdout carries the one error document and stderr stays quiet.
      writeErr: (s) => {
        if (!program.opts<GlobalOptions>().json) io.err(s.trimEnd());
      },
      // runCli prints usage errors itself: one line in the chosen format, naming the right --help.
      outputError: () => {},
    });

  const cli = createCli(program, io);
  definitionsCommands(cli);
  runsCommands(cli);
  assetsCommands(cli);
  automationCommands(cli);
  workerCommands(cli);
  ledgerCommands(cli);
  historyCommands(cli);

  // Per command, so that a usage error can name the --help that explains it.
  for (const cmd of [program, ...program.commands]) {
    const help = cmd === program ? 'duck-orch --help' : `duck-orch ${cmd.name()} --help`;
    cmd.exitOverride((err) => {
      throw err.exitCode === 0 ? err : new UsageError(err, help);
    });
  }

  return program;
}

/** Whether `--json` was given anywhere before a `--` (also where commander stopped parsing at an earlier mistake). */
function jsonRequested(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

function printErrors(io: CliIo, json: boolean, errors: DuckorchError[]): void {
  if (json) printJson({ json, out: io.out, err: io.err }, { errors: errors.map((e) => e.toJSON()) });
  else for (const e of errors) io.err(renderError(e));
}

/** Runs the CLI and returns its exit code: 0 ok, 1 failure, 2 usage error, 130 interrupted. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    const json = Boolean(program.opts<GlobalOptions>().json) || jsonRequested(argv);
    if (err instanceof ExitCode) return err.code;
    if (err instanceof UsageError) {
      const see = `see \`${err.helpCommand}\``;
      if (err.error.code === 'commander.help') {
        // A bare `duck-orch`: commander already printed the help (to stderr, or not at all under --json).
        if (json) printErrors(io, true, [new DuckorchError('USAGE', 'missing command', { hint: see })]);
        return 2;
      }
      // Commander's text is `error: <what>` and, when it has one, a `(Did you mean …?)` line.
      const [first = '', ...rest] = err.message.split('\n');
      const message = first.replace(/^error: /, '');
      const suggestion = rest
        .join(' ')
        .trim()
        .replace(/^\((.*)\)$/, '$1');
      if (json) {
        printErrors(io, true, [new DuckorchError('USAGE', message, { hint: suggestion ? `${suggestion} ${see}` : see })]);
      } else {
        io.err(`${pc.red('error:')} ${message}${suggestion ? ` ${pc.dim(`(${suggestion})`)}` : ''}`);
        io.err(pc.dim(`(${see})`));
      }
      return 2;
    }
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const errors = errorsOf(err);
    if (errors.length === 0) {
      if (json) printErrors(io, true, [new DuckorchError('INTERNAL', err instanceof Error ? err.message : String(err))]);
      else io.err(`${pc.red('internal error:')} ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      return 1;
    }
    printErrors(io, json, errors);
    return errors.some((e) => e.code === 'USAGE' || e.code === 'SELECTOR') ? 2 : 1;
  }
}
