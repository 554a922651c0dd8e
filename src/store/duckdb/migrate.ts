/**
 * Numbered, append-only migrations (`migrations/NNNN_name.sql`), each applied in its own
 * transaction together with its row in `__orch__.schema_migrations`. A database migrated by a
 * newer duck-orch, or whose applied migration differs from the file, is refused rather than
 * guessed at.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import { DuckorchError } from '../../errors.js';
import type { AccessMode } from './database.js';

export interface Migration {
  id: number;
  name: string;
  sql: string;
  checksum: string;
}

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

export function loadMigrations(): Migration[] {
  return fs
    .readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((f) => {
      const sql = fs.readFileSync(new URL(f, MIGRATIONS_DIR), 'utf8');
      return {
        id: Number(f.slice(0, 4)),
        name: f.slice(5, -4),
        sql,
        checksum: createHash('sha256').update(sql).digest('hex').slice(0, 16),
      };
    });
}

/** What `migrate` did: the schema's version now, and the migrations it applied (`init-db` says so). */
export interface Migrated {
  version: number;
  applied: Array<{ id: number; name: string }>;
}

export async function migrate(conn: DuckDBConnection, mode: AccessMode, file: string): Promise<Migrated> {
  const migrations = loadMigrations();
  const latest = migrations.at(-1)?.id ?? 0;
  const hasTable = await conn.runAndReadAll(
    "SELECT count(*) AS n FROM duckdb_tables() WHERE schema_name = '__orch__' AND table_name = 'schema_migrations'",
  );
  const exists = Number(hasTable.getRows()[0]![0]) > 0;
  if (!exists && mode === 'read') {
    throw new DuckorchError('SCHEMA_VERSION', `${file} holds no duck-orch state yet`, {
      hint: 'register tasks first: duck-orch --db <file> register <dir>',
    });
  }
  if (!exists) {
    await conn.run('CREATE SCHEMA IF NOT EXISTS __orch__');
    await conn.run(
      'CREATE TABLE IF NOT EXISTS __orch__.schema_migrations (id INTEGER NOT NULL, name VARCHAR NOT NULL, checksum VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)',
    );
  }
  const applied = (await conn.runAndReadAll('SELECT id, name, checksum FROM __orch__.schema_migrations ORDER BY id')).getRowObjectsJS();
  for (const row of applied) {
    const id = Number(row.id);
    const known = migrations.find((m) => m.id === id);
    if (!known) {
      throw new DuckorchError(
        'SCHEMA_VERSION',
        `${file} was migrated by a newer duck-orch (schema version ${id}, this version knows up to ${latest})`,
        {
          hint: 'upgrade duck-orch to open this database',
        },
      );
    }
    if (known.checksum !== row.checksum) {
      throw new DuckorchError('SCHEMA_VERSION', `migration ${id} (${known.name}) applied to ${file} differs from this duck-orch's copy`, {
        hint: 'migrations are append-only; this database was migrated by a different build of duck-orch',
      });
    }
  }
  const pending = migrations.filter((m) => !applied.some((a) => Number(a.id) === m.id));
  if (pending.length === 0) return { version: latest, applied: [] };
  if (mode === 'read') {
    throw new DuckorchError(
      'SCHEMA_VERSION',
      `${file} has schema version ${applied.length ? Number(applied.at(-1)!.id) : 0}; this duck-orch needs ${latest}`,
      {
        hint: 'run a command that writes (e.g. `duck-orch register <dir>`) to upgrade it',
      },
    );
  }
  for (const m of pending) {
    await conn.run('BEGIN TRANSACTION');
    try {
      await conn.run(m.sql);
      await conn.run('INSERT INTO __orch__.schema_migrations VALUES ($1, $2, $3, now()::TIMESTAMP)', [m.id, m.name, m.checksum]);
      await conn.run('COMMIT');
    } catch (err) {
      await conn.run('ROLLBACK').catch(() => undefined);
      throw new DuckorchError(
        'SCHEMA_VERSION',
        `migration ${m.id} (${m.name}) failed: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  }
  return { version: latest, applied: pending.map((m) => ({ id: m.id, name: m.name })) };
}
