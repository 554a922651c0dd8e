/**
 * Opens the project's DuckDB file and turns DuckDB's open errors into ones that say what to
 * do: another process holds the lock, the directory is missing, the file is not writable.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '../../duckdb-api.js';
import { DuckorchError } from '../../errors.js';

/** `create` may create the database file; `write` needs it to exist; `read` opens it read-only. */
export type AccessMode = 'read' | 'write' | 'create';

export async function openDuckDb(file: string, mode: AccessMode): Promise<DuckDBInstance> {
  const resolved = path.resolve(file);
  const exists = fs.existsSync(resolved);
  if (mode !== 'create' && !exists) {
    throw new DuckorchError('DB_OPEN', `database ${file} does not exist`, {
      hint: 'register tasks first with `duck-orch --db <file> register <dir>`, or point --db / DUCKORCH_DB at an existing database',
    });
  }
  const dir = path.dirname(resolved);
  if (!fs.existsSync(dir)) {
    throw new DuckorchError('DB_OPEN', `cannot create database ${file}: directory ${path.dirname(file)} does not exist`, {
      hint: `create it first (mkdir -p ${path.dirname(file)})`,
    });
  }
  try {
    if (exists) fs.accessSync(resolved, mode === 'read' ? fs.constants.R_OK : fs.constants.R_OK | fs.constants.W_OK);
    else fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    const what = exists
      ? `database ${file} is not ${mode === 'read' ? 'readable' : 'writable'} by this user`
      : `cannot create database ${file}: folder ${path.dirname(file)} is not writable by this user`;
    throw new DuckorchError('DB_NOT_WRITABLE', what, {
      hint: exists ? `check its permissions (ls -l ${file})` : `check the permissions of ${path.dirname(file)}`,
    });
  }
  try {
    return await DuckDBInstance.create(resolved, mode === 'read' ? { access_mode: 'READ_ONLY' } : {});
  } catch (err) {
    throw translateOpenError(file, err);
  }
}

export function translateOpenError(file: string, err: unknown): DuckorchError {
  const message = err instanceof Error ? err.message : String(err);
  const lock = /Conflicting lock is held in (.*?) \(PID (\d+)\)/.exec(message);
  if (lock || /Could not set lock/.test(message)) {
    return new DuckorchError('DB_LOCKED', `database ${file} is in use by another process${lock ? ` (${lock[1]}, PID ${lock[2]})` : ''}`, {
      hint: 'DuckDB allows one writing process at a time: wait for it to finish, or stop it, then try again',
      cause: err,
    });
  }
  if (/Corrupt (database|WAL) file|checksum \d+ does not match/i.test(message)) {
    // Left as it is: what can be saved is the user's call, from a backup or by giving up the log.
    const wal = /WAL/.test(message);
    return new DuckorchError('DB_CORRUPT', `database ${file} is damaged and DuckDB cannot read it: ${message}`, {
      hint: wal
        ? `its write-ahead log is damaged: moving it aside (mv ${file}.wal ${file}.wal.damaged) opens the file as of its last checkpoint, without what was committed after it`
        : `restore ${file} from a backup; duck-orch has not changed it`,
      cause: err,
    });
  }
  if (/Permission denied|read-only/i.test(message)) {
    return new DuckorchError('DB_NOT_WRITABLE', `database ${file} cannot be written: ${message}`, { cause: err });
  }
  if (/not a valid DuckDB database file|invalid database|Failed to open database/i.test(message)) {
    return new DuckorchError('DB_OPEN', `${file} is not a DuckDB database (or was written by an incompatible DuckDB version): ${message}`, {
      cause: err,
    });
  }
  return new DuckorchError('DB_OPEN', `cannot open database ${file}: ${message}`, { cause: err });
}
