import { describe, expect, it } from 'vitest';
import { unifySpellings } from '../../src/model/graph/spelling.js';
import { makeTask } from '../model/make-task.js';
import { queryDb, tempProject, withProject, DUCKDB_TEST_TIMEOUT } from '../helpers.js';

async function tables(db: string): Promise<string[]> {
  const rows = await queryDb(db, "SELECT schema_name || '.' || table_name FROM duckdb_tables() WHERE schema_name <> '__orch__' ORDER BY 1");
  return rows.map((r) => String(r[0]));
}

describe('identifier case', { timeout: DUCKDB_TEST_TIMEOUT }, () => {
  it('creates schemas and tables with the case the user wrote, and matches names case-insensitively', async () => {
    const p = tempProject();
    p.write('tasks/orders.sql', 'CREATE OR REPLACE TABLE "Sales Data"."Orders" AS SELECT 1 AS id;');
    p.write(
      'tasks/own_schema.sql',
      'CREATE SCHEMA IF NOT EXISTS "Other Place";\nCREATE OR REPLACE TABLE "Other Place".Things AS SELECT 1 AS id;',
    );
    p.write('tasks/ledger.sql', 'CREATE TABLE Finance.Ledger AS SELECT id FROM "sales data".orders;');
    p.write('tasks/report.sql', 'CREATE OR REPLACE TABLE finance.report AS SELECT count(*) AS n FROM FINANCE.LEDGER;');
    const { result, listing, hops } = await withProject(p, async (project) => {
      await project.register(p.tasks);
      return {
        result: await project.run(),
        listing: (await project.list({})).tasks,
        hops: await project.walk('"sales DATA".orders', 'down'),
      };
    });
    expect(result.run?.state).toBe('succeeded');
    expect(await tables(p.db)).toEqual(['Finance.Ledger', 'Finance.report', 'Other Place.Things', 'Sales Data.Orders']);
    // Names are shown once, as the task that writes them spelled them.
    const ledger = listing.find((t) => t.name === 'ledger')!;
    expect(ledger.inputs).toEqual(['"Sales Data".Orders']);
    expect(ledger.outputs).toEqual(['Finance.Ledger']);
    expect(listing.find((t) => t.name === 'report')!).toMatchObject({ inputs: ['Finance.Ledger'], upstream: ['ledger'] });
    expect(hops).toEqual({
      table: '"Sales Data".Orders',
      hops: [
        { table_name: 'Finance.Ledger', via_task: 'ledger', depth: 1 },
        { table_name: 'finance.report', via_task: 'report', depth: 2 },
      ],
    });
  });

  it('unifies spellings on the producer’s, and keeps file paths case-sensitive', () => {
    const [writer, reader, files] = unifySpellings([
      makeTask('-- @task name=w', { writes: ['Finance.Ledger'] }),
      makeTask('-- @task name=r', { reads: ['finance.LEDGER', 'raw.Events'], writes: ['x'] }),
      makeTask('-- @task name=f', { reads: ['RAW.events', 'file:Data/A.csv'], writes: ['file:data/a.csv'] }),
    ]);
    expect(writer!.outputs).toEqual(['Finance.Ledger']);
    expect(reader!.inputs).toEqual(['Finance.Ledger', 'RAW.events']);
    expect(files!.inputs).toEqual(['RAW.events', 'file:Data/A.csv']);
  });
});
