import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DuckorchError, DuckorchErrors } from '../../src/errors.js';
import { loadDagSpec, loadTaskModule, resolveTaskFunction, splitDagSpec } from '../../src/app/task-modules.js';
import { ROOT, tempDir } from '../helpers.js';

/** Writes a module into a fresh folder; returns its absolute path. */
function moduleFile(name: string, text: string, dir = tempDir()): string {
  const p = path.join(dir, name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text);
  return p;
}

async function loadError(p: string, file = 'm.ts'): Promise<DuckorchError> {
  try {
    await loadTaskModule(p, file);
  } catch (err) {
    expect(err).toBeInstanceOf(DuckorchError);
    return err as DuckorchError;
  }
  throw new Error('expected the module not to load');
}

const ETL = `import { Dag, asset, type AssetContext, type TaskContext } from 'duckorch';
import { double } from './helper';

interface Extracted { rows: number }

export const etl = new Dag('etl')
  .task({ name: 'extract', retries: 1 }, async (inputs: { n: number }, ctx: TaskContext): Promise<Extracted> => ({ rows: inputs.n + ctx.attempt }))
  .task({ name: 'report', requires: ['extract'] }, async ({ extract }: { extract: Extracted }) => double(extract.rows));

export const scores = asset({ name: 'analytics.scores', deps: ['raw.events'] }, async ({ connection }: AssetContext) => {
  await connection.run('SELECT 1');
});

export default etl;
export const notATask = 42;
`;

