import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RegistryPaths } from '../../src/store/duckdb/registry-paths.js';

describe('RegistryPaths', () => {
  it('stores paths relative to the database folder and resolves them as path.resolve does', () => {
    for (const base of ['/work/project', '/', '/work/project/data']) {
      const paths = new RegistryPaths(base);
      for (const absolute of ['/work/project', '/work/project/tasks', '/work/project/tasks/a/b.sql', '/work/other/x.sql', '/x.sql', '/']) {
        const stored = paths.toStored(absolute);
        expect(path.isAbsolute(stored), `${absolute} from ${base}`).toBe(false);
        expect(paths.fromStored(stored), `${stored} from ${base}`).toBe(absolute);
      }
      // Whatever is stored, written by duck-orch or not, resolves as path.resolve resolves it.
      for (const stored of [
        '.',
        '..',
        'tasks',
        'tasks/a.sql',
        'tasks/a.sql',
        '../other/x.sql',
        'a//b.sql',
        'a/./b.sql',
        'a/../b.sql',
        'a/..',
        'a/.',
        'a/',
        '/abs/c.sql',
        '..x/y.sql',
      ])
        expect(paths.fromStored(stored), `${stored} from ${base}`).toBe(path.resolve(base, stored));
    }
  });
});
