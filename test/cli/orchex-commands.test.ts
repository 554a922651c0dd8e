/**
 * Orchex's command surface on the PostgreSQL ledger, through the built CLI: `init-db` and the
 * refusal of an uninitialised schema, DAG snapshots and `--dag <name>`, isolated worker pools,
 * `enqueue --metadata/--run-id`, Orchex's retry filters and settings, a statement timeout, and
 * `demo --postgres`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { JOB_STATES } from '../../src/model/jobs/job-state.js';
import { PG_MIGRATIONS, quoteIdent } from '../../src/store/postgres/schema.js';
import { PG_START_TIMEOUT, freshSchema, pgDatabase, postgresAvailable } from '../pg.js';
import { SUBPROCESS_TEST_TIMEOUT, json, runCli, startCli, tempProject } from '../helpers.js';

/** The version a fresh schema reaches, and how init-db lists migrations it applied. */
const LATEST = Math.max(...PG_MIGRATIONS.map((m) => m.id));
const applied = (ms: readonly { id: number; name: string }[]) => ms.map((m) => `${m.id} ${m.name}`).join(', ');

/** A DAG module whose two tasks have the same names in every DAG: isolation must come from the DAG. */
function dagModule(name: string, loadVersion = 1): string {
  return `import { Dag } from 'duckorch';
export const ${name} = new Dag('${name}');
${name}.task({ name: 'extract' }, async (inputs: { day?: string } | null) => ({ dag: '${name}', day: inputs?.day ?? null }));
${name}.task({ name: 'load', requires: ['extract'] }, async ({ extract }: { extract: { dag: string } }) => ({
  loaded: extract.dag,
  version: ${loadVersion},
}));
`;
}

async function client(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  onTestFinished(() => c.end());
  return c;
}

type Errors = { errors: Array<{ code: string; message: string; hint?: string }> };

