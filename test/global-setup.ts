import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { pgGlobalSetup } from './pg-server.js';

/** CLI tests run the built `dist/` (what users get); rebuild it when any source is newer. */
function newest(dir: string): number {
  let max = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    max = Math.max(max, entry.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return max;
}

function duckorchEntries(dir: string): string[] {
  return fs.readdirSync(dir).filter((name) => name.startsWith('duckorch-'));
}

const TMP_VARS = ['TMPDIR', 'TMP', 'TEMP'] as const;

/**
 * Builds `dist/` when stale, and gives the run a temporary folder of its own: `os.tmpdir()` of
 * the test workers and of the CLI processes they spawn points into it (TMPDIR, TMP and TEMP are
 * set before the workers start, and children inherit them). Everything a test leaves there is a
 * leak: the teardown lists it, fails the run and removes the folder. Because the folder is the
 * run's own, other test runs sharing the machine's temp folder cannot be mistaken for leaks.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const entry = 'dist/interfaces/cli/main.js';
  if (!fs.existsSync(entry) || fs.statSync(entry).mtimeMs < newest('src')) {
    execFileSync('npm', ['run', 'build'], { stdio: 'inherit' });
  }

  const systemTmp = os.tmpdir();
  const before = new Set(duckorchEntries(systemTmp));
  const runTmp = fs.mkdtempSync(path.join(systemTmp, 'duckorch-vitest-'));
  const saved = TMP_VARS.map((name) => [name, process.env[name]] as const);
  for (const name of TMP_VARS) process.env[name] = runTmp;
  // Compiled TypeScript modules (src/app/transform-cache.ts) go to a folder of the run's own,
  // not to the user's cache; removed with the run (it is not a leak of any test).
  const savedCache = process.env.DUCKORCH_CACHE_DIR;
  const cacheDir = fs.mkdtempSync(path.join(systemTmp, 'duckorch-vitest-cache-'));
  process.env.DUCKORCH_CACHE_DIR = cacheDir;

  // PostgreSQL for the tests (test/pg.ts): with DATABASE_URL unset, one throwaway server for the
  // run, started when a test first asks for it. Its folder lives in the system temporary folder,
  // not in runTmp (which the `postgres` user could not enter), and is gone before the checks below.
  const pg = await pgGlobalSetup(systemTmp);
  project.provide('duckorchPg', pg.provided);

  return async function teardown() {
    await pg.teardown().catch((err: unknown) => {
      console.error(`the throwaway PostgreSQL server could not be stopped cleanly: ${String(err)}`);
      process.exitCode = 1;
    });
    fs.rmSync(cacheDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    if (savedCache === undefined) delete process.env.DUCKORCH_CACHE_DIR;
    else process.env.DUCKORCH_CACHE_DIR = savedCache;
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    const leaked = fs.readdirSync(runTmp);
    fs.rmSync(runTmp, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    if (leaked.length > 0) {
      console.error(
        [
          '',
          `LEAK: the tests left ${leaked.length} entr${leaked.length === 1 ? 'y' : 'ies'} in their temporary folder ${runTmp} (now removed):`,
          ...leaked.map((name) => `  ${name}`),
          'Create temporary folders with tempDir()/tempProject() from test/helpers.ts: they are removed when the test finishes.',
          '',
        ].join('\n'),
      );
      process.exitCode = 1;
    }
    const appeared = duckorchEntries(systemTmp).filter((name) => !before.has(name) && name !== path.basename(runTmp));
    if (appeared.length > 0) {
      console.warn(
        `note: ${appeared.length} new duckorch-* entr${appeared.length === 1 ? 'y' : 'ies'} appeared in ${systemTmp} during the run ` +
          `(${appeared.slice(0, 5).join(', ')}${appeared.length > 5 ? ', …' : ''}). This run's temporary files lived in ${runTmp}, ` +
          'so they come from another process sharing the machine, or from code that ignores TMPDIR.',
      );
    }
  };
}
