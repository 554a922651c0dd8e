import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli as runCliInProcess } from '../../src/interfaces/cli/program.js';
import { CLI, ROOT, json, runCli, tempDir, tempProject, type TempProject, SUBPROCESS_TEST_TIMEOUT } from '../helpers.js';

// tempProject() removes its folder when the test finishes.
const project = (): TempProject => tempProject();

interface Errors {
  errors: Array<{ code: string; message: string; hint?: string }>;
}

describe('startup', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  /** The modules a CLI invocation imports, as recorded by a module-resolution hook. */
  async function importsOf(args: string[]): Promise<string[]> {
    const dir = tempDir('duckorch-imports-');
    const log = path.join(dir, 'imports.log');
    const hook = path.join(ROOT, 'test/cli/fixtures/log-imports.mjs');
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', hook, CLI, ...args], {
        cwd: dir,
        env: { ...process.env, DATABASE_URL: '', IMPORT_LOG: log },
        stdio: 'ignore',
      });
      child.on('error', reject);
      child.on('close', resolve);
    });
    expect(code).toBe(0);
    return fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
  }

  // `--help` and `--version` must not pay for DuckDB's native binding, the application or the
  // config validators: they load only what parsing needs.
  it.each([['--help'], ['--version'], ['run', '--help'], ['sql', '--help']])('`%s` loads only the parser', async (...args) => {
    const loaded = await importsOf(args);
    expect(loaded.some((url) => url.endsWith('/commander/esm.mjs'))).toBe(true);
    const heavy = loaded.filter((url) =>
      /@duckdb|\/valibot\/|\/jiti\/|smol-toml|cli-progress|\/dist\/(duckdb-api\.js|(app|config|runtime|sql|store)\/)/.test(url),
    );
    expect(heavy).toEqual([]);
  });

  it('loads the implementation when a command runs', async () => {
    const loaded = await importsOf(['validate', path.join(ROOT, 'examples/shop/tasks/staging/stg_orders.sql')]);
    expect(loaded.some((url) => url.includes('/dist/app/registration.js'))).toBe(true);
    // DuckDB's API is required (CommonJS) by the module that loads it for everyone.
    expect(loaded.some((url) => url.includes('/dist/duckdb-api.js'))).toBe(true);
  });
});

describe('--version', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('prints the package version from any working directory', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const elsewhere = project().dir;
    for (const flag of ['--version', '-V']) {
      const r = await runCli([flag], { cwd: elsewhere });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
      expect(r.stderr).toBe('');
    }
  });
});

