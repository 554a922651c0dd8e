import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findConfigFile, loadConfig } from '../../src/config/config.js';
import { DuckorchError, DuckorchErrors } from '../../src/errors.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'duckorch-config-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

let counter = 0;
/** A fresh folder under the suite's temp root, with the given files written into it. */
function folder(files: Record<string, string> = {}): string {
  const dir = path.join(root, `case-${++counter}`);
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function errorOf(fn: () => unknown): DuckorchError[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof DuckorchErrors) return err.errors;
    if (err instanceof DuckorchError) return [err];
    throw err;
  }
  throw new Error('expected a config error');
}

describe('loadConfig', () => {
  it('gives the defaults when nothing is set', () => {
    expect(loadConfig({ cwd: folder(), env: {} })).toEqual({
      db: 'mydata.duckdb',
      orch_max_parallel: 4,
      orch_retry_base: 1,
      orch_retry_max: 300,
      orch_namespace: 'duckdb',
      orch_lease: 60,
      orch_queue_page: 2000,
      orch_store: 'duckdb',
      orch_pg_schema: 'duckorch',
      orch_poll_interval: 0.2,
      orch_pg_pool_min: 0,
      orch_pg_pool_max: 10,
      orch_statement_timeout_ms: 30_000,
      orch_metrics_interval: 0,
    });
  });

  it('moves the ledger to PostgreSQL when a database URL is set, unless the store is named', () => {
    const url = 'postgresql://u:p@db:5432/x';
    expect(loadConfig({ cwd: folder(), env: { DATABASE_URL: url } })).toMatchObject({ orch_store: 'postgres', orch_database_url: url });
    expect(loadConfig({ cwd: folder(), env: { DATABASE_URL: url, DUCKORCH_STORE: 'duckdb' } }).orch_store).toBe('duckdb');
    expect(() => loadConfig({ cwd: folder(), env: {}, flags: { orch_store: 'postgres' } })).toThrow(
      '`orch_store` is postgres but no database URL is set',
    );
    expect(() => loadConfig({ cwd: folder(), env: { DUCKORCH_STORE: 'mysql' } })).toThrow(
      '`orch_store` must be `duckdb` or `postgres`, got `mysql` (from environment variable DUCKORCH_STORE)',
    );
    expect(() => loadConfig({ cwd: folder(), env: { DUCKORCH_PG_SCHEMA: 'bad-name' } })).toThrow(
      /`orch_pg_schema` must be a name of letters/,
    );
  });

  it('reads .env in the working directory when asked, the environment winning', () => {
    const dir = folder();
    fs.writeFileSync(
      path.join(dir, '.env'),
      '# settings\nDUCKORCH_MAX_PARALLEL=7\nDATABASE_URL="postgresql://u@h:5432/d"\nDUCKORCH_RETRY_MAX=abc\n',
    );
    expect(() => loadConfig({ cwd: dir, env: {}, dotenv: true })).toThrow('(from DUCKORCH_RETRY_MAX in .env)');
    const c = loadConfig({ cwd: dir, env: { DUCKORCH_RETRY_MAX: '10', DUCKORCH_MAX_PARALLEL: '3' }, dotenv: true });
    expect(c).toMatchObject({
      orch_max_parallel: 3,
      orch_retry_max: 10,
      orch_store: 'postgres',
      orch_database_url: 'postgresql://u@h:5432/d',
    });
    expect(loadConfig({ cwd: dir, env: { DUCKORCH_RETRY_MAX: '10' } }).orch_max_parallel).toBe(4);
  });

  it("reads the lease, also under Orchex's names, the project's own winning", () => {
    expect(loadConfig({ cwd: folder(), env: { DUCKORCH_LEASE: '90s' } }).orch_lease).toBe(90);
    expect(() => loadConfig({ cwd: folder(), env: { DUCKORCH_LEASE: '0' } })).toThrow(/`orch_lease` must be/);
    expect(loadConfig({ cwd: folder(), env: { LEASE_SECONDS: '30', DB_SCHEMA: 'orchex' } })).toMatchObject({
      orch_lease: 30,
      orch_pg_schema: 'orchex',
    });
    expect(loadConfig({ cwd: folder(), env: { LEASE_SECONDS: '30', DUCKORCH_LEASE: '45s' } }).orch_lease).toBe(45);
    expect(() => loadConfig({ cwd: folder(), env: { LEASE_SECONDS: 'soon' } })).toThrow('(from environment variable LEASE_SECONDS)');
  });

  it("reads every Orchex setting under Orchex's name, in Orchex's units, the project's own names winning", () => {
    const orchex = {
      MAX_ATTEMPTS: '10',
      TASK_TIMEOUT_SECONDS: '120',
      CLAIM_POLL_INTERVAL: '0.5',
      DB_POOL_MIN: '1',
      DB_POOL_MAX: '10',
      STATEMENT_TIMEOUT_MS: '30000',
      METRICS_FLUSH_INTERVAL: '15.0',
    };
    expect(loadConfig({ cwd: folder(), env: orchex })).toMatchObject({
      orch_max_attempts: 10,
      orch_task_timeout: 120,
      orch_poll_interval: 0.5,
      orch_pg_pool_min: 1,
      orch_pg_pool_max: 10,
      orch_statement_timeout_ms: 30_000,
      orch_metrics_interval: 15,
    });
    const own = loadConfig({
      cwd: folder(),
      env: {
        ...orchex,
        DUCKORCH_MAX_ATTEMPTS: '3',
        DUCKORCH_TASK_TIMEOUT: '2m',
        DUCKORCH_POLL_INTERVAL: '50ms',
        DUCKORCH_PG_POOL_MAX: '4',
      },
    });
    expect(own).toMatchObject({ orch_max_attempts: 3, orch_task_timeout: 120, orch_poll_interval: 0.05, orch_pg_pool_max: 4 });
    // An empty value is the default, as in Orchex.
    expect(loadConfig({ cwd: folder(), env: { MAX_ATTEMPTS: '', STATEMENT_TIMEOUT_MS: '' } })).toMatchObject({
      orch_statement_timeout_ms: 30_000,
    });
    expect(loadConfig({ cwd: folder(), env: {} }).orch_max_attempts).toBeUndefined();
    const file = folder({
      'duckorch.toml': 'orch_max_attempts = 4\norch_task_timeout = "30s"\norch_pg_pool_min = 2\norch_statement_timeout_ms = 500\n',
    });
    expect(loadConfig({ cwd: file, env: {} })).toMatchObject({
      orch_max_attempts: 4,
      orch_task_timeout: 30,
      orch_pg_pool_min: 2,
      orch_statement_timeout_ms: 500,
    });
    // .env is read for Orchex's names too (its README promised it; its code never did).
    const dotenv = folder({ '.env': 'MAX_ATTEMPTS=6\nDB_POOL_MAX=3\n' });
    expect(loadConfig({ cwd: dotenv, env: {}, dotenv: true })).toMatchObject({ orch_max_attempts: 6, orch_pg_pool_max: 3 });
  });

  it('rejects bad values of the Orchex settings, naming the variable, the value and the expected form', () => {
    const bad: Array<[Record<string, string>, string]> = [
      [
        { MAX_ATTEMPTS: '0' },
        '`orch_max_attempts` must be a whole number from 1 to 1000, got `0` (from environment variable MAX_ATTEMPTS)',
      ],
      [{ MAX_ATTEMPTS: '2.5' }, '`orch_max_attempts` must be a whole number from 1 to 1000, got `2.5`'],
      [{ TASK_TIMEOUT_SECONDS: 'forever' }, '`orch_task_timeout` must be a duration such as 300, 30s'],
      [{ TASK_TIMEOUT_SECONDS: '0' }, 'got `0` (from environment variable TASK_TIMEOUT_SECONDS)'],
      [
        { CLAIM_POLL_INTERVAL: 'often' },
        '`orch_poll_interval` must be a duration such as 300, 30s, 5min, 1.5h, 2d, 1w or 1h30m from 0.01s to 1h',
      ],
      [{ DB_POOL_MAX: '0' }, '`orch_pg_pool_max` must be a whole number from 1 to 1000, got `0` (from environment variable DB_POOL_MAX)'],
      [{ DB_POOL_MIN: '-1' }, '`orch_pg_pool_min` must be a whole number from 0 to 1000, got `-1`'],
      [{ DB_POOL_MIN: '5', DB_POOL_MAX: '2' }, '`orch_pg_pool_min` (5) is more than `orch_pg_pool_max` (2)'],
      [{ DB_POOL_MIN: '11' }, '`orch_pg_pool_min` (11) is more than `orch_pg_pool_max` (10, the default)'],
      [
        { STATEMENT_TIMEOUT_MS: '30s' },
        '`orch_statement_timeout_ms` must be a whole number of milliseconds from 0 to 86400000, got `30s` (from environment variable STATEMENT_TIMEOUT_MS)',
      ],
      [{ METRICS_FLUSH_INTERVAL: 'x' }, '(from environment variable METRICS_FLUSH_INTERVAL)'],
    ];
    for (const [env, message] of bad) {
      const errors = errorOf(() => loadConfig({ cwd: folder(), env }));
      expect(errors.map((e) => e.code)).toEqual(['CONFIG']);
      expect(errors[0]!.message).toContain(message);
    }
    // Every bad one at once.
    expect(errorOf(() => loadConfig({ cwd: folder(), env: { MAX_ATTEMPTS: 'x', DB_POOL_MAX: 'y' } }))).toHaveLength(2);
  });

  it('takes a flag over an environment variable over the file', () => {
    const cwd = folder({ 'duckorch.toml': 'orch_max_parallel = 2\norch_retry_base = "2s"\norch_namespace = "file"\n' });
    const config = loadConfig({
      cwd,
      env: { DUCKORCH_MAX_PARALLEL: '3', DUCKORCH_RETRY_BASE: '500ms' },
      flags: { orch_max_parallel: '8', db: undefined },
    });
    expect(config).toMatchObject({ orch_max_parallel: 8, orch_retry_base: 0.5, orch_namespace: 'file' });
  });

  it('ignores an empty environment variable', () => {
    expect(loadConfig({ cwd: folder(), env: { DUCKORCH_DB: '' } }).db).toBe('mydata.duckdb');
  });

  describe('finding duckorch.toml', () => {
    it('looks upward from the working directory and resolves its db against its own folder', () => {
      const project = folder({ 'duckorch.toml': 'db = "state/warehouse.duckdb"\norch_max_parallel = 2\n' });
      const deep = path.join(project, 'tasks', 'marts');
      fs.mkdirSync(deep, { recursive: true });
      expect(findConfigFile(deep)).toBe(path.join(project, 'duckorch.toml'));
      expect(loadConfig({ cwd: deep, env: {} })).toMatchObject({
        db: path.join(project, 'state', 'warehouse.duckdb'),
        orch_max_parallel: 2,
      });
    });

    it('takes the nearest file when several folders have one', () => {
      const outer = folder({ 'duckorch.toml': 'orch_max_parallel = 2\n', 'inner/duckorch.toml': 'orch_max_parallel = 3\n' });
      expect(loadConfig({ cwd: path.join(outer, 'inner'), env: {} }).orch_max_parallel).toBe(3);
    });

    it('resolves a relative db of --config against the config file’s folder, not the working directory', () => {
      const parent = folder({ 'duckorch.toml': 'db = "warehouse.duckdb"\n' });
      const cwd = path.join(parent, 'work');
      fs.mkdirSync(cwd);
      expect(loadConfig({ cwd, file: '../duckorch.toml', env: {} }).db).toBe(path.join(parent, 'warehouse.duckdb'));
    });

    it('keeps an absolute db in the file as it is', () => {
      const cwd = folder({ 'duckorch.toml': 'db = "/var/lib/warehouse.duckdb"\n' });
      expect(loadConfig({ cwd, env: {} }).db).toBe('/var/lib/warehouse.duckdb');
    });

    it('leaves a db from --db or DUCKORCH_DB relative to the working directory', () => {
      const cwd = folder({ 'duckorch.toml': 'db = "from-file.duckdb"\n' });
      expect(loadConfig({ cwd, env: { DUCKORCH_DB: 'from-env.duckdb' } }).db).toBe('from-env.duckdb');
      expect(loadConfig({ cwd, env: {}, flags: { db: 'from-flag.duckdb' } }).db).toBe('from-flag.duckdb');
    });

    it('reports a missing --config file', () => {
      const [e] = errorOf(() => loadConfig({ cwd: folder(), file: 'nope.toml', env: {} }));
      expect(e).toMatchObject({ code: 'CONFIG', message: 'config file nope.toml does not exist' });
    });
  });

  describe('errors', () => {
    it('say which key, what it must be, what it got and where it came from', () => {
      const cwd = folder();
      const [fromEnv] = errorOf(() => loadConfig({ cwd, env: { DUCKORCH_MAX_PARALLEL: 'abc' } }));
      expect(fromEnv!.message).toBe(
        '`orch_max_parallel` must be a whole number from 1 to 256, got `abc` (from environment variable DUCKORCH_MAX_PARALLEL)',
      );
      const [fromFlag] = errorOf(() =>
        loadConfig({ cwd, env: {}, flags: { orch_max_parallel: '2.5' }, flagNames: { orch_max_parallel: '--max-parallel' } }),
      );
      expect(fromFlag!.message).toBe('`orch_max_parallel` must be a whole number from 1 to 256, got `2.5` (from --max-parallel)');
    });

    it('point at the line of a bad value in the file', () => {
      const cwd = folder({ 'duckorch.toml': '# settings\norch_namespace = "x"\n  orch_max_parallel = true\n' });
      const file = path.join(cwd, 'duckorch.toml');
      const [e] = errorOf(() => loadConfig({ cwd, env: {} }));
      expect(e!.message).toBe(`\`orch_max_parallel\` must be a whole number from 1 to 256, got \`true\` (from ${file})`);
      expect(e!.location).toEqual({ file, line: 3, col: 3 });
    });

    it('describe a bad duration by the expected form', () => {
      const [e] = errorOf(() => loadConfig({ cwd: folder(), env: { DUCKORCH_RETRY_MAX: 'soon' } }));
      expect(e!.message).toBe(
        '`orch_retry_max` must be a duration such as 300, 30s, 5min, 1.5h, 2d, 1w or 1h30m, got `soon` (from environment variable DUCKORCH_RETRY_MAX)',
      );
    });

    it('refuse numbers TOML allows that no setting means: inf, nan, a negative duration', () => {
      const cwd = folder({ 'duckorch.toml': 'orch_retry_base = inf\norch_retry_max = nan\norch_lease = -5\n' });
      const file = path.join(cwd, 'duckorch.toml');
      expect(errorOf(() => loadConfig({ cwd, env: {} })).map((e) => e.message)).toEqual([
        `\`orch_retry_base\` must be a duration such as 300, 30s, 5min, 1.5h, 2d, 1w or 1h30m, got \`Infinity\` (from ${file})`,
        `\`orch_retry_max\` must be a duration such as 300, 30s, 5min, 1.5h, 2d, 1w or 1h30m, got \`NaN\` (from ${file})`,
        `\`orch_lease\` must be a duration such as 300, 30s, 5min, 1.5h, 2d, 1w or 1h30m from 1s to 1d, got \`-5\` (from ${file})`,
      ]);
    });

    it('name an unknown key and its file, and suggest the closest key', () => {
      const cwd = folder({ 'duckorch.toml': 'orch_max_paralel = 3\n' });
      const file = path.join(cwd, 'duckorch.toml');
      const [e] = errorOf(() => loadConfig({ cwd, env: {} }));
      expect(e).toMatchObject({
        code: 'CONFIG',
        message: `unknown config key \`orch_max_paralel\` in ${file}`,
        hint: 'did you mean `orch_max_parallel`?',
        location: { file, line: 1, col: 1 },
      });
    });

    it('list the valid keys when no key is close', () => {
      const [e] = errorOf(() => loadConfig({ cwd: folder({ 'duckorch.toml': '[server]\nport = 1\n' }), env: {} }));
      expect(e!.message).toMatch(/^unknown config key `server` in /);
      expect(e!.hint).toBeUndefined();
      expect(e!.expected).toMatch(
        /^one of db, orch_max_parallel, orch_retry_base, orch_retry_max, orch_namespace, orch_queue_page, orch_lease, orch_store, orch_database_url, orch_pg_schema, /,
      );
      expect(e!.expected).toContain('orch_max_attempts, orch_task_timeout, orch_poll_interval, orch_pg_pool_min, orch_pg_pool_max');
      expect(e!.location?.line).toBe(1);
    });

    it('treat a key named like an object property as unknown', () => {
      const [e] = errorOf(() => loadConfig({ cwd: folder({ 'duckorch.toml': 'constructor = 1\n' }), env: {} }));
      expect(e!.message).toMatch(/^unknown config key `constructor` in /);
    });

    it('report every bad key at once', () => {
      const cwd = folder({ 'duckorch.toml': 'orch_retry_base = "later"\nbogus = 1\n' });
      const errors = errorOf(() => loadConfig({ cwd, env: { DUCKORCH_NAMESPACE: ' ' } }));
      expect(errors.map((e) => e.message)).toEqual([
        'unknown config key `bogus` in ' + path.join(cwd, 'duckorch.toml'),
        `\`orch_retry_base\` must be a duration such as 300, 30s, 5min, 1.5h, 2d, 1w or 1h30m, got \`later\` (from ${path.join(cwd, 'duckorch.toml')})`,
        '`orch_namespace` must be a non-empty name, got ` ` (from environment variable DUCKORCH_NAMESPACE)',
      ]);
    });

    it('give file:line:col for TOML syntax errors', () => {
      const cwd = folder({ 'duckorch.toml': 'orch_max_parallel = 2\ndb = \n' });
      const [e] = errorOf(() => loadConfig({ cwd, env: {} }));
      expect(e!.location).toMatchObject({ file: path.join(cwd, 'duckorch.toml'), line: 2 });
    });

    it('never show the validator’s own wording', () => {
      const cwd = folder({ 'duckorch.toml': 'db = 5\norch_retry_base = -1\norch_max_parallel = [1]\n' });
      const errors = errorOf(() => loadConfig({ cwd, env: { DUCKORCH_MAX_PARALLEL: '0' } }));
      expect(errors).toHaveLength(3);
      for (const e of errors) expect(e.render()).not.toMatch(/Invalid input|expected number|received|NaN/);
      expect(errors.map((e) => e.message.replace(/ \(from .*\)$/, ''))).toEqual([
        '`db` must be a file path, got `5`',
        '`orch_max_parallel` must be a whole number from 1 to 256, got `0`',
        '`orch_retry_base` must be a duration such as 300, 30s, 5min, 1.5h, 2d, 1w or 1h30m, got `-1`',
      ]);
    });
  });
});