describe.skipIf(!postgresAvailable().ok)('Orchex’s commands on PostgreSQL', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  beforeAll(() => pgDatabase(), PG_START_TIMEOUT);

  /** A project folder with the DAG modules, and the CLI run in it against a fresh schema. */
  async function setup(modules: Record<string, string> = { etl: dagModule('etl') }) {
    const { url, schema } = await freshSchema();
    const p = tempProject();
    for (const [name, text] of Object.entries(modules)) p.write(`dags/${name}.ts`, text);
    const env = { DATABASE_URL: url, DUCKORCH_PG_SCHEMA: schema };
    const cli = (args: string[], extra: Record<string, string> = {}, cwd = p.dir) =>
      runCli(['--db', p.db, ...args], { cwd, env: { ...env, ...extra } });
    return { url, schema, p, env, cli, db: await client(url) };
  }

  it('init-db creates and migrates the schema and says so; every other command refuses an uninitialised or older one', async () => {
    const { url, schema, cli, db } = await setup();
    const dag = ['--dag', 'dags/etl.ts:etl'];
    for (const args of [
      [...dag, 'worker', '--once'],
      [...dag, 'enqueue'],
      [...dag, 'queue-depth'],
      [...dag, 'status'],
      [...dag, 'snapshot', '--activate'],
    ]) {
      const r = await cli(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toContain(`has no duck-orch ledger in schema "${schema}" yet`);
      expect(r.stderr).toContain('run `duck-orch init-db`');
    }
    // Nothing was created behind the user's back.
    const tables = async (s: string) =>
      Number((await db.query('SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1', [s])).rows[0].n);
    expect(await tables(schema)).toBe(0);
    const first = await cli(['init-db']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(
      new RegExp(`^Initialised schema ${schema} on PostgreSQL [^ ]+: version ${LATEST}, applied ${applied(PG_MIGRATIONS)}\\.$`, 'm'),
    );
    expect(await tables(schema)).toBeGreaterThan(10);
    expect((await cli(['init-db'])).stdout).toMatch(
      new RegExp(`^Schema ${schema} on PostgreSQL .* is already up to date \\(version ${LATEST}\\)\\.$`, 'm'),
    );
    expect(json(await cli(['init-db', '--json']))).toMatchObject({ store: 'postgres', schema, version: LATEST, applied: [] });
    expect((await cli([...dag, 'queue-depth'])).code).toBe(0);
    // With --dag, as Orchex's init-db: the DAG gets an active snapshot when it has none, and keeps it after.
    expect((await cli([...dag, 'init-db'])).stdout).toMatch(/^Activated snapshot [0-9a-f]{12} of DAG etl \(it had none\)\.$/m);
    expect((await cli([...dag, 'init-db'])).stdout).not.toContain('Activated');
    expect((await cli(['--dag', 'etl', 'queue-depth'])).code).toBe(0);

    // A schema left at version 1 by an older duck-orch: workers say to migrate it, init-db does.
    const old = await freshSchema();
    const s = quoteIdent(old.schema);
    await db.query(`CREATE TABLE ${s}.schema_migrations (id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`);
    await db.query(PG_MIGRATIONS[0]!.sql(s));
    await db.query(`INSERT INTO ${s}.schema_migrations VALUES (1, 'jobs_ledger', now())`);
    const oldEnv = { DATABASE_URL: url, DUCKORCH_PG_SCHEMA: old.schema };
    const stale = await cli([...dag, 'worker', '--once'], oldEnv);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain(`schema "${old.schema}" at PostgreSQL`);
    expect(stale.stderr).toContain(`is at version 1, this duck-orch needs ${LATEST}`);
    expect((await cli(['init-db'], oldEnv)).stdout).toContain(`version ${LATEST}, applied ${applied(PG_MIGRATIONS.slice(1))}.`);

    // A schema from a newer duck-orch is refused by init-db and by everything else.
    await db.query(`INSERT INTO ${s}.schema_migrations VALUES (99, 'future', now())`);
    for (const args of [['init-db'], [...dag, 'queue-depth', '--json']]) {
      const r = await cli(args, oldEnv);
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).toContain(`was migrated by a newer duck-orch (version 99, this one knows up to ${LATEST})`);
    }
    expect(json<Errors>(await cli([...dag, 'queue-depth', '--json'], oldEnv)).errors[0]!.code).toBe('SCHEMA_VERSION');
  });

  it('snapshots a DAG by name; enqueue and worker by name; DAGs with the same task names keep to their own workers', async () => {
    const { cli, db, schema, p } = await setup({ etl: dagModule('etl'), other: dagModule('other') });
    expect((await cli(['init-db'])).code).toBe(0);
    const activate = await cli(['snapshot', '--activate', '--dag', 'dags/etl.ts:etl']);
    expect(activate.code, activate.stderr).toBe(0);
    expect(activate.stdout).toMatch(/^Created and activated snapshot [0-9a-f]{12} of DAG etl \(2 tasks\)\.$/m);
    const id = /snapshot ([0-9a-f]{12})/.exec(activate.stdout)![1]!;
    // Unchanged code again: nothing new, and it says so.
    expect((await cli(['snapshot', '--activate', '--dag', 'dags/etl.ts:etl'])).stdout).toBe(
      `Unchanged, already active: snapshot ${id} of DAG etl (2 tasks).\n`,
    );
    expect((await cli(['--dag', 'etl', 'snapshot', '--activate'])).stdout).toContain(`Unchanged, already active: snapshot ${id}`);
    expect((await cli(['snapshot', '--dag', 'dags/other.ts'])).stdout).toMatch(
      /^Created snapshot [0-9a-f]{12} of DAG other \(2 tasks\); activate it with --activate\.$/m,
    );
    expect((await cli(['snapshot', '--activate', '--dag', 'dags/other.ts'])).stdout).toMatch(/^Activated snapshot/m);
    const list = await cli(['snapshot', '--list']);
    expect(list.stdout).toMatch(new RegExp(`^\\*  ${id}  etl +2 `, 'm'));
    expect(list.stdout).toMatch(/^\* {2}[0-9a-f]{12} {2}other +2 /m);
    const listed = json<Array<{ dag: string; active: boolean; tasks: number; module: string }>>(
      await cli(['snapshot', '--list', '--json']),
    );
    expect(listed.map((s) => [s.dag, s.active, s.tasks]).sort()).toEqual([
      ['etl', true, 2],
      ['other', true, 2],
    ]);
    expect(listed[0]!.module).toBe(fs.realpathSync(path.join(p.dir, 'dags', `${listed[0]!.dag}.ts`)));
    expect(json<unknown[]>(await cli(['--dag', 'etl', 'snapshot', '--list', '--json']))).toHaveLength(1);

    // Enqueue by name, with the caller's run id and metadata.
    const runId = randomUUID();
    const enq = await cli([
      '--dag',
      'etl',
      'enqueue',
      '--inputs',
      '{"day": "2026-12-01"}',
      '--metadata',
      '{"source": "cron", "attempt": 1}',
      '--run-id',
      runId.toUpperCase(),
      '--json',
    ]);
    expect(enq.code, enq.stderr).toBe(0);
    expect(json<{ run: Record<string, unknown> }>(enq).run).toMatchObject({
      run_id: runId,
      dag: 'etl',
      metadata: { source: 'cron', attempt: 1 },
      tasks: 2,
    });
    const again = await cli(['--dag', 'etl', 'enqueue', '--run-id', runId, '--json']);
    expect(again.code).toBe(1);
    expect(json<Errors>(again).errors[0]).toMatchObject({ code: 'DUPLICATE_RUN', message: `a run with id ${runId} exists already` });
    const notUuid = await cli(['--dag', 'etl', 'enqueue', '--run-id', 'run-1']);
    expect(notUuid.code).toBe(2);
    expect(notUuid.stderr).toContain('--run-id must be a UUID, got `run-1`');
    const notObject = await cli(['--dag', 'etl', 'enqueue', '--metadata', '[1, 2]']);
    expect(notObject.code).toBe(2);
    expect(notObject.stderr).toContain('--metadata must be a JSON object, got `[1, 2]`');
    expect((await cli(['--dag', 'other', 'enqueue'])).code).toBe(0);
    expect(Number((await db.query(`SELECT count(*)::int AS n FROM "${schema}".runs`)).rows[0].n)).toBe(2);

    // Unknown names: the closest one, or the DAGs there are.
    const typo = await cli(['--dag', 'etll', 'enqueue']);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain('unknown DAG `etll`: no DAG of that name has an active snapshot');
    expect(typo.stderr).toContain('did you mean `etl`?');
    expect((await cli(['--dag', 'zzz', 'queue-depth'])).stderr).toContain('DAGs with an active snapshot: `etl`, `other`');

    // A worker without --dag works runs of the registry only: the DAGs' jobs wait for their own workers.
    const plain = await cli(['worker', '--once']);
    expect(plain.code, plain.stderr).toBe(0);
    expect((await db.query(`SELECT DISTINCT state FROM "${schema}".jobs`)).rows).toEqual([{ state: 'pending' }]);

    // A worker for etl, started elsewhere: it loads etl's code from where the snapshot recorded it.
    const elsewhere = path.join(p.dir, 'elsewhere');
    fs.mkdirSync(elsewhere);
    const worker = await cli(['--dag', 'etl', 'worker', '--once'], {}, elsewhere);
    expect(worker.code, worker.stderr).toBe(0);
    // The same code from another folder is the same snapshot.
    expect((await cli(['snapshot', '--activate', '--dag', path.join(p.dir, 'dags', 'etl.ts')], {}, elsewhere)).stdout).toContain(
      `Unchanged, already active: snapshot ${id}`,
    );
    const jobs = async () =>
      (
        await db.query(
          `SELECT r.dag_name, j.task_name, j.state, j.result FROM "${schema}".jobs j JOIN "${schema}".runs r USING (run_id)
           ORDER BY r.dag_name, j.task_name`,
        )
      ).rows as Array<{ dag_name: string; task_name: string; state: string; result: unknown }>;
    expect((await jobs()).map((j) => [j.dag_name, j.task_name, j.state])).toEqual([
      ['etl', 'extract', 'succeeded'],
      ['etl', 'load', 'succeeded'],
      ['other', 'extract', 'pending'],
      ['other', 'load', 'pending'],
    ]);
    expect((await jobs()).find((j) => j.dag_name === 'etl' && j.task_name === 'load')!.result).toEqual({ loaded: 'etl', version: 1 });
    // Reads keep to a DAG by name; without --dag they span the schema, every state counted.
    expect(json(await cli(['--dag', 'other', 'queue-depth', '--json']))).toMatchObject({ pending: 2, succeeded: 0 });
    const all = json<Record<string, number>>(await cli(['--dag', 'dags/etl.ts', 'queue-depth', '--json']));
    expect(all).toMatchObject({ pending: 0, succeeded: 2 });
    expect(Object.keys(all)).toEqual([...JOB_STATES]);
    const status = json<{ jobs: Array<{ task: string }>; runs: Array<{ run_id: string; metadata: unknown; dag: string }> }>(
      await cli(['--dag', 'etl', 'status', '--json']),
    );
    expect(status.jobs).toHaveLength(2);
    expect(status.runs.find((r) => r.run_id === runId)).toMatchObject({ dag: 'etl', metadata: { source: 'cron', attempt: 1 } });
  });

  it('every run is bound to its snapshot: changed code is refused until activated, and never runs an older run', async () => {
    const { cli, db, schema, p } = await setup({ etl: dagModule('etl'), other: dagModule('other') });
    expect((await cli(['init-db'])).code).toBe(0);
    expect((await cli(['snapshot', '--activate', '--dag', 'dags/etl.ts'])).code).toBe(0);
    expect((await cli(['snapshot', '--activate', '--dag', 'dags/other.ts'])).code).toBe(0);
    expect((await cli(['--dag', 'other', 'enqueue'])).code).toBe(0);
    // A run of the current snapshot, then the code changes: a worker refuses to start on it.
    const bound = randomUUID();
    expect((await cli(['--dag', 'etl', 'enqueue', '--run-id', bound])).code).toBe(0);
    p.write('dags/etl.ts', dagModule('etl', 2));
    const refused = await cli(['--dag', 'etl', 'worker', '--once']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /the code of DAG `etl` in \S+etl\.ts is not its active snapshot [0-9a-f]{12} \(tasks that differ: load\)/,
    );
    expect(refused.stderr).toContain('snapshot --activate --dag');
    // Activated, the new code runs new runs; the run bound to the old snapshot does not run other code.
    expect((await cli(['--dag', 'etl', 'snapshot', '--activate'])).stdout).toMatch(/^Created and activated snapshot/m);
    const fresh = randomUUID();
    expect((await cli(['--dag', 'etl', 'enqueue', '--run-id', fresh])).code).toBe(0);
    expect((await cli(['--dag', 'etl', 'worker', '--once'])).code).toBe(0);
    const byRun = async (id: string) =>
      Object.fromEntries(
        (await db.query(`SELECT task_name, state, error_message, result FROM "${schema}".jobs WHERE run_id = $1`, [id])).rows.map(
          (r: { task_name: string; state: string; error_message: string | null; result: unknown }) => [r.task_name, r],
        ),
      );
    const newRun = await byRun(fresh);
    expect(newRun.load).toMatchObject({ state: 'succeeded', result: { loaded: 'etl', version: 2 } });
    const oldRun = await byRun(bound);
    expect(oldRun.extract!.state).toBe('succeeded'); // its code did not change
    expect(oldRun.load!.state).toBe('dead');
    expect(oldRun.load!.error_message).toContain("is not the code of this run's snapshot");
    // The other DAG's jobs were never touched.
    expect(json(await cli(['--dag', 'other', 'queue-depth', '--json']))).toMatchObject({ pending: 2 });

    // A worker of the other DAG logs its rates as often as METRICS_FLUSH_INTERVAL says.
    const w = startCli(['--db', p.db, '--dag', 'other', 'worker'], {
      cwd: p.dir,
      env: { DATABASE_URL: (await pgDatabase()).url, DUCKORCH_PG_SCHEMA: schema, METRICS_FLUSH_INTERVAL: '0.2' },
    });
    await w.waitForStderr(/ finish load +succeeded/);
    await w.waitForStderr(/^metrics: claimed \d+\.\d\d\/s, succeeded \d+\.\d\d\/s, failed \d+\.\d\d\/s; queue /);
    w.child.kill('SIGTERM');
    expect((await w.exited).code).toBe(0);
    expect(json(await cli(['--dag', 'other', 'queue-depth', '--json']))).toMatchObject({ pending: 0, succeeded: 2 });
  });

  it('MAX_ATTEMPTS and TASK_TIMEOUT_SECONDS set only on the worker apply to tasks that set none; retry-failed and retry-dead requeue across runs by filter', async () => {
    const flaky = `import { Dag } from 'duckorch';
export const flaky = new Dag('flaky');
flaky.task({ name: 'boom' }, async () => { throw new Error('always fails'); });
flaky.task({ name: 'after', requires: ['boom'] }, async () => 1);
flaky.task({ name: 'sure', retries: 0 }, async () => { throw new Error('says it never retries'); });
flaky.task({ name: 'slow' }, async (_inputs: unknown, ctx: { signal: AbortSignal }) => {
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, 60_000);
    ctx.signal.addEventListener('abort', () => { clearTimeout(timer); resolve(null); });
  });
});
`;
    const { cli, db, schema, p, env } = await setup({ flaky });
    const dag = ['--dag', 'dags/flaky.ts:flaky'];
    // Retries are due in an hour: the jobs stay failed, waiting, for the test to requeue.
    const settings = { MAX_ATTEMPTS: '3', TASK_TIMEOUT_SECONDS: '0.5', DUCKORCH_RETRY_BASE: '1h', DUCKORCH_RETRY_MAX: '2h' };
    expect((await cli(['init-db'])).code).toBe(0);
    // Enqueued without the settings (1 attempt recorded): the worker's settings decide.
    expect((await cli([...dag, 'enqueue'])).code).toBe(0);
    const w = startCli(['--db', p.db, ...dag, 'worker'], { cwd: p.dir, env: { ...env, ...settings } });
    await w.waitForStderr(/ retry +boom in /);
    await w.waitForStderr(/ finish sure +dead/);
    await w.waitForStderr(/ retry +slow in .*timed out after 0\.5s/);
    w.child.kill('SIGTERM');
    expect((await w.exited).code).toBe(0);
    const rows = Object.fromEntries(
      (await db.query(`SELECT task_name, state, attempts, max_attempts FROM "${schema}".jobs`)).rows.map(
        (r: { task_name: string; state: string; attempts: number; max_attempts: number }) => [r.task_name, r],
      ),
    );
    expect(rows.boom).toMatchObject({ state: 'failed', attempts: 1, max_attempts: 3 });
    expect(rows.slow).toMatchObject({ state: 'failed', attempts: 1, max_attempts: 3 });
    expect(rows.sure).toMatchObject({ state: 'dead', max_attempts: 1 });
    const queue = async () => json<Record<string, number>>(await cli([...dag, 'queue-depth', '--json']));
    expect(await queue()).toMatchObject({ pending: 1, failed: 2, dead: 1 });

    const both = await cli(['retry-failed', '--run', 'abc', '--task', 'boom']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--run retries one run; --task, --since, --min-attempts and --all-runs requeue across runs');
    expect((await cli([...dag, 'retry-failed', '--min-attempts', '2'])).stdout).toBe('Requeued 0 failed jobs.\n');
    expect((await cli([...dag, 'retry-failed', '--min-attempts', 'two'])).stderr).toContain(
      '--min-attempts must be a whole number ≥ 1, got `two`',
    );
    const flakyRun = (await db.query(`SELECT run_id, snapshot_id FROM "${schema}".runs`)).rows[0] as {
      run_id: string;
      snapshot_id: string;
    };
    const requeuedBoom = `1 failed job of 1 run: ${flakyRun.run_id.slice(0, 8)} (snapshot ${flakyRun.snapshot_id.slice(7, 19)}, 1 job)`;
    // A dry run lists what it would requeue and changes nothing.
    const dry = await cli([...dag, 'retry-failed', '--task', 'boom', '--since', '1h', '--dry-run']);
    expect(dry.stdout).toContain(`Would requeue ${requeuedBoom} (--dry-run: nothing changed).`);
    expect(dry.stdout).toMatch(
      new RegExp(`^${flakyRun.run_id.slice(0, 8)} +${flakyRun.snapshot_id.slice(7, 19)} +boom +[0-9a-f-]{36}$`, 'm'),
    );
    expect(await queue()).toMatchObject({ pending: 1, failed: 2, dead: 1 });
    expect((await cli([...dag, 'retry-failed', '--dry-run'])).stderr).toContain('--dry-run lists the failed jobs that --task');
    expect((await cli([...dag, 'retry-failed', '--task', 'boom', '--since', '1h'])).stdout).toBe(
      `Requeued ${requeuedBoom}. Work them with: duck-orch worker\n`,
    );
    expect(await queue()).toMatchObject({ pending: 2, failed: 1, dead: 1 });
    expect((await db.query(`SELECT attempts FROM "${schema}".jobs WHERE task_name = 'boom'`)).rows).toEqual([{ attempts: 0 }]);
    expect(json(await cli([...dag, 'retry-failed', '--all-runs', '--json']))).toEqual({
      requeued: 1,
      dry_run: false,
      jobs: [
        {
          job_id: expect.any(String),
          run_id: flakyRun.run_id,
          task: 'slow',
          partition_key: '__default__',
          snapshot_id: flakyRun.snapshot_id,
        },
      ],
    });
    expect((await cli([...dag, 'retry-dead', '--min-attempts', '2'])).stdout).toBe('Requeued 0 dead jobs.\n');
    const badSince = await cli([...dag, 'retry-dead', '--since', 'yesterday']);
    expect(badSince.code).toBe(2);
    expect(badSince.stderr).toContain(
      '--since must be a duration or an ISO time, got `yesterday` (expected e.g. 24h, 7d or 2026-12-01T08:00:00Z)',
    );
    expect((await cli([...dag, 'retry-dead', '--task', 'sure', '--since', '2020-01-01T00:00:00Z'])).stdout).toMatch(
      /^Requeued 1 dead job of 1 run: /,
    );
    expect(await queue()).toMatchObject({ pending: 4, failed: 0, dead: 0 });
  });

  it('a statement that runs past STATEMENT_TIMEOUT_MS fails with a clear error naming the timeout and the setting', async () => {
    const { cli, db, schema } = await setup();
    expect((await cli(['init-db'])).code).toBe(0);
    // Another session holds the jobs table: the read waits, and PostgreSQL cancels it.
    await db.query('BEGIN');
    await db.query(`LOCK TABLE "${schema}".jobs IN ACCESS EXCLUSIVE MODE`);
    try {
      const r = await cli(['--dag', 'dags/etl.ts:etl', 'queue-depth', '--json'], { STATEMENT_TIMEOUT_MS: '300' });
      expect(r.code).toBe(1);
      expect(json<Errors>(r).errors[0]).toMatchObject({
        code: 'STATEMENT_TIMEOUT',
        message: 'PostgreSQL cancelled a statement of the ledger after 300 ms (statement timeout, orch_statement_timeout_ms)',
      });
      expect(json<Errors>(r).errors[0]!.hint).toContain('STATEMENT_TIMEOUT_MS');
    } finally {
      await db.query('ROLLBACK');
    }
    const bad = await cli(['--dag', 'dags/etl.ts:etl', 'queue-depth'], { STATEMENT_TIMEOUT_MS: '5s', DB_POOL_MAX: '0' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('`orch_statement_timeout_ms` must be a whole number of milliseconds from 0 to 86400000, got `5s`');
    expect(bad.stderr).toContain(
      '`orch_pg_pool_max` must be a whole number from 1 to 1000, got `0` (from environment variable DB_POOL_MAX)',
    );
  });

  it('demo --postgres seeds the demo DAG, enqueues runs and works them to the end', async () => {
    const { cli, db, schema, p } = await setup({});
    const demo = await cli(['demo', '--postgres']);
    expect(demo.code, demo.stderr).toBe(0);
    expect(demo.stderr).toMatch(/^snapshot [0-9a-f]{12} of DAG orchex_demo active \(4 tasks\)$/m);
    expect(demo.stdout).toMatch(/^Demo DAG orchex_demo \(snapshot [0-9a-f]{12}\) on PostgreSQL .*: 3\/3 runs succeeded$/m);
    expect(demo.stdout.match(/ succeeded +4 succeeded +\{.*"demo_run":true.*\}$/gm)).toHaveLength(3);
    const runs = (await db.query(`SELECT dag_name, metadata, inputs FROM "${schema}".runs ORDER BY metadata->>'index'`)).rows as Array<{
      dag_name: string;
      metadata: { index: number };
      inputs: { uri: string };
    }>;
    expect(runs.map((r) => [r.dag_name, r.metadata.index])).toEqual([
      ['orchex_demo', 0],
      ['orchex_demo', 1],
      ['orchex_demo', 2],
    ]);
    expect(runs[0]!.inputs.uri).toMatch(/^memory:\/\/[0-9a-f-]{36}$/);
    const report = (await db.query(`SELECT result FROM "${schema}".jobs WHERE task_name = 'report' LIMIT 1`)).rows[0].result;
    expect(report).toMatchObject({ summary: '10 words, 9 distinct' });
    // Run again, the demo's snapshot is unchanged and its DAG is there to be named.
    expect((await cli(['--dag', 'orchex_demo', 'queue-depth', '--json'])).stdout).toContain('"succeeded": 12');
    // The demo left nothing in the project folder but what --db names.
    expect(fs.readdirSync(p.dir).filter((f) => !f.startsWith('warehouse.duckdb'))).toEqual(['tasks']);
    const noUrl = await runCli(['demo', '--postgres'], { cwd: p.dir });
    expect(noUrl.code).toBe(1);
    expect(noUrl.stderr).toContain('`orch_store` is postgres but no database URL is set');
  });
});
