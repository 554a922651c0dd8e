/**
 * DuckDB connections kept between the attempts of SQL tasks, with the statements they prepared.
 * A backfill runs one task's statements once per partition: preparing them again each time, and
 * connecting and setting the connection up each time, cost about as much as a small partition's
 * query. Only an instance whose owner closes its sessions before it closes the instance
 * (`keepSessions` … `closeSessions`) keeps them; any other instance gets a connection per attempt.
 *
 * A connection is kept only after an attempt that succeeded, was never interrupted, and whose
 * statements leave nothing behind on the connection (see `leavesSessionState`): the next attempt
 * finds it as a new one would be, but for the prepared statements. DuckDB prepares a statement
 * again by itself when the tables it names changed since.
 */
import type { DuckDBConnection, DuckDBInstance, DuckDBPreparedStatement } from '@duckdb/node-api';

/** Sessions kept per instance; more attempts at once than this connect anew. */
const MAX_IDLE = 8;
/** Statements kept prepared per session, the least recently used dropped first. */
const MAX_PREPARED = 32;

export class Session {
  /** `errors_as_json` is set on this connection (once per connection is enough). */
  jsonErrors = false;
  private readonly prepared = new Map<string, DuckDBPreparedStatement>();

  constructor(
    readonly connection: DuckDBConnection,
    /** Whether statements are kept prepared (a session that may be kept). */
    private readonly caching: boolean,
  ) {}

  /** `sql` prepared on this connection: the one kept from an earlier attempt, or a new one. */
  async prepare(sql: string): Promise<DuckDBPreparedStatement> {
    const kept = this.prepared.get(sql);
    if (kept) {
      // Most recently used last.
      this.prepared.delete(sql);
      this.prepared.set(sql, kept);
      return kept;
    }
    const statement = await this.connection.prepare(sql);
    if (this.caching) {
      this.prepared.set(sql, statement);
      if (this.prepared.size > MAX_PREPARED) this.forget(this.prepared.keys().next().value!);
    }
    return statement;
  }

  /** Done with a statement from `prepare`: kept for the next attempt, unless it failed (then prepared afresh next time). */
  done(sql: string, statement: DuckDBPreparedStatement, failed: boolean): void {
    if (this.prepared.get(sql) !== statement) statement.destroySync();
    else if (failed) this.forget(sql);
  }

  private forget(sql: string): void {
    this.prepared.get(sql)?.destroySync();
    this.prepared.delete(sql);
  }

  close(): void {
    for (const s of this.prepared.values()) s.destroySync();
    this.prepared.clear();
    this.connection.closeSync();
  }
}

const idle = new WeakMap<DuckDBInstance, Session[]>();

/** From now on, attempts on `instance` keep their sessions; its owner calls `closeSessions` before closing it. */
export function keepSessions(instance: DuckDBInstance): void {
  if (!idle.has(instance)) idle.set(instance, []);
}

/** Closes the sessions kept on `instance`, and keeps no more. */
export function closeSessions(instance: DuckDBInstance): void {
  for (const s of idle.get(instance) ?? []) s.close();
  idle.delete(instance);
}

/** A session for one attempt: a kept one when there is one. */
export async function openSession(instance: DuckDBInstance): Promise<Session> {
  const pool = idle.get(instance);
  return pool?.pop() ?? new Session(await instance.connect(), pool !== undefined);
}

/** The attempt is over: its session is kept for the next (`reusable`), or closed. */
export function endSession(instance: DuckDBInstance, session: Session, reusable: boolean): void {
  const pool = idle.get(instance);
  if (reusable && pool && pool.length < MAX_IDLE) pool.push(session);
  else session.close();
}
