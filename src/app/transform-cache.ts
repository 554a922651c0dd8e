/**
 * TypeScript task modules compiled once per content and kept on disk between processes: a worker
 * that starts on modules it has seen skips loading jiti's Babel (a tenth of a second and 25 MB
 * of every `--dag` command). The folder is the user's cache (`DUCKORCH_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/duckorch`, else `~/.cache/duckorch`), never the project's; `off` turns it off.
 *
 * A file is named by the hash of what was compiled (the source, its file name, the options), in
 * a folder per compiler version, so an edit or an upgrade compiles anew and nothing is ever stale.
 * It is written whole (a temporary file renamed over it): a reader sees all of it or nothing.
 * Reading or writing it never fails a load — the module is compiled as if there were no cache.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

let folder: string | null | undefined;

/** The cache's folder, or null when it is off. */
function cacheFolder(): string | null {
  if (folder !== undefined) return folder;
  const set = process.env.DUCKORCH_CACHE_DIR?.trim();
  if (set === 'off') return (folder = null);
  const base = set || path.join(process.env.XDG_CACHE_HOME?.trim() || path.join(os.homedir(), '.cache'), 'duckorch');
  const compiler = (createRequire(import.meta.url)('jiti/package.json') as { version: string }).version;
  return (folder = path.join(base, 'transforms', `jiti-${compiler}`));
}

function fileOf(key: string): string | null {
  const dir = cacheFolder();
  return dir && path.join(dir, `${createHash('sha256').update(key).digest('hex').slice(0, 40)}.js`);
}

/** The code compiled for `key` by an earlier process; undefined when there is none (or it cannot be read). */
export function cachedTransform(key: string): string | undefined {
  const file = fileOf(key);
  if (!file) return undefined;
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Keeps the code compiled for `key` for later processes, when the folder can be written. */
export function cacheTransform(key: string, code: string): void {
  const file = fileOf(key);
  if (!file) return;
  const partial = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(partial, code);
    fs.renameSync(partial, file);
  } catch {
    try {
      fs.rmSync(partial, { force: true });
    } catch {
      // Not even a folder to remove it from.
    }
  }
}
