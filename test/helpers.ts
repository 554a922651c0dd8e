import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { Project } from '../src/app/project.js';

export const ROOT = path.resolve(import.meta.dirname, '..');
export const CLI = path.join(ROOT, 'dist/interfaces/cli/main.js');

export interface TempProject {
  dir: string;
  db: string;
  tasks: string;
  write(relative: string, content: string): string;
  remove(relative: string): void;
}

/** A fresh folder with a `tasks/` subfolder and a database path, removed after the test file. */
export function tempProject(): TempProject {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'duckorch-test-'));
  fs.chmodSync(dir, 0o755);
  const tasks = path.join(dir, 'tasks');
  fs.mkdirSync(tasks);
  return {
    dir,
    db: path.join(dir, 'warehouse.duckdb'),
    tasks,
    write(relative, content) {
      const p = path.join(dir, relative);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, content);
      return p;
    },
    remove(relative) {
      fs.rmSync(path.join(dir, relative), { force: true });
    },
  };
}

export async function openProject(
  db: string,
  access: 'read' | 'write' | 'create' = 'create',
  env: Record<string, string> = {},
): Promise<Project> {
  return Project.open({
    config: loadConfig({ env: { DUCKORCH_RETRY_BASE: '0.01', DUCKORCH_RETRY_MAX: '0.05', ...env }, flags: { db }, cwd: os.tmpdir() }),
    access,
  });
}

/** Registers `tasks/`, runs a function with the open project, and closes it. */
export async function withProject<T>(p: TempProject, fn: (project: Project) => Promise<T>, env: Record<string, string> = {}): Promise<T> {
  const project = await openProject(p.db, 'create', env);
  try {
    return await fn(project);
  } finally {
    await project.close();
  }
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], options: { cwd?: string; env?: Record<string, string>; uid?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, NO_COLOR: '1', CI: '1', DUCKORCH_RETRY_BASE: '0.01', ...options.env },
      ...(options.uid !== undefined ? { uid: options.uid, gid: options.uid } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export function json<T = Record<string, unknown>>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}