describe('task modules', () => {
  it("loads a .ts module that imports from 'duckorch' and its own helpers, without a build", async () => {
    const dir = tempDir();
    moduleFile('helper.ts', 'export const double = (n: number): number => n * 2;\n', dir);
    const p = moduleFile('etl.ts', ETL, dir);
    const defs = await loadTaskModule(p, 'tasks/etl.ts');
    expect(defs.map((d) => [d.name, d.function?.exportName, d.function?.dag, d.dependsOn, d.outputs])).toEqual([
      ['extract', 'etl', 'etl', [], []],
      ['report', 'etl', 'etl', ['extract'], []],
      ['scores', 'scores', null, [], ['analytics.scores']],
    ]);
    // Declared at their lines in the module.
    expect(defs.map((d) => d.bodyLine)).toEqual([7, 8, 10]);
    const report = await resolveTaskFunction(defs[1]!);
    expect(await (report as (i: unknown) => Promise<unknown>)({ extract: { rows: 4 } })).toBe(8);
  });

  it('loads .mjs and .js modules, and modules inside a checkout of duckorch itself', async () => {
    const mjs = moduleFile('a.mjs', "import { Dag } from 'duckorch';\nexport const d = new Dag('m').task({ name: 'm1' }, () => 1);\n");
    expect((await loadTaskModule(mjs, 'a.mjs')).map((d) => d.name)).toEqual(['m1']);
    const js = moduleFile('b.js', "import { asset } from 'duckorch';\nexport const a = asset({ name: 's.t' }, () => null);\n");
    expect((await loadTaskModule(js, 'b.js')).map((d) => d.name)).toEqual(['t']);
    // No node_modules/duckorch here: 'duckorch' is this copy wherever the module is.
    const inRepo = fs.mkdtempSync(path.join(ROOT, 'test', '.tmp-module-'));
    try {
      const p = moduleFile(
        'in-repo.ts',
        "import { Dag } from 'duckorch';\nexport const d = new Dag('r').task({ name: 'r1' }, () => 1);\n",
        inRepo,
      );
      expect((await loadTaskModule(p, 'in-repo.ts')).map((d) => d.name)).toEqual(['r1']);
    } finally {
      fs.rmSync(inRepo, { recursive: true, force: true });
    }
  });

  it('gives nothing for a helper module', async () => {
    expect(await loadTaskModule(moduleFile('h.ts', 'export const x: number = 1;\n'), 'h.ts')).toEqual([]);
  });

  it('sees an edited module when it is loaded again', async () => {
    const p = moduleFile('e.ts', "import { Dag } from 'duckorch';\nexport const d = new Dag('e').task({ name: 'one' }, () => 1);\n");
    const [before] = await loadTaskModule(p, 'e.ts');
    fs.writeFileSync(p, "import { Dag } from 'duckorch';\nexport const d = new Dag('e').task({ name: 'one' }, () => 2);\n");
    const [after] = await loadTaskModule(p, 'e.ts');
    expect(after!.codeVersion).not.toBe(before!.codeVersion);
    expect(await (await resolveTaskFunction(after!))()).toBe(2);
  });

  it('reports a syntax error at its line and column', async () => {
    const err = await loadError(moduleFile('s.ts', 'const a = 1;\nconst b = ;\n'), 'tasks/s.ts');
    expect(err.code).toBe('MODULE_LOAD');
    expect(err.location).toEqual({ file: 'tasks/s.ts', line: 2, col: 10 });
    expect(err.render()).toMatch(/^tasks\/s\.ts:2:10: task module tasks\/s\.ts has a syntax error: Unexpected token/);
  });

  it('reports a module that throws while loading, at the throwing line', async () => {
    const err = await loadError(moduleFile('t.ts', "const a = 1;\n\nthrow new Error('no config ' + a);\n"), 't.ts');
    expect(err.code).toBe('MODULE_LOAD');
    expect(err.message).toBe('task module t.ts threw while loading: no config 1');
    expect(err.location).toEqual({ file: 't.ts', line: 3, col: 7 });
    const nonError = await loadError(moduleFile('u.ts', "throw 'boom';\n"), 'u.ts');
    expect(nonError.message).toBe('task module u.ts failed to load: it threw a non-Error value: "boom"');
  });

  it('reports a missing import where it is written', async () => {
    const err = await loadError(moduleFile('i.ts', "export const x = 1;\nimport { y } from './nope';\nexport const z = y;\n"), 'i.ts');
    expect(err.code).toBe('MODULE_LOAD');
    expect(err.message).toMatch(/^task module i\.ts failed to load: Cannot find module '\.\/nope'/);
    expect(err.location).toEqual({ file: 'i.ts', line: 2, col: 19 });
    const pkg = await loadError(moduleFile('j.ts', "import x from 'no-such-package-anywhere';\nexport default x;\n"), 'j.ts');
    expect(pkg.hint).toMatch(/npm install/);
  });

  it("reports a Dag declared with bad options as the library's error, at the module's line", async () => {
    const err = await loadError(
      moduleFile('o.ts', "import { Dag } from 'duckorch';\nexport const d = new Dag('d');\nd.task({ name: 'x', retries: -1 }, () => 1);\n"),
      'o.ts',
    );
    expect(err.code).toBe('DAG_DEFINITION');
    expect(err.message).toMatch(/`retries` must be a whole number/);
    expect(err.location).toEqual({ file: 'o.ts', line: 3, col: 3 });
    const isolation = await loadError(
      moduleFile(
        'v.ts',
        "import { Dag } from 'duckorch';\nexport const d = new Dag('d');\nd.task({ name: 'x', isolation: 'process' }, () => 1);\n",
      ),
      'v.ts',
    );
    expect(isolation.message).toBe("task `x` of Dag `d`: `isolation` must be 'thread' or 'inline', got \"process\"");
    expect(isolation.location).toEqual({ file: 'v.ts', line: 3, col: 3 });
  });

  it('reports every unknown `requires` of a module at the `.task()` call', async () => {
    const p = moduleFile(
      'r.ts',
      "import { Dag } from 'duckorch';\nexport const d = new Dag('d')\n  .task({ name: 'a' }, () => 1)\n  .task({ name: 'b', requires: ['aa'] }, () => 1);\n",
    );
    const err = await loadError(p, 'r.ts');
    expect(err.code).toBe('DAG_DEFINITION');
    expect(err.hint).toBe('did you mean `a`?');
    // The line of the call (jiti keeps lines; a chained call's column may move when it compiles).
    expect(err.location).toMatchObject({ file: 'r.ts', line: 4 });
  });

  it('resolves functions with clear errors when the module changed since', async () => {
    const dir = tempDir();
    const p = moduleFile(
      'f.ts',
      "import { Dag } from 'duckorch';\nexport const pipeline = new Dag('p').task({ name: 'go' }, () => 'went');\n",
      dir,
    );
    const [def] = await loadTaskModule(p, 'f.ts');
    expect(await (await resolveTaskFunction(def!))()).toBe('went');
    // Loaded again (as register does): the export is gone.
    fs.writeFileSync(p, "import { Dag } from 'duckorch';\nexport const pipe = new Dag('p').task({ name: 'went' }, () => 1);\n");
    await loadTaskModule(p, 'f.ts');
    await expect(resolveTaskFunction(def!)).rejects.toThrow(/f\.ts no longer exports `pipeline`/);
    await expect(resolveTaskFunction({ ...def!, function: { ...def!.function!, exportName: 'pipe' } })).rejects.toThrow(
      /has no task `go` any more/,
    );
    await expect(resolveTaskFunction({ ...def!, function: { ...def!.function!, module: path.join(dir, 'gone.ts') } })).rejects.toThrow(
      /no longer exists/,
    );
  });
});

