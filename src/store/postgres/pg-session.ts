/**
 * The PostgreSQL ledger's session: its pool and schema, the schema's migrations, and how its
 * statements run (a transaction on a client of its own, a statement prepared per connection) and
 * fail (a broken connection is DB_UNAVAILABLE, which workers retry; a statement timeout is named
 * as such). The reads, the snapshots and `PgLedger` build on it.
 */
import type pg from 'pg';
import { DuckorchError } from '../../errors.js';
import type { Row } from '../rows.js';
import { connectionLost, isConnectionError } from './connect.js';
import { PG_MIGRATIONS, quoteIdent } from './schema.js';

/** What `migrate` did, for `init-db` to say. */
export interface MigrationReport {
  schema: string;
  /** The schema's version now: the last migration applied. */
  version: number;
  applied: Array<{ id: number; name: string }>;
}

/** How far a schema is migrated: null when it holds no ledger (never migrated). */
export interface SchemaState {
  version: number | null;
  latest: number;
  /** Known migrations not applied (ids are not applied in order when branches merge). */
  missing: number[];
}

const textHashes = new Map<string, string>();

/** A short stable name for a statement's text (prepared statement names must differ per text); remembered, as the texts are few. */
function hashText(text: string): string {
  let known = textHashes.get(text);
  if (known === undefined) {
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
    textHashes.set(text, (known = h.toString(36)));
  }
  return known;
}

export abstract class PgSession {
  /** The ledger's schema, quoted. */
  protected readonly s: string;

  constructor(
    protected readonly pool: pg.Pool,
    schema: string,
    private readonly statementTimeoutMs: number | undefined,
  ) {
    this.s = quoteIdent(schema);
  }

  /** How far the schema is migrated, without changing it (what every command but `init-db` checks). */
  async schemaState(): Promise<SchemaState> {
    const latest = Math.max(0, ...PG_MIGRATIONS.map((m) => m.id));
    const all = PG_MIGRATIONS.map((m) => m.id);
    const table = (await this.q(`SELECT to_regclass($1) AS t`, [`${this.s}.schema_migrations`])).rows[0];
    if (!table?.t) return { version: null, latest, missing: all };
    const applied = new Set((await this.q(`SELECT id FROM ${this.s}.schema_migrations`)).rows.map((r) => Number(r.id)));
    return { version: applied.size === 0 ? null : Math.max(...applied), latest, missing: all.filter((id) => !applied.has(id)) };
  }

  /** Refuses a schema from a newer duck-orch. */
  private newerError(version: number, latest: number): DuckorchError {
    return new DuckorchError(
      'SCHEMA_VERSION',
      `schema ${this.s} was migrated by a newer duck-orch (version ${version}, this one knows up to ${latest})`,
      { hint: 'upgrade duck-orch on this machine' },
    );
  }

  /**
   * Fails unless the schema is migrated to exactly this version: a worker never creates or
   * changes tables on its own (`duck-orch init-db` does).
   */
  async requireSchema(where: string): Promise<void> {
    const { version, latest, missing } = await this.schemaState();
    if (version !== null && version > latest) throw this.newerError(version, latest);
    if (version !== null && missing.length === 0) return;
    throw new DuckorchError(
      'SCHEMA_VERSION',
      version === null
        ? `${where} has no duck-orch ledger in schema ${this.s} yet`
        : `the duck-orch ledger in schema ${this.s} at ${where} is at version ${version}, this duck-orch needs ${latest} (missing migrations: ${missing.join(', ')})`,
      { hint: 'run `duck-orch init-db` once (with the same DATABASE_URL and schema) to create or migrate it' },
    );
  }

  /** Creates the schema and applies the migrations it lacks; refuses a schema from a newer version. */
  async migrate(): Promise<MigrationReport> {
    return this.tx(async (c) => {
      // One migrator at a time across machines.
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`duckorch-migrate:${this.s}`]);
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${this.s}`);
      await c.query(
        `CREATE TABLE IF NOT EXISTS ${this.s}.schema_migrations (id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`,
      );
      const applied = new Set((await c.query(`SELECT id FROM ${this.s}.schema_migrations`)).rows.map((r: Row) => Number(r.id)));
      const latest = Math.max(0, ...PG_MIGRATIONS.map((m) => m.id));
      const newer = [...applied].filter((id) => id > latest);
      if (newer.length > 0) throw this.newerError(Math.max(...newer), latest);
      const done: MigrationReport['applied'] = [];
      for (const m of PG_MIGRATIONS) {
        if (applied.has(m.id)) continue;
        await c.query(m.sql(this.s));
        await c.query(`INSERT INTO ${this.s}.schema_migrations VALUES ($1, $2, now())`, [m.id, m.name]);
        done.push({ id: m.id, name: m.name });
      }
      return { schema: this.s.slice(1, -1).replaceAll('""', '"'), version: latest, applied: done };
    });
  }

  /** PostgreSQL's cancellation by `statement_timeout`, said in the setting's words. */
  private translate(err: unknown): unknown {
    if ((err as { code?: string } | null)?.code !== '57014' || this.statementTimeoutMs === undefined) return err;
    return new DuckorchError(
      'STATEMENT_TIMEOUT',
      `PostgreSQL cancelled a statement of the ledger after ${this.statementTimeoutMs} ms (statement timeout, orch_statement_timeout_ms)`,
      {
        hint: 'a lock held elsewhere or an overloaded server makes statements wait; raise STATEMENT_TIMEOUT_MS (DUCKORCH_STATEMENT_TIMEOUT_MS) if they are legitimately slow',
        cause: err,
      },
    );
  }

  protected async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect().catch((err: unknown) => this.lost(err));
    // A checked-out client has no listener of the pool's: a server going away between two
    // statements would be an uncaught 'error' event. The next statement reports it instead.
    const quiet = () => undefined;
    c.on('error', quiet);
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      return this.lost(err);
    } finally {
      c.removeListener('error', quiet);
      c.release();
    }
  }

  protected q(sql: string, params: unknown[] = []): Promise<pg.QueryResult<Row>> {
    return this.pool.query<Row>(sql, params).catch((err: unknown) => this.lost(err));
  }

  /** A statement on a worker's path, prepared once per connection (by name) instead of planned per call. */
  protected prepared(name: string, sql: string, params: unknown[]): Promise<pg.QueryResult<Row>> {
    return this.pool
      .query<Row>({ name: `${this.s.slice(1, -1)}:${name}:${hashText(sql)}`, text: sql, values: params })
      .catch((err: unknown) => this.lost(err));
  }

  /**
   * Rethrows `err`, as DB_UNAVAILABLE when the connection broke (the server went away or is not
   * back yet), which workers retry: a refused statement stays what it was (a statement timeout
   * named as such).
   */
  protected lost(err: unknown): never {
    if (!isConnectionError(err) || (err instanceof DuckorchError && err.code === 'DB_UNAVAILABLE')) throw this.translate(err);
    let u: URL | undefined;
    try {
      u = this.pool.options.connectionString ? new URL(this.pool.options.connectionString) : undefined;
    } catch {
      u = undefined;
    }
    throw connectionLost(err, u);
  }
}
