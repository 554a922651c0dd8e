import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { DUCKDB_TEST_TIMEOUT, json, queryDb, runCli, SUBPROCESS_TEST_TIMEOUT, tempDir, withProject, type TempProject } from '../helpers.js';

const MODULE = `import { Dag } from 'duckorch';

export const notify = new Dag('notify').task({ name: 'ping' }, async () => 'pong');
`;

/** A project folder, database and tasks together, at `dir`; nothing is written yet. */
function projectAt(dir: string): TempProject {
  const write = (relative: string, content: string) => {
    const p = path.join(dir, relative);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
    return p;
  };
  const remove = (relative: string) => fs.rmSync(path.join(dir, relative));
  return { dir, db: path.join(dir, 'warehouse.duckdb'), tasks: path.join(dir, 'tasks'), write, remove };
}

/** The project of these tests, in a temporary folder (so that it can be moved within it). */
function newProject(): { parent: string; p: TempProject } {
  const parent = tempDir();
  const p = projectAt(path.join(parent, 'project'));
  p.write('tasks/raw/events.sql', '-- @warning_please\nCREATE OR REPLACE TABLE raw.events AS SELECT range AS id FROM range(3);');
  p.write('tasks/marts/summary.sql', 'CREATE OR REPLACE TABLE marts.summary AS SELECT count(*) AS n FROM raw.events;');
  p.write('tasks/notify.ts', MODULE);
  return { parent, p };
}

/** What `register` answered, without paths. */
const summary = (r: { tasks: Array<{ name: string; change: string }>; removed: string[] }) => ({
  tasks: r.tasks.map((t) => [t.name, t.change]),
  removed: r.removed,
});

const STORED = [
  ['events', 'tasks/raw/events.sql', 'tasks'],
  ['ping', 'tasks/notify.ts', 'tasks'],
  ['summary', 'tasks/marts/summary.sql', 'tasks'],
];

const storedPaths = (db: string) => queryDb(db, 'SELECT name, file_path, source_root FROM __orch__.tasks ORDER BY name');

