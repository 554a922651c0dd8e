/**
 * Outputs the README's CLI reference documents, held to it: `validate`'s file count,
 * `init-db --json` on the embedded ledger, and the document `worker --json` prints when it stops.
 */
import { describe, expect, it } from 'vitest';
import { loadMigrations } from '../../src/store/duckdb/migrate.js';
import { SUBPROCESS_TEST_TIMEOUT, json, register, runCli, tempProject } from '../helpers.js';

describe('the CLI reference', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('validate counts a module of three tasks as one file', async () => {
    const p = tempProject();
    p.write('tasks/a.sql', 'CREATE TABLE a AS SELECT 1 AS x;');
    p.write(
      'tasks/three.ts',
      `import { Dag } from 'duckorch';
export const three = new Dag('three');
three.task({ name: 'one' }, async () => 1);
three.task({ name: 'two' }, async () => 2);
three.task({ name: 'three' }, async () => 3);
`,
    );
    p.write('tasks/helper.ts', 'export const unrelated = 1;\n');
    const r = await runCli(['validate', p.tasks]);
    expect(r.code, r.stderr).toBe(0);
    // One line per task; the count is of files: a.sql, three.ts and the helper module.
    expect(r.stdout.split('\n').filter((l) => l.startsWith('ok '))).toHaveLength(4);
    expect(r.stdout).toContain('valid: 3 files, 0 errors, 0 warnings');
  });

  it('init-db --json on the embedded ledger has the documented fields: store, where, schema, version, applied', async () => {
    const p = tempProject();
    const migrations = loadMigrations();
    const first = await runCli(['--db', p.db, 'init-db', '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(json(first)).toEqual({
      store: 'duckdb',
      where: p.db,
      schema: '__orch__',
      version: migrations.at(-1)!.id,
      applied: migrations.map((m) => ({ id: m.id, name: m.name })),
    });
    expect(json(await runCli(['--db', p.db, 'init-db', '--json']))).toMatchObject({ store: 'duckdb', applied: [] });
    expect((await runCli(['--db', p.db, 'init-db'])).stdout).toBe(
      `Schema __orch__ on ${p.db} is already up to date (version ${migrations.at(-1)!.id}).\n`,
    );
  });

  it('worker --json prints one document of what it did when it stops', async () => {
    const p = tempProject();
    p.write('tasks/a.sql', 'CREATE TABLE a AS SELECT 1 AS x;');
    p.write('tasks/b.sql', 'CREATE TABLE b AS SELECT x FROM a JOIN nosuch USING (x);');
    await register(p);
    expect((await runCli(['--db', p.db, 'enqueue'])).code).toBe(0);
    const r = await runCli(['--db', p.db, 'worker', '--once', '--worker-id', 'w-doc', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^worker \d+ stopped$/m);
    expect(json(r)).toEqual({
      worker: 'w-doc',
      pid: expect.any(Number) as unknown,
      started_at: expect.any(String) as unknown,
      stopped_at: expect.any(String) as unknown,
      jobs: { started: 2, succeeded: 1, retried: 0, dead: 1, cancelled: 0, skipped: 0, released: 0, recovered: 0 },
    });
  });
});
