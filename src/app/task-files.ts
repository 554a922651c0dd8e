/**
 * Finding and reading task files: every `*.sql` under a folder (following symlinks, but never
 * out of the folder), parsed and analysed in one batch.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { DuckorchError } from '../errors.js';
import { bodyLocation, buildTask, checkTask } from '../model/taskfile/build-task.js';
import { splitHeaderBlock } from '../model/taskfile/header-block.js';
import { parseTaskHeader } from '../model/taskfile/parse-header.js';
import type { TaskDefinition } from '../model/taskfile/task.js';
import type { SqlAnalyzer } from '../sql/analyzer.js';

export interface LoadedTaskFile {
  /** Display path (relative to the working directory when inside it). */
  file: string;
  absolutePath: string;
  task: TaskDefinition | undefined;
  errors: DuckorchError[];
  warnings: DuckorchError[];
}

export function displayPath(absolute: string, cwd = process.cwd()): string {
  const rel = path.relative(cwd, absolute);
  return (rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? absolute : rel).split(path.sep).join('/');
}

/** Lists `*.sql` files under `root`, sorted; symlinks are followed only while they stay inside `root`. */
export async function discoverTaskFiles(root: string): Promise<{ files: string[]; warnings: DuckorchError[] }> {
  let realRoot: string;
  try {
    realRoot = await fs.realpath(root);
  } catch {
    throw new DuckorchError('FILE_NOT_FOUND', `task folder ${root} does not exist`, {
      hint: 'pass the folder that holds your .sql task files',
    });
  }
  const stat = await fs.stat(realRoot);
  if (!stat.isDirectory()) {
    throw new DuckorchError('FILE_NOT_FOUND', `${root} is not a folder`, {
      hint: 'register takes a folder of .sql files; use `validate` for a single file',
    });
  }
  const files: string[] = [];
  const warnings: DuckorchError[] = [];
  const visited = new Set<string>();
  const walk = async (dir: string, shown: string): Promise<void> => {
    const real = await fs.realpath(dir);
    if (visited.has(real)) return;
    visited.add(real);
    const entries = (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const full = path.join(dir, entry.name);
      const shownPath = path.join(shown, entry.name);
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        let target: string;
        try {
          target = await fs.realpath(full);
        } catch {
          warnings.push(new DuckorchError('FILE_NOT_FOUND', `skipping broken symlink ${displayPath(shownPath)}`));
          continue;
        }
        if (target !== realRoot && !target.startsWith(realRoot + path.sep)) {
          warnings.push(new DuckorchError('FILE_NOT_FOUND', `skipping ${displayPath(shownPath)}: it links outside ${root} (to ${target})`));
          continue;
        }
        const s = await fs.stat(target);
        isDir = s.isDirectory();
        isFile = s.isFile();
      }
      if (isDir) await walk(full, shownPath);
      else if (isFile && entry.name.toLowerCase().endsWith('.sql')) files.push(shownPath);
    }
  };
  await walk(root, root);
  return { files, warnings };
}

/** Reads, parses and analyses task files; every problem is reported, none is thrown. */
export async function loadTaskFiles(paths: readonly string[], analyzer: SqlAnalyzer): Promise<LoadedTaskFile[]> {
  const loaded = await Promise.all(
    paths.map(async (p) => {
      const file = displayPath(path.resolve(p));
      const absolutePath = path.resolve(p);
      try {
        return { file, absolutePath, text: await fs.readFile(p, 'utf8') };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const message =
          code === 'ENOENT'
            ? `file ${file} does not exist`
            : code === 'EISDIR'
              ? `${file} is a folder, not a task file`
              : `cannot read ${file}: ${(err as Error).message}`;
        return { file, absolutePath, error: new DuckorchError('FILE_NOT_FOUND', message) };
      }
    }),
  );
  const prepared = loaded.map((f) => {
    if ('error' in f) return { ...f, block: undefined };
    const block = splitHeaderBlock(f.text.replace(/^\uFEFF/, ''));
    return { ...f, block };
  });
  const bodies = prepared.filter((p) => p.block).map((p) => p.block!.body);
  const analyses = await analyzer.analyseMany(bodies);
  let next = 0;
  return prepared.map((p): LoadedTaskFile => {
    if (!p.block) return { file: p.file, absolutePath: p.absolutePath, task: undefined, errors: [p.error!], warnings: [] };
    const analysis = analyses[next++]!;
    const block = p.block;
    if (block.headers.length === 0 && block.body === '') {
      // An empty or all-comments file (a disabled task, a note) is not a task.
      const skipped = new DuckorchError('HEADER_SYNTAX', 'no headers and no SQL: not a task, skipped', {
        location: { file: p.file, line: 1, col: 1 },
      });
      return { file: p.file, absolutePath: p.absolutePath, task: undefined, errors: [], warnings: [skipped] };
    }
    const stem = path.basename(p.absolutePath).replace(/\.sql$/i, '');
    const { header, errors, warnings } = parseTaskHeader(block.headers, p.file, stem);
    for (const stray of block.strayHeaders) {
      warnings.push(
        new DuckorchError('HEADER_SYNTAX', `\`@${stray.key}\` comes after the SQL body started, so it is an ordinary comment`, {
          location: { file: p.file, line: stray.line, col: stray.keyCol - 1 },
          hint: 'move it into the header block at the top of the file',
        }),
      );
    }
    for (const issue of analysis.errors) {
      const hint = /^\{[%#]/.test(block.body.slice(issue.offset))
        ? 'task files are plain DuckDB SQL: Jinja blocks ({% … %}) are not supported; only {{ last_processed_at }}, {{ now }} and {{ run_id }} are substituted'
        : undefined;
      errors.push(
        new DuckorchError(issue.code, issue.code === 'SQL_SYNTAX' ? `SQL: ${issue.message}` : issue.message, {
          location: bodyLocation(p.file, block.body, block.bodyLine, block.bodyCol, issue.offset),
          ...(hint ? { hint } : {}),
        }),
      );
    }
    const task = buildTask(
      header,
      p.file,
      { sql: block.body, line: block.bodyLine, col: block.bodyCol },
      {
        reads: analysis.reads,
        writes: analysis.writes,
        statementCount: analysis.statementCount,
      },
    );
    if (errors.length === 0) errors.push(...checkTask(task));
    return { file: p.file, absolutePath: p.absolutePath, task: errors.length === 0 ? task : undefined, errors, warnings };
  });
}
