/**
 * Two jobs of one task and partition that write data never run at once, across runs: the later
 * one waits (pending) until the earlier one ends, then sees what it committed. On both ledgers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SUBPROCESS_TEST_TIMEOUT, json, queryDb, register, runCli, startCli, tempProject, waitFor, type TempProject } from '../helpers.js';
import { freshSchema, postgresAvailable } from '../pg.js';

/** `log_rows` (an asset: it writes data) marks that it started, then waits for the gate before appending its row. */
function gatedAsset(p: TempProject): { gate: string; started: () => string[] } {
  const gates = path.join(p.dir, 'gates');
  fs.mkdirSync(gates);
  p.write(
    'tasks/log.ts',
    `import fs from 'node:fs';
import path from 'node:path';
import { asset, type AssetContext } from 'duckorch';
const GATES = ${JSON.stringify(gates)};
export const log = asset({ name: 'main.log_rows' }, async ({ connection, runId, signal }: AssetContext) => {
  await connection.run('CREATE TABLE IF NOT EXISTS main.log_rows (run_id VARCHAR, written_at TIMESTAMP)');
  fs.writeFileSync(path.join(GATES, 'started-' + runId), '');
  while (!fs.existsSync(path.join(GATES, 'open'))) {
    if (signal.aborted) throw new Error('stopped');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await connection.run("INSERT INTO main.log_rows VALUES ('" + runId + "', now())");
});
`,
  );
  return {
    gate: path.join(gates, 'open'),
    started: () => fs.readdirSync(gates).filter((f) => f.startsWith('started-')),
  };
}

async function attemptsDoNotOverlap(db: string): Promise<void> {
  const rows = (await queryDb(
    db,
    "SELECT epoch_ms(started_at), epoch_ms(finished_at), outcome FROM __orch__.attempts WHERE task_name = 'log_rows' ORDER BY started_at",
  )) as Array<[bigint, bigint, string]>;
  expect(rows.map((r) => r[2])).toEqual(['succeeded', 'succeeded']);
  expect(rows[1]![0]).toBeGreaterThanOrEqual(rows[0]![1]);
}

describe('one writer per task and partition', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('worker --once holds the second run’s job back while the first runs, then works it and exits', async () => {
    const p = tempProject();
    const { gate, started } = gatedAsset(p);
    await register(p);
    for (let i = 0; i < 2; i++) expect((await runCli(['--db', p.db, 'enqueue', '-s', 'log_rows'])).code).toBe(0);
    const worker = startCli(['--db', p.db, 'worker', '--once', '-c', '4']);
    await worker.waitForStderr(/ start +log_rows \(attempt 1\)/);
    await waitFor('the first job to reach its gate', () => started().length > 0);
    // Both were ready at once: a claim would have taken both.
    const depth = await runCli(['--db', p.db, 'queue-depth', '--json']);
    expect(json(depth), depth.stderr + worker.stderr).toMatchObject({ processing: 1, pending: 1 });
    expect(started()).toHaveLength(1);
    fs.writeFileSync(gate, '');
    const done = await worker.exited;
    expect(done.code, done.stderr).toBe(0);
    expect(started()).toHaveLength(2);
    await attemptsDoNotOverlap(p.db);
    expect(await queryDb(p.db, 'SELECT count(DISTINCT run_id) FROM main.log_rows')).toEqual([[2n]]);
  });

  it('a second run handed to the holder waits for the first’s incremental load and loads nothing twice', async () => {
    const p = tempProject();
    p.write(
      'tasks/load.sql',
      [
        '-- @incremental_by id',
        'CREATE TABLE IF NOT EXISTS mart.loaded (id INTEGER, watermark VARCHAR);',
        // Slow on purpose (seconds), so that the second run arrives while it runs.
        "INSERT INTO mart.loaded SELECT id, '{{ last_processed_at }}' FROM raw.src",
        'WHERE id > {{ last_processed_at }} AND (SELECT count(*) FROM range(3000) a, range(3000) b, range(1000) c) > 0;',
      ].join('\n'),
    );
    await queryDb(p.db, 'CREATE SCHEMA raw; CREATE TABLE raw.src AS SELECT range::INTEGER AS id FROM range(1, 1001)');
    await register(p);
    const first = startCli(['--db', p.db, 'run', '-s', 'load']);
    await first.waitForStderr(/ start +load \(attempt 1\)/);
    const second = await runCli(['--db', p.db, 'run', '-s', 'load', '--json']);
    expect(second.code, second.stderr).toBe(0);
    const held = json<{ jobs: Array<{ rows: number }> }>(second);
    expect((await first.exited).code).toBe(0);
    expect(held.jobs[0]!.rows).toBe(0);
    expect(await queryDb(p.db, 'SELECT count(*), count(DISTINCT id) FROM mart.loaded')).toEqual([[1000n, 1000n]]);
  });

  it.skipIf(!postgresAvailable().ok)('on PostgreSQL too: worker --once works two runs of one writer one after the other', async () => {
    const { url, schema } = await freshSchema();
    const env = { DATABASE_URL: url, DUCKORCH_PG_SCHEMA: schema };
    const p = tempProject();
    const { gate, started } = gatedAsset(p);
    expect((await runCli(['--db', p.db, 'register', p.tasks], { env })).code).toBe(0);
    for (let i = 0; i < 2; i++) expect((await runCli(['--db', p.db, 'enqueue', '-s', 'log_rows'], { env })).code).toBe(0);
    const worker = startCli(['--db', p.db, 'worker', '--once', '-c', '4'], { env });
    await worker.waitForStderr(/ start +log_rows \(attempt 1\)/);
    await waitFor('the first job to reach its gate', () => started().length > 0);
    expect(json(await runCli(['--db', p.db, 'queue-depth', '--json'], { env }))).toMatchObject({ processing: 1, pending: 1 });
    expect(started()).toHaveLength(1);
    fs.writeFileSync(gate, '');
    const done = await worker.exited;
    expect(done.code, done.stderr).toBe(0);
    expect(started()).toHaveLength(2);
    const depth = json(await runCli(['--db', p.db, 'queue-depth', '--json'], { env }));
    expect(depth).toMatchObject({ succeeded: 2, pending: 0, processing: 0 });
    expect(await queryDb(p.db, 'SELECT count(DISTINCT run_id) FROM main.log_rows')).toEqual([[2n]]);
  });
});
