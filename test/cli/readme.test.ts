import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENV_VARS } from '../../src/config/config.js';
import { buildProgram } from '../../src/interfaces/cli/program.js';
import { HEADER_KEYS } from '../../src/model/taskfile/parse-header.js';
import { ROOT, SUBPROCESS_TEST_TIMEOUT, runCli } from '../helpers.js';

const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** Keeps the README's references true to the code they document. */
describe('README', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('documents every header key, and only those', () => {
    const section = README.slice(README.indexOf('### Headers'), README.indexOf('### The body'));
    const documented = [...section.matchAll(/^\| `@(\w+)`(?: \/ `@(\w+)`)?(?:, `@(\w+)`)?/gm)].flatMap((m) => m.slice(1).filter(Boolean));
    expect([...new Set(documented)].sort()).toEqual([...HEADER_KEYS].sort());
  });

  it('documents every config key with its environment variable', () => {
    for (const [key, variable] of Object.entries(ENV_VARS)) expect(README).toContain(`| \`${key}\` | \`${variable}\` |`);
  });

  it('documents every command, and only commands that exist', async () => {
    // A heading may document several commands: "### `impact <table>` / `lineage <table>`".
    const headings = [...README.matchAll(/^### (`\w+.*)$/gm)].map((m) => m[1]!);
    const documented = headings.flatMap((h) => [...h.matchAll(/(?:^|\/ )`([\w-]+)/g)].map((m) => m[1]!));
    const program = buildProgram({ out: () => {}, err: () => {}, env: {} });
    expect(documented.sort()).toEqual(program.commands.map((c) => c.name()).sort());
    // One process: the built CLI's help lists them too.
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const command of documented) expect(r.stdout, `${command} in duck-orch --help`).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
  });
});
