import { describe, expect, it } from 'vitest';
import { validatePaths } from '../../src/app/registration.js';
import { DuckorchErrors } from '../../src/errors.js';
import { DUCKDB_TEST_TIMEOUT, tempProject, withProject } from '../helpers.js';

const SCORES = `import { Dag, asset, type AssetContext } from 'duckorch';

export const scores = asset({ name: 'analytics.scores', deps: ['raw.events'], group: 'ml' }, async ({ connection }: AssetContext) => {
  await connection.run('CREATE OR REPLACE TABLE analytics.scores AS SELECT id * 2 AS score FROM raw.events');
});

export const notify = new Dag('notify').task({ name: 'ping' }, async () => 'pong');
`;

/** Would fail registration if it were loaded. */
const NOT_A_TASK = "throw new Error('this file must not be loaded');\n";

describe('register with task modules', { timeout: DUCKDB_TEST_TIMEOUT }, () => {
  it('discovers modules beside .sql files; their datasets join the same graph', async () => {
    const p = tempProject();
    p.write('tasks/raw/events.sql', 'CREATE OR REPLACE TABLE raw.events AS SELECT range AS id FROM range(3);');
    p.write('tasks/ml/scores.ts', SCORES);
    p.write('tasks/ml/util.ts', 'export const factor = 2;\n');
    p.write('tasks/marts/summary.sql', 'CREATE OR REPLACE TABLE marts.summary AS SELECT count(*) AS n FROM analytics.scores;');
    p.write('tasks/ml/types.d.ts', 'export declare const x: number;\n');
    p.write('tasks/ml/scores.test.ts', NOT_A_TASK);
    p.write('tasks/ml/scores.spec.mjs', NOT_A_TASK);
    p.write('tasks/node_modules/dep/index.js', NOT_A_TASK);
    p.write('tasks/notes.json', '{}');
    await withProject(p, async (project) => {
      const result = await project.register(p.tasks);
      expect(result.files).toBe(4);
      expect(result.tasks.map((t) => [t.name, t.file.split('/').slice(-2).join('/'), t.change])).toEqual([
        ['summary', 'marts/summary.sql', 'added'],
        ['events', 'raw/events.sql', 'added'],
        ['ping', 'ml/scores.ts', 'added'],
        ['scores', 'ml/scores.ts', 'added'],
      ]);
      const { tasks, graph } = await project.registry();
      expect([...graph.upstreamOf('scores')]).toEqual(['events']);
      expect([...graph.downstreamOf('scores')]).toEqual(['summary']);
      const scores = tasks.find((t) => t.definition.name === 'scores')!;
      expect(scores.definition.kind).toBe('function');
      expect(scores.definition.function).toEqual({ module: scores.filePath, exportName: 'scores', dag: null });
      expect(scores.definition.asset?.group).toBe('ml');
      // Selection sees them like SQL tasks.
      expect((await project.list({ select: ['group:ml+'] })).tasks.map((t) => t.name)).toEqual(['scores', 'summary']);

      const again = await project.register(p.tasks);
      expect(again.tasks.every((t) => t.change === 'unchanged')).toBe(true);
      p.write('tasks/ml/scores.ts', SCORES.replace("'pong'", "'PONG'"));
      const edited = await project.register(p.tasks);
      expect(edited.tasks.filter((t) => t.change !== 'unchanged').map((t) => [t.name, t.change])).toEqual([['ping', 'changed']]);
    });
  });

  it('rejects a task name used by a .sql file and a module, leaving the registry as it was', async () => {
    const p = tempProject();
    p.write('tasks/ping.sql', 'CREATE OR REPLACE TABLE t.ping AS SELECT 1 AS x;');
    await withProject(p, async (project) => {
      await project.register(p.tasks);
      p.write(
        'tasks/notify.ts',
        "import { Dag } from 'duckorch';\nexport const notify = new Dag('notify').task({ name: 'ping' }, () => 1);\n",
      );
      const err = await project.register(p.tasks).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DuckorchErrors);
      const [dup] = (err as DuckorchErrors).errors;
      expect(dup!.code).toBe('DUPLICATE_TASK');
      expect(dup!.message).toMatch(/task `ping` is defined twice: in .*ping\.sql and in .*notify\.ts/);
      expect(dup!.location?.line).toBe(2);
      expect((await project.registry()).tasks.map((t) => t.definition.kind)).toEqual(['sql']);
    });
  });

  it("reports a module that fails to load with the files' other errors, and registers nothing", async () => {
    const p = tempProject();
    p.write('tasks/ok.sql', 'CREATE OR REPLACE TABLE t.ok AS SELECT 1 AS x;');
    p.write('tasks/bad.sql', 'CREATE TABLE t.bad AS SELEC 1;');
    p.write(
      'tasks/broken.ts',
      "import { Dag } from 'duckorch';\nexport const d = new Dag('d');\nd.task({ name: 'a', timeout: 0 }, () => 1);\n",
    );
    p.write('tasks/syntax.mjs', 'export const = 1;\n');
    await withProject(p, async (project) => {
      const err = await project.register(p.tasks).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DuckorchErrors);
      const rendered = (err as DuckorchErrors).errors.map((e) => e.render());
      expect(rendered).toHaveLength(3);
      expect(rendered[0]).toMatch(/bad\.sql:1:\d+: SQL: /);
      expect(rendered[1]).toMatch(/broken\.ts:3:3: task `a` of Dag `d`: `timeout` must be a positive number of seconds, got 0/);
      expect(rendered[2]).toMatch(/syntax\.mjs:1:\d+: task module .*syntax\.mjs has a syntax error/);
      expect((await project.registry()).tasks).toEqual([]);
    });
  });

  it('validates modules, in a folder or named directly', async () => {
    const p = tempProject();
    p.write('tasks/raw.sql', 'CREATE OR REPLACE TABLE raw.events AS SELECT 1 AS id;');
    const scores = p.write('tasks/scores.ts', SCORES);
    const broken = p.write('tasks/broken.mts', 'export const = 1;\n');
    const folder = await validatePaths([p.tasks]);
    expect(folder.files.map((f) => [f.task?.name ?? null, f.errors.map((e) => e.code)])).toEqual([
      ['raw', []],
      [null, ['MODULE_LOAD']],
      ['ping', []],
      ['scores', []],
    ]);
    const one = await validatePaths([scores]);
    expect(one.files.map((f) => f.task?.kind)).toEqual(['function', 'function']);
    expect((await validatePaths([broken])).files[0]!.errors[0]!.location?.line).toBe(1);
  });
});
