/**
 * The settled status of an asset's partitions, kept as ranges in the ledger and brought up to
 * date from what changed since: it must always say what reading every partition's state says.
 */
import { describe, expect, it } from 'vitest';
import { parsePartitions, type PartitionDef } from '../../src/model/partitions/definition.js';
import { RangeSet } from '../../src/model/partitions/ranges.js';
import { PartitionSpace } from '../../src/model/partitions/space.js';
import { foldStates, partitionStatus } from '../../src/model/partitions/status.js';
import { DUCKDB_TEST_TIMEOUT, queryDb, tempProject, withProject } from '../helpers.js';

const def = (text: string) => (parsePartitions(text) as { ok: true; value: PartitionDef }).value;

describe('foldStates and partitionStatus', () => {
  it('each state moves its key into succeeded or failed, or out of both; running wins; what exists is bounded by now', () => {
    const space = new PartitionSpace(def('daily(start=2026-01-01)'));
    const empty = { succeeded: RangeSet.EMPTY, failed: RangeSet.EMPTY };
    const a = foldStates(space, empty, [
      { partitionKey: '2026-01-01', status: 'succeeded' },
      { partitionKey: '2026-01-02', status: 'succeeded' },
      { partitionKey: '2026-01-03', status: 'dead' },
      { partitionKey: '2027-06-01', status: 'succeeded' }, // a key whose day is not over at `now` below: kept, not shown
      { partitionKey: 'nonsense', status: 'succeeded' },
    ]);
    const b = foldStates(space, a, [
      { partitionKey: '2026-01-03', status: 'succeeded' },
      { partitionKey: '2026-01-01', status: 'dead' },
      { partitionKey: '2026-01-02', status: 'blocked' },
    ]);
    expect(b.succeeded.ranges).toEqual([
      [2, 3],
      [516, 517],
    ]);
    expect(b.failed.ranges).toEqual([[0, 1]]);
    const now = new Date('2026-01-06T00:00:00Z');
    const st = partitionStatus(space, now, b, ['2026-01-03', '2026-01-04']);
    expect([st.total, st.succeeded.size, st.failed.size, st.running.size, st.missing.size]).toEqual([5, 0, 1, 2, 2]);
  });
});

describe('stored partition ranges', { timeout: DUCKDB_TEST_TIMEOUT }, () => {
  it('are kept on first read, follow later changes, and are rebuilt when the definition changes', async () => {
    const p = tempProject();
    const write = (start: string) =>
      p.write(
        'tasks/daily.sql',
        `-- @partitions_by daily(start=${start})\n-- @param partition_key:DATE\n` +
          `CREATE TABLE IF NOT EXISTS d (day DATE);\nINSERT INTO d SELECT $partition_key WHERE $partition_key <> DATE '2026-01-04';\n` +
          `SELECT CASE WHEN $partition_key = DATE '2026-01-04' THEN error('boom') END;\n`,
      );
    write('2026-01-01');
    const calendar = async () =>
      withProject(p, async (project) => {
        const view = (await project.asset('partitions', 'd'))!;
        return { succeeded: view.ranges.succeeded, failed: view.ranges.failed };
      });
    await withProject(p, async (project) => {
      await project.register(p.tasks);
      await project.backfill({ assets: ['d'], from: '2026-01-01', to: '2026-01-05' });
    });
    expect(await calendar()).toEqual({
      succeeded: [
        [0, 3],
        [4, 5],
      ],
      failed: [[3, 4]],
    });
    const stored = await queryDb(p.db, "SELECT ranges_json FROM __orch__.asset_partition_ranges WHERE asset_name = 'd'");
    expect(JSON.parse(String(stored[0]![0]))).toEqual({
      succeeded: [
        [0, 3],
        [4, 5],
      ],
      failed: [[3, 4]],
    });
    // Later: two more days and the failed one fixed.
    p.write('tasks/daily.sql', (await import('node:fs')).readFileSync(`${p.tasks}/daily.sql`, 'utf8').replace("error('boom')", 'NULL'));
    await withProject(p, async (project) => {
      await project.register(p.tasks);
      await project.backfill({ assets: ['d'], partitions: ['2026-01-04', '2026-01-07'] });
    });
    expect(await calendar()).toEqual({
      succeeded: [
        [0, 5],
        [6, 7],
      ],
      failed: [],
    });
    // Another start: the indices mean other days; rebuilt from every state.
    write('2025-12-30');
    await withProject(p, (project) => project.register(p.tasks));
    expect(await calendar()).toEqual({
      succeeded: [
        [2, 7],
        [8, 9],
      ],
      failed: [],
    });
  });
});
