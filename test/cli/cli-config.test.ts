import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { json, runCli, tempProject, type TempProject, SUBPROCESS_TEST_TIMEOUT } from '../helpers.js';

// tempProject() removes its folder when the test finishes.
const project = (): TempProject => tempProject();

describe('duckorch.toml from the command line', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('is found in a parent folder, with its db relative to that folder', async () => {
    const p = project();
    p.write('duckorch.toml', 'db = "state/warehouse.duckdb"\n');
    fs.mkdirSync(path.join(p.dir, 'state'));
    p.write('tasks/marts/a.sql', 'CREATE TABLE a AS SELECT 1 AS x;');
    const env = { DUCKORCH_DB: '' };

    const reg = await runCli(['register', '.'], { cwd: p.tasks, env });
    expect(reg.code, reg.stderr).toBe(0);
    expect(fs.existsSync(path.join(p.dir, 'state', 'warehouse.duckdb'))).toBe(true);
    expect(fs.existsSync(path.join(p.tasks, 'state'))).toBe(false);

    const list = await runCli(['list', '--json'], { cwd: path.join(p.tasks, 'marts'), env });
    expect(json<{ tasks: Array<{ name: string }> }>(list).tasks.map((t) => t.name)).toEqual(['a']);
  });

  it('--config in another folder resolves its db against that folder', async () => {
    const p = project();
    p.write('config/duckorch.toml', 'db = "data/warehouse.duckdb"\norch_max_parallel = 1\n');
    fs.mkdirSync(path.join(p.dir, 'config', 'data'));
    p.write('tasks/a.sql', 'CREATE TABLE a AS SELECT 1 AS x;');
    fs.mkdirSync(path.join(p.dir, 'work'));

    const reg = await runCli(['--config', '../config/duckorch.toml', 'register', '../tasks'], {
      cwd: path.join(p.dir, 'work'),
      env: { DUCKORCH_DB: '' },
    });
    expect(reg.code, reg.stderr).toBe(0);
    expect(fs.existsSync(path.join(p.dir, 'config', 'data', 'warehouse.duckdb'))).toBe(true);
    expect(fs.readdirSync(path.join(p.dir, 'work'))).toEqual([]);
  });

  it('says where a bad value came from', async () => {
    const p = project();
    p.write('tasks/a.sql', 'CREATE TABLE a AS SELECT 1 AS x;');
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);

    const fromFlag = await runCli(['--db', p.db, 'run', '-p', 'many']);
    expect(fromFlag.code).toBe(1);
    expect(fromFlag.stderr).toBe('error: `orch_max_parallel` must be a whole number from 1 to 256, got `many` (from --max-parallel)\n');

    const fromEnv = await runCli(['--db', p.db, 'run', '--json'], { env: { DUCKORCH_MAX_PARALLEL: 'abc' } });
    expect(fromEnv.code).toBe(1);
    expect(json(fromEnv)).toEqual({
      errors: [
        {
          code: 'CONFIG',
          message: '`orch_max_parallel` must be a whole number from 1 to 256, got `abc` (from environment variable DUCKORCH_MAX_PARALLEL)',
        },
      ],
    });
  });
});
