/** `automation …`: declarative automation conditions, evaluated on demand. */
import fs from 'node:fs';
import pc from 'picocolors';
import { DuckorchError } from '../../../errors.js';
import type { Reason } from '../../../model/automation/evaluate.js';
import type { Cli } from '../cli.js';
import { printJson, table } from '../render.js';

function reasonJson(r: Reason): Record<string, unknown> {
  return { label: r.label, met: r.met, detail: r.detail, ...(r.children ? { children: r.children.map(reasonJson) } : {}) };
}

/** The reason tree, one line per node, indented by depth. */
function reasonLines(r: Reason, depth = 0): string[] {
  const mark = r.met ? pc.green('✔') : pc.red('✘');
  return [`${'  '.repeat(depth)}${mark} ${r.label}  ${pc.dim(r.detail)}`, ...(r.children ?? []).flatMap((c) => reasonLines(c, depth + 1))];
}

function instantOption(text: string): Date {
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new DuckorchError('USAGE', `--at ${text}: not an instant`, { expected: 'ISO 8601, e.g. 2026-12-08T06:00Z' });
  return new Date(t);
}

async function readState(file: string, asset: string) {
  // Loaded when used: the schema library costs every other command's start-up.
  const { parseAutomationState } = await import('../../../model/automation/state-file.js');
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new DuckorchError('USAGE', `--state ${file}: ${err instanceof Error ? err.message : String(err)}`, {
      expected: 'a JSON file of the state an evaluation reads (see README, Automation)',
    });
  }
  const parsed = parseAutomationState(json, asset);
  if (!parsed.ok) throw new DuckorchError('USAGE', `--state ${file}: ${parsed.message}`);
  return parsed.state;
}

/** The condition part that decided (the side that decided each AND and OR, down to an atom), as `NOT in_progress()` and why. */
function decidingPart(r: Reason, prefix = ''): string {
  if (!r.children?.length) return `${prefix}${r.label} ${pc.dim(r.detail)}`;
  return decidingPart(r.children.at(-1)!, r.label === 'NOT' ? `${prefix}NOT ` : prefix);
}

export function automationCommands(cli: Cli): void {
  const { program, output, withProjectOrHolder } = cli;
  const automation = program.command('automation').description("assets' @automation conditions");

  automation
    .command('status')
    .description('every asset with an @automation condition, evaluated now against the ledger: met or not, and why; runs nothing')
    .action(async () => {
      const o = output();
      const rows = await withProjectOrHolder('read', (p) => p.automationStatus());
      if (o.json)
        return printJson(
          o,
          rows.map((r) => ({ asset: r.asset, condition: r.condition, met: r.met, reason: reasonJson(r.reason), evaluated_at: r.at })),
        );
      if (rows.length === 0) return o.out('No asset has an @automation condition.');
      o.out(
        table([
          ['ASSET', 'CONDITION', 'MET', 'WHY'].map((h) => pc.dim(h)),
          ...rows.map((r) => [r.asset, r.condition, r.met ? pc.green('met') : pc.dim('not met'), decidingPart(r.reason)]),
        ]),
      );
      o.out(pc.dim(`evaluated at ${rows[0]!.at.toISOString()}; automation simulate <asset> shows the whole reason`));
    });

  automation
    .command('simulate')
    .description("evaluate an asset's @automation condition now (or --at), against the ledger or a --state file; runs nothing")
    .argument('<asset>')
    .option('--at <instant>', 'evaluate as of this instant (ISO 8601)')
    .option('--state <file>', 'evaluate against this JSON state instead of the ledger')
    .action(async (asset: string, opts: { at?: string; state?: string }) => {
      const o = output();
      const at = opts.at !== undefined ? instantOption(opts.at) : undefined;
      const state = opts.state !== undefined ? await readState(opts.state, asset) : undefined;
      const r = await withProjectOrHolder('read', (p) => p.simulate(asset, { ...(at ? { at } : {}), ...(state ? { state } : {}) }));
      if (o.json) {
        const { automationStateJson } = await import('../../../model/automation/state-file.js');
        return printJson(o, {
          asset: r.asset,
          condition: r.condition,
          at: r.at,
          met: r.met,
          reason: reasonJson(r.reason),
          state: automationStateJson(r.state),
        });
      }
      o.out(`${pc.bold(r.asset)}  ${r.condition}  ${r.met ? pc.green('met') : pc.red('not met')} at ${r.at.toISOString()}`);
      for (const line of reasonLines(r.reason)) o.out(`  ${line}`);
    });
}
