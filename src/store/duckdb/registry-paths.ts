/**
 * Where the registry says task files are: relative to the folder of the database file, so that
 * a project moved or copied elsewhere with its database (another checkout, another machine,
 * a CI runner) still knows which registered tasks came from which folder. In memory paths are
 * absolute; only what is stored is relative. Paths stored absolute (by duck-orch before this
 * was so, or on another Windows drive) resolve to themselves.
 */
import fs from 'node:fs';
import path from 'node:path';

export class RegistryPaths {
  /** Folders already resolved: a registry's thousands of files share a few hundred. */
  private readonly folders = new Map<string, string>();

  constructor(
    /** The database file's folder, symlinks resolved as task paths are. */
    readonly base: string,
  ) {}

  static ofDatabase(file: string): RegistryPaths {
    const folder = path.dirname(path.resolve(file));
    try {
      return new RegistryPaths(fs.realpathSync(folder));
    } catch {
      return new RegistryPaths(folder);
    }
  }

  /** What is stored for an absolute path: relative, with `/` whatever the platform. */
  toStored(absolute: string): string {
    const rel = path.relative(this.base, absolute);
    if (rel === '') return '.';
    return path.isAbsolute(rel) ? absolute : rel.split(path.sep).join('/');
  }

  /** The absolute path a stored one stands for: `path.resolve` from the database's folder. */
  fromStored(stored: string): string {
    const cut = stored.lastIndexOf('/');
    const name = stored.slice(cut + 1);
    if (name === '' || name === '.' || name === '..' || path.isAbsolute(stored)) return path.resolve(this.base, stored);
    let folder = this.base;
    if (cut >= 0) {
      const dir = stored.slice(0, cut);
      folder = this.folders.get(dir) ?? path.resolve(this.base, dir);
      this.folders.set(dir, folder);
    }
    return (folder.endsWith(path.sep) ? folder : folder + path.sep) + name;
  }
}

/** Matches a stored path written absolute (`/…`, `\…`, `C:…`): rows a write converts. */
export const ABSOLUTE_STORED_PATH = '^([/\\\\]|[A-Za-z]:)';
