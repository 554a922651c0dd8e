import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { displayPath, loadTaskFiles, pathsByFolder, type PreviousFile } from '../../src/app/task-files.js';
import { SqlAnalyzer, type SqlParser } from '../../src/sql/analyzer.js';
import { DuckDbSqlParser } from '../../src/sql/duckdb-parser.js';
import { tempDir, tempProject, DUCKDB_TEST_TIMEOUT } from '../helpers.js';

/** DuckDB's parser, counting what it is asked to parse. */
async function countingAnalyzer(): Promise<{ analyzer: SqlAnalyzer; texts: string[]; close: () => void }> {
  const parser = await DuckDbSqlParser.inMemory();
  const texts: string[] = [];
  const counting: SqlParser = {
    serialize: (batch) => {
      texts.push(...batch);
      return parser.serialize(batch);
    },
  };
  return { analyzer: new SqlAnalyzer(counting), texts, close: () => parser.close() };
}

describe('loadTaskFiles', { timeout: DUCKDB_TEST_TIMEOUT }, () => {
  it('reuses the definition of a file whose content did not change, and analyses the changed one', async () => {
    const p = tempProject();
    const a = p.write('tasks/a.sql', '-- @colour red\nCREATE TABLE a AS SELECT 1 AS x;');
    const b = p.write('tasks/b.sql', 'CREATE TABLE b AS SELECT * FROM a;');
    const { analyzer, texts, close } = await countingAnalyzer();
    try {
      const first = await loadTaskFiles([a, b], analyzer);
      expect(first.map((f) => [f.task?.name, f.reused, f.errors.length])).toEqual([
        ['a', false, 0],
        ['b', false, 0],
      ]);
      const previous = new Map<string, PreviousFile>(
        first.map((f) => [f.absolutePath, { hash: f.hash!, definition: f.task!, warnings: f.warnings }]),
      );
      p.write('tasks/b.sql', 'CREATE TABLE b AS SELECT x + 1 AS y FROM a;');
      texts.length = 0;
      const second = await loadTaskFiles([a, b], analyzer, { previous });
      expect(second.map((f) => [f.task?.name, f.reused])).toEqual([
        ['a', true],
        ['b', false],
      ]);
      // Only b's SQL went to DuckDB; a kept its definition and its warning.
      expect(texts.some((t) => t.includes('FROM a'))).toBe(true);
      expect(texts.some((t) => t.includes('SELECT 1 AS x'))).toBe(false);
      expect(second[0]!.task).toBe(first[0]!.task);
      expect(second[0]!.warnings.map((w) => w.message)).toEqual(['unknown header `@colour` is ignored']);

      // The same files seen by another path (another working directory, the project moved): still reused, shown by that path.
      const moved = path.join(tempDir(), 'moved');
      fs.cpSync(p.dir, moved, { recursive: true });
      const seen = [a, b].map((f) => f.replace(p.dir, moved));
      const third = await loadTaskFiles(seen, analyzer, { previous, realPaths: [a, b] });
      expect(third.map((f) => [f.task?.name, f.reused, f.task?.file, f.warnings.map((w) => w.location?.file)])).toEqual([
        ['a', true, seen[0], [seen[0]]],
        ['b', false, seen[1], []],
      ]);
      expect(third[0]!.task).toEqual({ ...first[0]!.task, file: seen[0] });
    } finally {
      close();
    }
  });

  it('analyses in batches and returns results in the order of the paths', async () => {
    const p = tempProject();
    const paths = Array.from({ length: 23 }, (_, i) =>
      p.write(`tasks/t${String(i).padStart(2, '0')}.sql`, `CREATE TABLE t${i} AS SELECT ${i};`),
    );
    const { analyzer, close } = await countingAnalyzer();
    try {
      const loaded = await loadTaskFiles(paths, analyzer, { batchSize: 5 });
      expect(loaded.map((f) => f.task?.outputs[0])).toEqual(paths.map((_, i) => `t${i}`));
    } finally {
      close();
    }
  });
});

describe('pathsByFolder', () => {
  it('gives every path the absolute and display path that path.resolve and displayPath give', () => {
    const here = process.cwd();
    const paths = [
      'tasks/a.sql',
      './a.sql',
      'a.sql',
      '../x/a.sql',
      '../..foo.sql',
      '..foo.sql',
      'tasks/../b.sql',
      'dir/',
      'x/..',
      '.',
      '/',
      '/a.sql',
      '/abs/dir/..foo.sql',
      `${here}/b/c.sql`,
      `${path.dirname(here)}/sibling/d.sql`,
    ];
    for (const cwd of [here, '/', '/abs/dir', path.dirname(here), `${here}/tasks`]) {
      const pathsOf = pathsByFolder(cwd);
      for (const p of [...paths, ...paths]) {
        const absolutePath = path.resolve(p);
        expect(pathsOf(p), `${p} from ${cwd}`).toEqual({ absolutePath, file: displayPath(absolutePath, cwd) });
      }
    }
  });
});