describe('--dag module specs', () => {
  const TWO =
    "import { Dag, asset } from 'duckorch';\nexport const first = new Dag('first').task({ name: 'a1' }, () => 1);\nexport const second = new Dag('second').task({ name: 'b1' }, () => 1);\nexport const a = asset({ name: 's.t' }, () => null);\nexport const n = 1;\n";

  it('splits a spec into module and export', () => {
    expect(splitDagSpec('dags/etl.ts:pipeline')).toEqual({ modulePath: 'dags/etl.ts', exportName: 'pipeline' });
    expect(splitDagSpec('dags/etl.ts')).toEqual({ modulePath: 'dags/etl.ts', exportName: undefined });
    expect(splitDagSpec('C:\\dags\\etl.ts')).toEqual({ modulePath: 'C:\\dags\\etl.ts', exportName: undefined });
  });

  it('loads the named Dag, or the only one, relative to the working directory', async () => {
    const dir = tempDir();
    moduleFile('dags/two.ts', TWO, dir);
    moduleFile(
      'dags/one.ts',
      "import { Dag } from 'duckorch';\nconst d = new Dag('only').task({ name: 'o1' }, () => 1);\nexport { d as pipeline };\n",
      dir,
    );
    const second = await loadDagSpec('dags/two.ts:second', dir);
    expect(second.map((d) => [d.name, d.file, d.function?.exportName])).toEqual([['b1', 'dags/two.ts', 'second']]);
    expect((await loadDagSpec('dags/one', dir)).map((d) => d.name)).toEqual(['o1']);
  });

  it('says what is wrong with a spec', async () => {
    const dir = tempDir();
    moduleFile('dags/two.ts', TWO, dir);
    moduleFile('dags/none.ts', 'export const x = 1;\n', dir);
    const rejects = async (spec: string) => {
      try {
        await loadDagSpec(spec, dir);
      } catch (err) {
        expect(err instanceof DuckorchError || err instanceof DuckorchErrors).toBe(true);
        return err as DuckorchError;
      }
      throw new Error(`expected ${spec} to fail`);
    };
    const unknown = await rejects('dags/two.ts:secnd');
    expect([unknown.code, unknown.message, unknown.hint]).toEqual([
      'UNKNOWN_NAME',
      'dags/two.ts has no export `secnd`',
      'did you mean `second`?',
    ]);
    expect((await rejects('dags/two.ts:zzzzzzzz')).hint).toBe('its exports: `a`, `first`, `n`, `second`');
    expect((await rejects('dags/two.ts:n')).message).toBe('export `n` of dags/two.ts is not a Dag (it is a number)');
    expect((await rejects('dags/two.ts:a')).message).toBe('export `a` of dags/two.ts is an asset(), not a Dag');
    const several = await rejects('dags/two.ts');
    expect(several.message).toBe('dags/two.ts exports several Dags: `first`, `second`');
    expect(several.hint).toBe('name one: --dag dags/two.ts:first');
    expect((await rejects('dags/none.ts')).message).toBe('dags/none.ts exports no Dag');
    expect((await rejects('dags/missing.ts')).code).toBe('FILE_NOT_FOUND');
    moduleFile('notes.txt', 'hi', dir);
    expect((await rejects('notes.txt')).message).toMatch(/is not a task module/);
  });
});