describe('the registry of a project moved, copied or registered by an older duck-orch', { timeout: DUCKDB_TEST_TIMEOUT }, () => {
  it('stores task paths relative to the database, so that the project registers and runs after a move and in a copy', async () => {
    const { parent, p } = newProject();
    const first = await withProject(p, (project) => project.register(p.tasks));
    expect(summary(first)).toEqual({
      tasks: [
        ['summary', 'added'],
        ['events', 'added'],
        ['ping', 'added'],
      ],
      removed: [],
    });
    expect(first.warnings.map((w) => w.location?.file)).toEqual([path.join(p.tasks, 'raw/events.sql')]);
    expect(await storedPaths(p.db)).toEqual(STORED);

    const moved = projectAt(path.join(parent, 'elsewhere'));
    fs.renameSync(p.dir, moved.dir);
    const copy = projectAt(path.join(parent, 'copy'));
    fs.cpSync(moved.dir, copy.dir, { recursive: true });
    for (const q of [moved, copy]) {
      await withProject(q, async (project) => {
        // Before registering again: the registry already points at the files where they are now.
        expect((await project.registry()).tasks.map((t) => t.filePath)).toEqual([
          path.join(q.tasks, 'raw/events.sql'),
          path.join(q.tasks, 'notify.ts'),
          path.join(q.tasks, 'marts/summary.sql'),
        ]);
        const again = await project.register(q.tasks);
        // The SQL files are unchanged; the function task's module is now another file (a worker loads it from there).
        expect(summary(again)).toEqual({
          tasks: [
            ['summary', 'unchanged'],
            ['events', 'unchanged'],
            ['ping', 'changed'],
          ],
          removed: [],
        });
        // Shown, and warned about, where they are now.
        expect(again.tasks.map((t) => t.file)).toEqual(
          ['marts/summary.sql', 'raw/events.sql', 'notify.ts'].map((f) => path.join(q.tasks, f).split(path.sep).join('/')),
        );
        expect(again.warnings.map((w) => w.location?.file)).toEqual([path.join(q.tasks, 'raw/events.sql')]);
        const { tasks, graph } = await project.registry();
        expect(tasks.find((t) => t.definition.name === 'ping')!.definition.function?.module).toBe(path.join(q.tasks, 'notify.ts'));
        expect([...graph.upstreamOf('summary')]).toEqual(['events']);
        const run = await project.run();
        expect(run.jobs.map((j) => [j.task, j.state])).toEqual([
          ['events', 'succeeded'],
          ['ping', 'succeeded'],
          ['summary', 'succeeded'],
        ]);
        // An edit after the move is registered as an edit: the files are recognised where they are.
        q.write('tasks/marts/summary.sql', 'CREATE OR REPLACE TABLE marts.summary AS SELECT count(*) + 1 AS n FROM raw.events;');
        expect(summary(await project.register(q.tasks)).tasks.filter(([, c]) => c !== 'unchanged')).toEqual([['summary', 'changed']]);
      });
      expect(await storedPaths(q.db)).toEqual(STORED);
    }
  });

  it('re-registers a registry written with absolute paths, and stores them relative from then on', async () => {
    const { parent, p } = newProject();
    const other = path.join(parent, 'other');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'extra.sql'), 'CREATE OR REPLACE TABLE extra AS SELECT 1 AS x;');
    await withProject(p, async (project) => {
      await project.register(p.tasks);
      await project.register(other);
    });
    // What duck-orch wrote before: absolute paths.
    const relative = await storedPaths(p.db);
    const instance = await DuckDBInstance.create(p.db);
    try {
      const conn = await instance.connect();
      for (const [name, file, root] of relative)
        await conn.run('UPDATE __orch__.tasks SET file_path = $2, source_root = $3 WHERE name = $1', [
          String(name),
          path.resolve(p.dir, String(file)),
          path.resolve(p.dir, String(root)),
        ]);
      conn.closeSync();
    } finally {
      instance.closeSync();
    }
    expect((await storedPaths(p.db)).map((r) => r[2])).toEqual([p.tasks, other, p.tasks, p.tasks]);
    await withProject(p, async (project) => {
      // Nothing changed in the files: no "defined twice", every task unchanged, the other folder's task kept.
      const again = await project.register(p.tasks);
      expect(summary(again)).toEqual({
        tasks: [
          ['summary', 'unchanged'],
          ['events', 'unchanged'],
          ['ping', 'unchanged'],
        ],
        removed: [],
      });
      expect((await project.registry()).tasks.map((t) => t.definition.name)).toEqual(['events', 'extra', 'ping', 'summary']);
    });
    // Written again, every row is relative, the other folder's too.
    expect(await storedPaths(p.db)).toEqual([
      ['events', 'tasks/raw/events.sql', 'tasks'],
      ['extra', '../other/extra.sql', '../other'],
      ['ping', 'tasks/notify.ts', 'tasks'],
      ['summary', 'tasks/marts/summary.sql', 'tasks'],
    ]);
  });
});

describe('a checkout of the project at another path', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('registers from inside it with nothing changed: same definitions, same snapshot', async () => {
    const parent = tempDir();
    const p = projectAt(path.join(parent, 'checkout-1'));
    p.write('tasks/raw/events.sql', 'CREATE OR REPLACE TABLE raw.events AS SELECT range AS id FROM range(3);');
    p.write('tasks/marts/summary.sql', 'CREATE OR REPLACE TABLE marts.summary AS SELECT count(*) AS n FROM raw.events;');
    const register = async (cwd: string) => {
      const r = await runCli(['--db', 'warehouse.duckdb', '--json', 'register', 'tasks'], { cwd });
      expect(r.code, r.stderr).toBe(0);
      return json<{ tasks: Array<{ name: string; file: string; change: string }> }>(r).tasks;
    };
    expect((await register(p.dir)).map((t) => t.change)).toEqual(['added', 'added']);
    const other = path.join(parent, 'elsewhere', 'checkout-2');
    fs.cpSync(p.dir, other, { recursive: true });
    expect(await register(other)).toEqual([
      { name: 'summary', file: 'tasks/marts/summary.sql', change: 'unchanged' },
      { name: 'events', file: 'tasks/raw/events.sql', change: 'unchanged' },
    ]);
    expect(await queryDb(path.join(other, 'warehouse.duckdb'), 'SELECT count(*)::INTEGER FROM __orch__.snapshots')).toEqual([[1]]);
  });
});
