/**
 * A worker on the PostgreSQL ledger claims short jobs ahead of its free slots (so that no round
 * trip is waited on between two jobs), never runs more at once than its concurrency, and claims
 * nothing ahead while its jobs are long, as the README says. Watched from outside, in the ledger:
 * the jobs `processing` (leased) while a `worker --once -c 1` drains its queue.
 */
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { connect } from '../../src/index.js';
import { PG_START_TIMEOUT, freshSchema, pgDatabase, postgresAvailable } from '../pg.js';
import { SUBPROCESS_TEST_TIMEOUT, runCli, startCli, tempDir } from '../helpers.js';

/** Sleeps `inputs.ms`, and counts the attempts running at once in this thread (more than one: a breach of -c 1). */
const PROBE = (overlapFile: string) => `import fs from 'node:fs';
import { Dag } from 'duckorch';
let running = 0;
export const probe = new Dag('probe');
probe.task({ name: 'step' }, async (inputs: { ms: number }) => {
  if (++running > 1) fs.appendFileSync(${JSON.stringify(overlapFile)}, 'overlap\\n');
  await new Promise((r) => setTimeout(r, inputs.ms));
  running--;
  return inputs.ms;
});
`;

describe.skipIf(!postgresAvailable().ok)('jobs claimed ahead on the PostgreSQL ledger', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  beforeAll(() => pgDatabase(), PG_START_TIMEOUT);

  /**
   * Queues `runs` runs of the probe sleeping `ms` each, drains them with `worker --once -c 1`, and
   * returns the most jobs seen leased at once (polled in the ledger while the worker ran).
   */
  async function drain(runs: number, ms: number): Promise<{ mostLeased: number; overlaps: number; succeeded: number }> {
    const { url, schema } = await freshSchema();
    const dir = tempDir();
    const overlapFile = path.join(dir, 'overlaps.txt');
    fs.writeFileSync(path.join(dir, 'probe.ts'), PROBE(overlapFile));
    const env = { DATABASE_URL: url, DUCKORCH_PG_SCHEMA: schema };
    for (const args of [['init-db'], ['snapshot', '--activate', '--dag', 'probe.ts:probe']]) {
      const r = await runCli(args, { cwd: dir, env });
      expect(r.code, r.stderr).toBe(0);
    }
    const app = await connect(url, { schema });
    try {
      await app.enqueueMany(
        'probe',
        Array.from({ length: runs }, () => ({ ms })),
      );
    } finally {
      await app.close();
    }
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    onTestFinished(() => db.end());
    const count = async (state: string) =>
      Number((await db.query(`SELECT count(*)::int AS n FROM ${schema}.jobs WHERE state = $1`, [state])).rows[0].n);
    const worker = startCli(['--dag', 'probe', 'worker', '--once', '-c', '1'], { cwd: dir, env });
    let mostLeased = 0;
    let ended = false;
    void worker.exited.finally(() => (ended = true));
    while (!ended) mostLeased = Math.max(mostLeased, await count('processing'));
    const r = await worker.exited;
    expect(r.code, r.stderr).toBe(0);
    const overlaps = fs.existsSync(overlapFile) ? fs.readFileSync(overlapFile, 'utf8').split('\n').filter(Boolean).length : 0;
    return { mostLeased, overlaps, succeeded: await count('succeeded') };
  }

  it('claims short jobs ahead, and still runs one at a time at -c 1', async () => {
    const { mostLeased, overlaps, succeeded } = await drain(1500, 0);
    expect(succeeded).toBe(1500);
    // More than one per slot: as many as it runs in a few round trips to the ledger.
    expect(mostLeased).toBeGreaterThan(2);
    expect(overlaps).toBe(0);
  });

  it('claims nothing ahead while its jobs are long', async () => {
    const { mostLeased, overlaps, succeeded } = await drain(8, 60);
    expect(succeeded).toBe(8);
    expect(mostLeased).toBe(1);
    expect(overlaps).toBe(0);
  });
});