describe('usage errors', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('print one line and where to read more, with exit code 2', async () => {
    const r = await runCli(['run', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("error: unknown option '--bogus'\n(see `duck-orch run --help`)\n");

    const top = await runCli(['--bogus']);
    expect(top.code).toBe(2);
    expect(top.stderr).toBe("error: unknown option '--bogus'\n(see `duck-orch --help`)\n");

    const missing = await runCli(['register']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe("error: missing required argument 'dir'\n(see `duck-orch register --help`)\n");
  });

  it('keep commander’s suggestion on the same line', async () => {
    const r = await runCli(['regster', 'tasks']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("error: unknown command 'regster' (Did you mean register?)\n(see `duck-orch --help`)\n");
  });
});

describe('--json errors', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it.each([
    [['--json', 'bogus'], "unknown command 'bogus'", 'duck-orch --help'],
    [['--json', 'run', '--bogus'], "unknown option '--bogus'", 'duck-orch run --help'],
    [['run', '--bogus', '--json'], "unknown option '--bogus'", 'duck-orch run --help'],
    [['register', '--json'], "missing required argument 'dir'", 'duck-orch register --help'],
    [['--json'], 'missing command', 'duck-orch --help'],
  ])('%j prints one USAGE error document on stdout and nothing on stderr', async (args, message, help) => {
    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('');
    expect(json<Errors>(r)).toEqual({ errors: [{ code: 'USAGE', message, hint: `see \`${help}\`` }] });
  });

  it('uses the same shape for application errors, before or after the command', async () => {
    const p = project();
    for (const args of [
      ['--json', '--db', p.db, 'status'],
      ['--db', p.db, 'status', '--json'],
    ]) {
      const r = await runCli(args);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('');
      expect(json<Errors>(r).errors).toEqual([expect.objectContaining({ code: 'DB_OPEN', message: `database ${p.db} does not exist` })]);
    }
  });

  it('names a damaged database file as DB_CORRUPT, and leaves it as it is', { timeout: SUBPROCESS_TEST_TIMEOUT }, async () => {
    const p = project();
    p.write('tasks/a.sql', 'CREATE OR REPLACE TABLE a AS SELECT 1 AS x;');
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    // Damage every block past the file's headers (12 KiB), after its checksum: what a torn write leaves.
    const bytes = fs.readFileSync(p.db);
    for (let block = 12288; block < bytes.length; block += 262144) bytes.fill(0xab, block + 8, block + 4096);
    fs.writeFileSync(p.db, bytes);
    const r = await runCli(['--db', p.db, 'status', '--json']);
    expect(r.code).toBe(1);
    expect(json<Errors>(r).errors).toEqual([
      expect.objectContaining({
        code: 'DB_CORRUPT',
        message: expect.stringMatching(new RegExp(`^database ${p.db} is damaged and DuckDB cannot read it: .*checksum`)),
        hint: `restore ${p.db} from a backup; duck-orch has not changed it`,
      }),
    ]);
    expect(fs.readFileSync(p.db).equals(bytes)).toBe(true);
  });

  it('reports an internal error as code INTERNAL, and with its stack without --json', async () => {
    // An environment that cannot be read is a fault no DuckorchError anticipates.
    const env = new Proxy({} as NodeJS.ProcessEnv, {
      get: () => {
        throw new TypeError('environment unavailable');
      },
    });
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t), env };
    expect(await runCliInProcess(['--json', 'status'], io)).toBe(1);
    expect(err).toEqual([]);
    expect(JSON.parse(out.join('\n'))).toEqual({ errors: [{ code: 'INTERNAL', message: 'environment unavailable' }] });

    out.length = 0;
    expect(await runCliInProcess(['status'], io)).toBe(1);
    expect(out).toEqual([]);
    // In-process, colours follow this process's terminal and CI settings: compare the text.
    // eslint-disable-next-line no-control-regex -- stripping ANSI colour codes is the point
    const text = err.join('\n').replace(/\u001b\[[0-9;]*m/g, '');
    expect(text).toMatch(/^internal error: TypeError: environment unavailable\n\s+at /);
  });
});

describe('a closed pipe', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  /** Runs the CLI, reads the first chunk of its stdout, then closes the pipe as `head -1` would. */
  function runAndCloseStdout(args: string[], env: Record<string, string> = {}) {
    return new Promise<{ code: number | null; first: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL: '', NO_COLOR: '1', ...env },
      });
      let first = '';
      let stderr = '';
      child.stdout.once('data', (d: Buffer) => {
        first = d.toString();
        child.stdout.destroy();
      });
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, first, stderr }));
    });
  }

  it('ends quietly when the reader goes away mid-output', async () => {
    const p = project();
    // 200 tasks with long tag lists: megabytes of `list --json`, far more than a pipe buffers,
    // so the CLI is still writing when the pipe closes.
    const tags = Array.from({ length: 100 }, (_, i) => `tag_${i}_${'x'.repeat(40)}`).join(', ');
    for (let i = 0; i < 200; i++) p.write(`tasks/t${i}.sql`, `-- @tags ${tags}\nCREATE TABLE t${i} AS SELECT ${i} AS x;\n`);
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);

    const r = await runAndCloseStdout(['--db', p.db, 'list', '--json']);
    expect(r.first.startsWith('{')).toBe(true);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('ends quietly under `| head -1`', async () => {
    const p = project();
    // `sql` needs an existing database; register an empty folder to create one.
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(
        'sh',
        ['-c', `"${process.execPath}" "${CLI}" --db "${p.db}" sql "SELECT repeat('x', 200) AS x FROM range(10000)" | head -1`],
        {
          cwd: ROOT,
          env: { ...process.env, NO_COLOR: '1' },
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('x\n');
    expect(r.stderr).toBe('');
  });
});
