import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { definitionHash } from '../../src/model/jobs/snapshot.js';
import { DUCKDB_TEST_TIMEOUT, queryDb, tempProject, withProject, type TempProject } from '../helpers.js';

/** Every registry table's rows, without the times they were written. */
async function registry(db: string): Promise<Record<string, unknown[][]>> {
  const out: Record<string, unknown[][]> = {};
  const tables: Record<string, string> = {
    tasks: 'name, file_path, source_root, definition_json, definition_hash, file_hash, warnings_json',
    task_edges: 'upstream, downstream',
    lineage_edges: 'src_dataset, dst_dataset, via_task',
    tests: 'task_name, test_idx, query, assertion',
    assets: 'name, kind, group_name, defined_by_task, tags, automation_condition',
    asset_edges: 'upstream_asset, downstream_asset, via_task, edge_type',
    asset_checks: 'asset_name, check_name, sql, expect_type, expect_value, severity',
  };
  for (const [table, columns] of Object.entries(tables))
    out[table] = await queryDb(db, `SELECT ${columns} FROM __orch__.${table} ORDER BY ALL`);
  return out;
}

/** Registers `p.tasks` into the project's database (again), and into a new one from scratch; both must hold the same registry. */
async function registerBothWays(p: TempProject, step: number): Promise<void> {
  await withProject(p, (project) => project.register(p.tasks));
  const fresh = path.join(p.dir, `fresh-${step}.duckdb`);
  await withProject({ ...p, db: fresh }, (project) => project.register(p.tasks));
  expect(await registry(p.db), `after edit ${step}`).toEqual(await registry(fresh));
}

describe(
  're-registering writes only what changed, and ends with the same registry as a fresh registration',
  { timeout: DUCKDB_TEST_TIMEOUT },
  () => {
    it('through a series of edits', async () => {
      const p = tempProject();
      p.write('tasks/a.sql', 'CREATE OR REPLACE TABLE a AS SELECT 1 AS x;');
      p.write('tasks/b.sql', '-- @test "SELECT count(*) FROM b" expect_gt 0\nCREATE OR REPLACE TABLE b AS SELECT x FROM a;');
      p.write('tasks/c.sql', '-- @check name=pos "SELECT min(x) FROM ${asset}" expect ge 0\nCREATE OR REPLACE TABLE c AS SELECT x FROM b;');
      p.write('tasks/d.sql', "COPY (SELECT * FROM c) TO 'out/c.parquet';");
      p.write('tasks/e.sql', "CREATE OR REPLACE TABLE e AS SELECT * FROM read_parquet('out/*.parquet');");
      p.write('tasks/f.sql', '-- @depends_on a\nCREATE OR REPLACE TABLE f AS SELECT 1 AS y;');
      await registerBothWays(p, 0);

      const edits: Array<() => void> = [
        // a writes something else: b's edge from a goes, f's @depends_on still holds.
        () => p.write('tasks/a.sql', 'CREATE OR REPLACE TABLE a2 AS SELECT 1 AS x;'),
        // and back, with a new spelling that every reader takes on.
        () => p.write('tasks/a.sql', 'CREATE OR REPLACE TABLE "A" AS SELECT 1 AS x;'),
        // a test changes, a check is added.
        () =>
          p.write(
            'tasks/b.sql',
            '-- @test "SELECT count(*) FROM b" expect 1\n-- @check name=n "SELECT count(*) FROM ${asset}" expect 1\nCREATE OR REPLACE TABLE b AS SELECT x FROM a;',
          ),
        // the file the glob reader follows is renamed.
        () => p.write('tasks/d.sql', "COPY (SELECT * FROM c) TO 'out/c2.parquet';"),
        // a task goes, another comes.
        () => {
          p.remove('tasks/c.sql');
          p.write('tasks/g.sql', '-- @asset name=g\n-- @asset_group core\nCREATE OR REPLACE TABLE g AS SELECT x FROM b;');
          p.write('tasks/d.sql', "COPY (SELECT * FROM g) TO 'out/c2.parquet';");
        },
        // an asset's metadata changes only.
        () => p.write('tasks/g.sql', '-- @asset name=g\n-- @asset_group other\nCREATE OR REPLACE TABLE g AS SELECT x FROM b;'),
        // a file is touched without a change.
        () => fs.utimesSync(path.join(p.tasks, 'b.sql'), new Date(), new Date()),
      ];
      for (const [i, edit] of edits.entries()) {
        edit();
        await registerBothWays(p, i + 1);
      }
    });
  },
);

describe('definition hashes kept in the registry', { timeout: DUCKDB_TEST_TIMEOUT }, () => {
  const sha = (d: unknown) => `sha256:${createHash('sha256').update(JSON.stringify(d)).digest('hex')}`;
  const hashes = async (p: TempProject) =>
    withProject(p, async (project) => (await project.registry()).tasks.map((t) => [t.definition.name, definitionHash(t.definition)]));

  it('read back, each definition hashes as it did when registered; a registry without them is completed by the next register', async () => {
    const p = tempProject();
    p.write('tasks/a.sql', '-- @colour red\nCREATE OR REPLACE TABLE a AS SELECT 1 AS x;');
    p.write('tasks/b.sql', '-- @test "SELECT count(*) FROM b" expect_gt 0\nCREATE OR REPLACE TABLE b AS SELECT x, \'é\' AS y FROM a;');
    const registered = await withProject(p, async (project) => {
      await project.register(p.tasks);
      return (await project.registry()).tasks.map((t) => [t.definition.name, sha(t.definition)]);
    });
    const stored = await queryDb(p.db, 'SELECT name, definition_hash FROM __orch__.tasks ORDER BY name');
    expect(stored).toEqual(registered);
    expect(await hashes(p)).toEqual(registered);

    // Written by older duck-orchs: no hash (a); a definition stored before `lineage` existed, by an older analysis (b).
    await queryDb(p.db, "UPDATE __orch__.tasks SET definition_hash = NULL WHERE name = 'a'");
    const json = (await queryDb(p.db, "SELECT definition_json FROM __orch__.tasks WHERE name = 'b'"))[0]![0];
    const withoutLineage = JSON.parse(String(json)) as Record<string, unknown>;
    delete withoutLineage.lineage;
    await queryDb(
      p.db,
      `UPDATE __orch__.tasks SET definition_json = '${JSON.stringify(withoutLineage).replaceAll("'", "''")}', definition_hash = 'sha256:stale',
         file_hash = '2' || file_hash[2:] WHERE name = 'b'`,
    );
    const upgraded = await withProject(p, async (project) =>
      (await project.registry()).tasks.map((t) => [t.definition.name, definitionHash(t.definition) === sha(t.definition)]),
    );
    // A definition completed on reading hashes anew, not as its stored text did.
    expect(upgraded).toEqual([
      ['a', true],
      ['b', true],
    ]);
    await withProject(p, (project) => project.register(p.tasks));
    expect(await queryDb(p.db, 'SELECT name, definition_hash FROM __orch__.tasks ORDER BY name')).toEqual(registered);
    expect(await hashes(p)).toEqual(registered);
  });
});
