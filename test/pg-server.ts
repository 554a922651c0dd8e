/**
 * The throwaway PostgreSQL server of a test run, on the main vitest process side (no vitest
 * runtime imports here: `test/global-setup.ts` uses this module, test files use `test/pg.ts`).
 *
 * With `DATABASE_URL` unset, tests share ONE server per vitest run. The global setup does not
 * start it: it starts a tiny HTTP endpoint on 127.0.0.1 and hands its address to the workers
 * (`project.provide('duckorchPg', …)`). The first test that calls `pgDatabase()` asks that
 * endpoint for the server, which is then created (initdb into a fresh temporary folder, a free
 * port on 127.0.0.1, fsync off) and shared by every later caller in every worker. A run that
 * selects no PostgreSQL test starts no server. The global teardown stops it (`pg_ctl stop -m
 * immediate`) and removes its folder, whatever the tests' outcome; a process exit that skips the
 * teardown still stops it (an exit hook), and on Linux the server also gets SIGINT when the
 * vitest process dies outright (`setpriv --pdeathsig`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';

export type Availability = { ok: true } | { ok: false; reason: string };

/** What the global setup hands to the test workers (`inject('duckorchPg')`). */
export interface PgProvided {
  /** Whether a throwaway server can be started on this machine (with DATABASE_URL unset). */
  throwaway: Availability;
  /** POST here for the shared throwaway server's URL (null when it cannot be started). */
  endpoint: string | null;
  /**
   * Where a test that needs a server of its own (to stop and start it) puts the server's folder:
   * the system temporary folder, which the `postgres` user can enter (the run's own cannot be).
   */
  serverParentDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    duckorchPg: PgProvided;
  }
}

interface PgInstall {
  initdb: string;
  pgCtl: string;
  postgres: string;
  /** Run a PostgreSQL program as the `postgres` OS user (we are root) or as ourselves. */
  runAs: { uid: number; gid: number; wrapper: 'setpriv' | 'runuser'; wrapperPath: string } | null;
  /** `setpriv`, for the parent-death signal of the server when we are not root. */
  setpriv: string | null;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function which(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

/** Folders that may hold initdb, pg_ctl and postgres: PATH, `pg_config --bindir`, distro paths. */
function candidateBinDirs(): string[] {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const pgConfig = which('pg_config');
  if (pgConfig) {
    const out = spawnSync(pgConfig, ['--bindir'], { encoding: 'utf8', timeout: 10_000 });
    if (out.status === 0 && out.stdout.trim()) dirs.push(out.stdout.trim());
  }
  for (const root of ['/usr/lib/postgresql', '/usr/pgsql']) {
    let versions: string[] = [];
    try {
      versions = fs.readdirSync(root);
    } catch {
      continue;
    }
    versions.sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
    dirs.push(...versions.map((v) => path.join(root, v, 'bin')));
  }
  dirs.push('/usr/local/pgsql/bin');
  return dirs;
}

function findBinaries(): Pick<PgInstall, 'initdb' | 'pgCtl' | 'postgres'> | null {
  for (const dir of candidateBinDirs()) {
    const initdb = path.join(dir, 'initdb');
    if (!isExecutable(initdb)) continue;
    // Take pg_ctl and postgres from the same installation as initdb (PATH may hold symlinks).
    for (const binDir of [path.dirname(fs.realpathSync(initdb)), dir]) {
      const pgCtl = path.join(binDir, 'pg_ctl');
      const postgres = path.join(binDir, 'postgres');
      if (isExecutable(pgCtl) && isExecutable(postgres)) return { initdb: path.join(binDir, 'initdb'), pgCtl, postgres };
    }
  }
  return null;
}

function idOf(user: string, flag: '-u' | '-g'): number | null {
  const out = spawnSync('id', [flag, user], { encoding: 'utf8', timeout: 10_000 });
  const n = Number.parseInt(out.stdout ?? '', 10);
  return out.status === 0 && Number.isInteger(n) ? n : null;
}

function commandFor(install: PgInstall, program: string, args: string[], pdeathsig = false): [string, string[]] {
  const ra = install.runAs;
  if (ra?.wrapper === 'setpriv') {
    const death = pdeathsig ? ['--pdeathsig', 'SIGINT'] : [];
    return [ra.wrapperPath, [`--reuid=${ra.uid}`, `--regid=${ra.gid}`, '--init-groups', ...death, '--', program, ...args]];
  }
  if (ra?.wrapper === 'runuser') return [ra.wrapperPath, ['-u', 'postgres', '--', program, ...args]];
  if (pdeathsig && install.setpriv) return [install.setpriv, ['--pdeathsig', 'SIGINT', '--', program, ...args]];
  return [program, args];
}

let cachedInstall: { install: PgInstall } | { reason: string } | undefined;

/** Finds PostgreSQL's server programs and checks that we can run them (synchronous, cached). */
export function findPostgres(): { install: PgInstall } | { reason: string } {
  if (cachedInstall) return cachedInstall;
  cachedInstall = (() => {
    const binaries = findBinaries();
    if (!binaries) {
      return {
        reason:
          'DATABASE_URL is not set and no PostgreSQL server programs (initdb, pg_ctl, postgres) were found ' +
          'on PATH, via pg_config or under /usr/lib/postgresql/*/bin',
      };
    }
    let runAs: PgInstall['runAs'] = null;
    if (process.getuid?.() === 0) {
      const uid = idOf('postgres', '-u');
      const gid = idOf('postgres', '-g');
      if (uid === null || gid === null) {
        return { reason: 'running as root (initdb refuses root) and there is no `postgres` OS user to run PostgreSQL as' };
      }
      const setpriv = which('setpriv');
      const runuser = setpriv ? null : which('runuser');
      if (!setpriv && !runuser) {
        return { reason: 'running as root (initdb refuses root) and neither setpriv nor runuser is there to switch to `postgres`' };
      }
      runAs = setpriv
        ? { uid, gid, wrapper: 'setpriv', wrapperPath: setpriv }
        : { uid, gid, wrapper: 'runuser', wrapperPath: runuser as string };
    }
    const install: PgInstall = { ...binaries, runAs, setpriv: which('setpriv') };
    const [cmd, args] = commandFor(install, install.initdb, ['--version']);
    const probe = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000, cwd: '/' });
    if (probe.status !== 0) {
      const detail = (probe.stderr || probe.error?.message || '').trim();
      return { reason: `cannot run ${install.initdb}${runAs ? ' as the postgres user' : ''}: ${detail || `exit ${probe.status}`}` };
    }
    return { install };
  })();
  return cachedInstall;
}

