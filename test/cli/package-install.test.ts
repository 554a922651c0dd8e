/**
 * duckorch as a dependency, outside the clone, as the README tells a project to use it: `npm
 * pack` here, `npm install <tarball>` in a project of its own (offline from npm's cache where it
 * can: `--prefer-offline` asks the registry only for what the cache lacks), then `npx duck-orch`
 * there — `--version`, `validate`, `register`, `run` — with a task module whose `import … from
 * 'duckorch'` is the installed package. `DUCKORCH_SKIP_PACKAGE_TEST=1` skips it on a machine
 * with neither npm's cache nor the registry.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT, SUBPROCESS_TEST_TIMEOUT, tempDir } from '../helpers.js';

const run = promisify(execFile);
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  main: string;
  types: string;
};

/**
 * The environment of the npm and npx children: npm's settings from a surrounding `npm test`
 * (`npm_config_local_prefix`, `npm_package_*`, …) would point them at the clone; the temporary
 * folder is the test's own, so whatever npm leaves there goes with it; the ledger is the file's.
 */
function npmEnv(tmp: string): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_') || keep.has(k)));
  delete env.DATABASE_URL;
  return {
    ...env,
    TMPDIR: tmp,
    TMP: tmp,
    TEMP: tmp,
    NO_COLOR: '1',
    CI: '1',
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
  };
}

describe.skipIf(process.env.DUCKORCH_SKIP_PACKAGE_TEST === '1')(
  'the packed package, installed in a project',
  { timeout: SUBPROCESS_TEST_TIMEOUT },
  () => {
    it('installs from its tarball; npx duck-orch runs there, and task modules import the installed duckorch', async () => {
      const root = tempDir();
      const tmp = path.join(root, 'tmp');
      const project = path.join(root, 'shop');
      fs.mkdirSync(tmp);
      fs.mkdirSync(project);
      const env = npmEnv(tmp);

      // dist/ is fresh (the test run builds it when stale), so the build that `prepare` would run is skipped.
      const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', root], { cwd: ROOT, env });
      const [{ filename, files }] = JSON.parse(packed.stdout) as [{ filename: string; files: Array<{ path: string }> }];
      const contents = new Set(files.map((f) => f.path));
      for (const needed of [
        'package.json',
        'README.md',
        pkg.main,
        pkg.types,
        ...Object.values(pkg.bin),
        'examples/orchex-demo/dag.ts',
        ...fs.readdirSync(path.join(ROOT, 'src/store/duckdb/migrations')).map((m) => `dist/store/duckdb/migrations/${m}`),
      ])
        expect(contents, needed).toContain(needed.replace(/^\.\//, ''));
      expect([...contents].filter((f) => /^(src|test|bench|scripts)\//.test(f))).toEqual([]);

      fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'shop', version: '1.0.0', private: true }, null, 2));
      await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', path.join(root, filename)], { cwd: project, env });
      const installed = path.join(project, 'node_modules', 'duckorch');
      expect(fs.realpathSync(path.join(project, 'node_modules', '.bin', 'duck-orch'))).toBe(
        fs.realpathSync(path.join(installed, pkg.bin['duck-orch']!)),
      );

      // `--no`: never fetch a package of that name from the registry in place of the installed one (`--`: the flags are duck-orch's).
      const duckOrch = (...args: string[]) => run('npx', ['--no', '--', 'duck-orch', ...args], { cwd: project, env });
      expect((await duckOrch('--version')).stdout.trim()).toBe(pkg.version);

      fs.mkdirSync(path.join(project, 'tasks'));
      fs.writeFileSync(path.join(project, 'tasks', 'orders.sql'), 'CREATE OR REPLACE TABLE orders AS SELECT range AS id FROM range(3);\n');
      fs.writeFileSync(
        path.join(project, 'tasks', 'report.ts'),
        `import { createRequire } from 'node:module';
import { asset, Dag } from 'duckorch';

export const totals = asset({ name: 'main.totals', deps: ['main.orders'] }, async ({ connection }) => {
  await connection.run('CREATE OR REPLACE TABLE main.totals AS SELECT count(*) AS n FROM main.orders');
});

export const lib = new Dag('lib');
lib.task({ name: 'where' }, async () => ({ duckorch: createRequire(import.meta.url).resolve('duckorch') }));
`,
      );
      const validated = await duckOrch('validate', 'tasks');
      expect(validated.stdout).toMatch(/^valid: 2 files, 0 errors, 0 warnings$/m);
      expect((await duckOrch('register', 'tasks')).stdout).toContain('Registered 3 tasks from tasks (3 added');
      const ran = JSON.parse((await duckOrch('run', '--json')).stdout) as {
        run: { state: string };
        jobs: Array<{ task: string; state: string; result: { duckorch?: string } | null }>;
      };
      expect(ran.run.state).toBe('succeeded');
      expect(ran.jobs.map((j) => `${j.task} ${j.state}`).sort()).toEqual(['orders succeeded', 'totals succeeded', 'where succeeded']);
      // The module's own resolution of 'duckorch' is the installed package too (as for an editor or tsc).
      expect(fs.realpathSync(ran.jobs.find((j) => j.task === 'where')!.result!.duckorch!)).toBe(
        fs.realpathSync(path.join(installed, pkg.main)),
      );
      const totals = JSON.parse((await duckOrch('sql', '--json', 'SELECT n FROM totals')).stdout) as { rows: unknown[] };
      expect(totals.rows).toEqual([{ n: 3 }]);
    });
  },
);
