import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { json, runCli, SUBPROCESS_TEST_TIMEOUT, tempDir } from '../helpers.js';

const MODULE = (task: string) => `import { Dag } from 'duckorch';
export const etl = new Dag('etl');
etl.task({ name: '${task}' }, async (): Promise<number> => 1);
`;

/** The task `validate` finds in the module, in a process whose compiled-code cache is `cache`. */
async function taskNames(dir: string, cache: string, env: Record<string, string> = {}): Promise<string[]> {
  const r = await runCli(['validate', 'etl.ts', '--json'], { cwd: dir, env: { DUCKORCH_CACHE_DIR: cache, ...env } });
  expect(r.code, r.stderr).toBe(0);
  return [json<{ task: { name: string } }>(r).task.name];
}

function cachedFiles(cache: string): string[] {
  if (!fs.existsSync(cache)) return [];
  return fs.readdirSync(cache, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
}

describe('compiled TypeScript modules kept between processes', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('compiles a module once, reuses the code in the next process, and compiles again when the source changes', async () => {
    const dir = tempDir();
    const cache = path.join(dir, 'cache');
    fs.writeFileSync(path.join(dir, 'etl.ts'), MODULE('extract'));
    expect(await taskNames(dir, cache)).toEqual(['extract']);
    const [file] = cachedFiles(cache);
    expect(cachedFiles(cache)).toHaveLength(1);
    // The next process runs what the cache holds, not a new compilation of the source.
    const compiled = path.join(cache, file!);
    fs.writeFileSync(compiled, fs.readFileSync(compiled, 'utf8').replace("'extract'", "'from_the_cache'"));
    expect(await taskNames(dir, cache)).toEqual(['from_the_cache']);
    // An edited module is another key: compiled anew, never the old code.
    fs.writeFileSync(path.join(dir, 'etl.ts'), MODULE('load'));
    expect(await taskNames(dir, cache)).toEqual(['load']);
    expect(cachedFiles(cache)).toHaveLength(2);
    // Nothing half-written is left behind.
    expect(fs.readdirSync(cache, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('writes nothing when turned off, and a cache folder that cannot be written only means compiling again', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'etl.ts'), MODULE('extract'));
    const off = path.join(dir, 'off');
    expect(await taskNames(dir, 'off', { XDG_CACHE_HOME: off, HOME: off })).toEqual(['extract']);
    expect(fs.existsSync(off)).toBe(false);
    // A file where the folder should be: every write fails.
    const blocked = path.join(dir, 'blocked');
    fs.writeFileSync(blocked, '');
    expect(await taskNames(dir, blocked)).toEqual(['extract']);
    expect(await taskNames(dir, blocked)).toEqual(['extract']);
  });
});