function run(install: PgInstall, program: string, args: string[], cwd: string): Promise<void> {
  const [cmd, fullArgs] = commandFor(install, program, args);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, fullArgs, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${path.basename(program)} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${output.trim()}`));
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Polls by connecting (no fixed sleep) until the server answers a query, or its process ends. */
async function waitReady(url: string, child: ChildProcess, timeoutMs: number): Promise<'ready' | 'exited'> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return 'exited';
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return 'ready';
    } catch (err) {
      lastError = err;
    } finally {
      await client.end().catch(() => undefined);
    }
    await Promise.race([new Promise((r) => setTimeout(r, 50)), exited(child)]);
  }
  throw new Error(`the throwaway PostgreSQL server did not accept connections within ${timeoutMs / 1000}s`, { cause: lastError });
}

export interface ThrowawayServer {
  url: string;
  dir: string;
  /** Stops the server and removes its folder. */
  stop(): Promise<void>;
  /** For a process exit that skips the teardown. */
  stopSync(): void;
  /** Stops the server (`pg_ctl stop -m <mode>`), keeping its data, for `resume()` (a restart under clients' feet). */
  halt(mode: 'fast' | 'immediate'): Promise<void>;
  /** Starts a halted server again, on the same port and data folder; resolves once it answers. */
  resume(): Promise<void>;
}

/** initdb into a fresh folder under `parentDir`, start on a free 127.0.0.1 port, wait until ready. */
export async function startThrowaway(install: PgInstall, parentDir: string): Promise<ThrowawayServer> {
  const dir = fs.mkdtempSync(path.join(parentDir, 'duckorch-pg-'));
  const data = path.join(dir, 'data');
  let child: ChildProcess | undefined;
  const stopSync = () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const [cmd, args] = commandFor(install, install.pgCtl, ['stop', '-D', data, '-m', 'immediate', '-w', '-t', '30']);
      const out = spawnSync(cmd, args, { cwd: dir, stdio: 'ignore', timeout: 40_000 });
      if (out.status !== 0) child.kill('SIGKILL');
    }
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  };
  const stop = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const running = child;
      await run(install, install.pgCtl, ['stop', '-D', data, '-m', 'immediate', '-w', '-t', '30'], dir).catch((err: unknown) => {
        console.error(`pg_ctl stop failed, killing the server: ${String(err)}`);
        running.kill('SIGKILL');
      });
      await exited(running);
    }
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  };
  let starts = 0;
  /** Starts the postmaster on `port`; 'exited' with its log when it could not (say, the port was taken). */
  const launch = async (port: number): Promise<{ ready: true } | { ready: false; output: string }> => {
    const logFile = path.join(dir, `server-${++starts}.log`);
    const log = fs.openSync(logFile, 'w');
    const [cmd, args] = commandFor(
      install,
      install.postgres,
      [
        ...['-D', data, '-p', String(port), '-k', dir],
        ...['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=100'],
        ...['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
      ],
      true,
    );
    child = spawn(cmd, args, { cwd: dir, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    child.on('error', () => undefined);
    if ((await waitReady(`postgresql://postgres@127.0.0.1:${port}/postgres`, child, 90_000)) === 'ready') return { ready: true };
    return { ready: false, output: fs.readFileSync(logFile, 'utf8') };
  };
  try {
    if (install.runAs) fs.chownSync(dir, install.runAs.uid, install.runAs.gid);
    await run(install, install.initdb, ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'], dir);
    // A port found free may be taken before the server binds it: try again with another.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
      const started = await launch(port);
      const halt = async (mode: 'fast' | 'immediate') => {
        const running = child;
        if (!running || running.exitCode !== null || running.signalCode !== null) return;
        await run(install, install.pgCtl, ['stop', '-D', data, '-m', mode, '-w', '-t', '60'], dir);
        await exited(running);
      };
      const resume = async () => {
        const again = await launch(port);
        if (!again.ready) throw new Error(`the throwaway PostgreSQL server did not start again on port ${port}:\n${again.output.trim()}`);
      };
      if (started.ready) return { url, dir, stop, stopSync, halt, resume };
      if (attempt < 5 && /could not bind|already in use/i.test(started.output)) continue;
      throw new Error(`the throwaway PostgreSQL server exited during start-up:\n${started.output.trim()}`);
    }
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

/**
 * For the global setup: what to provide to the workers, and the teardown. `parentDir` is where
 * the server's folder goes (outside the run's own temporary folder, which the teardown checks for
 * leaks, and which the `postgres` user could not enter anyway).
 */
export async function pgGlobalSetup(parentDir: string): Promise<{ provided: PgProvided; teardown(): Promise<void> }> {
  const found = findPostgres();
  if (!('install' in found)) {
    return {
      provided: { throwaway: { ok: false, reason: found.reason }, endpoint: null, serverParentDir: parentDir },
      teardown: async () => {},
    };
  }
  const { install } = found;
  let server: Promise<ThrowawayServer> | undefined;
  let started: ThrowawayServer | undefined;
  const onExit = () => started?.stopSync();
  const ensure = () =>
    (server ??= startThrowaway(install, parentDir).then((s) => {
      started = s;
      process.on('exit', onExit);
      return s;
    }));

  const token = randomBytes(16).toString('hex');
  const endpoint = http.createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== `/${token}`) {
      res.writeHead(404).end();
      return;
    }
    ensure().then(
      (s) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: s.url })),
      (err: unknown) =>
        res
          .writeHead(500, { 'content-type': 'application/json' })
          .end(
            JSON.stringify({ error: err instanceof Error ? `${err.message}${err.cause ? ` (${String(err.cause)})` : ''}` : String(err) }),
          ),
    );
  });
  endpoint.unref();
  await new Promise<void>((resolve, reject) => {
    endpoint.once('error', reject);
    endpoint.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = endpoint.address() as net.AddressInfo;

  return {
    provided: { throwaway: { ok: true }, endpoint: `http://127.0.0.1:${port}/${token}`, serverParentDir: parentDir },
    async teardown() {
      endpoint.closeAllConnections();
      await new Promise<void>((resolve) => endpoint.close(() => resolve()));
      if (server) {
        const s = await server.catch(() => undefined);
        if (s) {
          await s.stop();
          process.off('exit', onExit);
        }
      }
    },
  };
}
