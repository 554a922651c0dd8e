import { describe, expect, it } from 'vitest';
import { DUCKDB_TEST_TIMEOUT, tempProject, withProject } from '../helpers.js';

describe('register', { timeout: DUCKDB_TEST_TIMEOUT }, () => {
  it('keeps tasks registered from other folders, links across them, and reports what changed', async () => {
    const p = tempProject();
    p.write('ingest/load.sql', 'CREATE OR REPLACE TABLE raw.events AS SELECT 1 AS id;');
    p.write('ingest/old.sql', 'CREATE OR REPLACE TABLE raw.old AS SELECT 1 AS id;');
    p.write('models/report.sql', 'CREATE OR REPLACE TABLE mart.report AS SELECT count(*) AS n FROM raw.events;');
    await withProject(p, async (project) => {
      const first = await project.register(`${p.dir}/ingest`);
      expect(first.tasks.map((t) => [t.name, t.change])).toEqual([
        ['load', 'added'],
        ['old', 'added'],
      ]);
      await project.register(`${p.dir}/models`);
      const { graph } = await project.registry();
      expect([...graph.upstreamOf('report')]).toEqual(['load']);

      p.remove('ingest/old.sql');
      p.write('ingest/load.sql', 'CREATE OR REPLACE TABLE raw.events AS SELECT 2 AS id;');
      p.write('ingest/new.sql', 'CREATE OR REPLACE TABLE raw.new AS SELECT 1 AS id;');
      const again = await project.register(`${p.dir}/ingest`);
      expect(again.tasks.map((t) => [t.name, t.change])).toEqual([
        ['load', 'changed'],
        ['new', 'added'],
      ]);
      expect(again.removed).toEqual(['old']);
      const unchanged = await project.register(`${p.dir}/ingest`);
      expect(unchanged.tasks.every((t) => t.change === 'unchanged')).toBe(true);
      const names = (await project.registry()).tasks.map((t) => t.definition.name).sort();
      expect(names).toEqual(['load', 'new', 'report']);
      const result = await project.run();
      expect(result.jobs.map((t) => [t.task, t.state])).toEqual([
        ['load', 'succeeded'],
        ['new', 'succeeded'],
        ['report', 'succeeded'],
      ]);
    });
  });

  it('rejects a duplicate task name across folders, naming both files', async () => {
    const p = tempProject();
    p.write('a/orders.sql', 'CREATE TABLE a_orders AS SELECT 1 AS x;');
    p.write('b/orders.sql', 'CREATE TABLE b_orders AS SELECT 1 AS x;');
    await withProject(p, async (project) => {
      await project.register(`${p.dir}/a`);
      await expect(project.register(`${p.dir}/b`)).rejects.toThrow(
        /task `orders` is defined twice: in .*a\/orders\.sql and in .*b\/orders\.sql/,
      );
      expect((await project.registry()).tasks.map((t) => t.filePath)).toEqual([expect.stringMatching(/a\/orders\.sql$/)]);
    });
  });
});
