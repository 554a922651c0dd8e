import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENV_VARS } from '../../src/config/config.js';
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

  it('documents commands that exist', async () => {
    const commands = [...README.matchAll(/^### `(\w+)/gm)].map((m) => m[1]!);
    expect(commands).toEqual(['register', 'run', 'status', 'graph', 'test', 'validate', 'impact', 'list']);
    // One process: the CLI's own help lists its commands.
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    const listed = r.stdout
      .slice(r.stdout.indexOf('Commands:'))
      .split('\n')
      .flatMap((line) => /^ {2}([a-z]+)(?:\|[a-z]+)?\b/.exec(line)?.[1] ?? []);
    for (const command of [...commands, 'lineage']) expect(listed, `${command} in duck-orch --help`).toContain(command);
  });
});
