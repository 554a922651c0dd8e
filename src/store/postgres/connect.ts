/**
 * Connecting to the PostgreSQL ledger, with errors that say which part of `DATABASE_URL` is
 * wrong — the host cannot be reached, the password is refused, the database does not exist —
 * and never print the password.
 */
import pg from 'pg';
import { DuckorchError } from '../../errors.js';

export const DSN_FORM = 'postgresql://user:password@host:5432/database';

export interface PgConnectOptions {
  /** Connections in the pool (workers take one per job being recorded, briefly). */
  poolMax?: number;
  /** Connections the pool keeps open even when idle. */
  poolMin?: number;
  statementTimeoutMs?: number;
  /** Name in `pg_stat_activity`. */
  applicationName?: string;
}

/** `DATABASE_URL` without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparsable>';
  }
}

export function parsePgUrl(url: string | undefined, from = 'DATABASE_URL'): URL {
  if (!url) throw new DuckorchError('CONFIG', `${from} is not set`, { expected: DSN_FORM, hint: `export ${from}=${DSN_FORM}` });
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DuckorchError('CONFIG', `${from} is not a URL`, { expected: DSN_FORM });
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
    throw new DuckorchError('CONFIG', `${from} must start with postgresql:// (got ${u.protocol}//)`, { expected: DSN_FORM });
  return u;
}

/** A pool whose first connection succeeded; fails with the reason when it cannot connect. */
export async function connectPg(url: string | undefined, options: PgConnectOptions = {}): Promise<pg.Pool> {
  const u = parsePgUrl(url);
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolMax ?? 10,
    ...(options.poolMin ? { min: options.poolMin } : {}),
    // libpq's PGAPPNAME names a process in pg_stat_activity, as for any PostgreSQL client.
    application_name: options.applicationName ?? (process.env.PGAPPNAME || 'duck-orch'),
    ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
    connectionTimeoutMillis: 10_000,
  });
  // An idle client that loses its server must not crash the process: the next query reports it.
  pool.on('error', () => undefined);
  try {
    const c = await pool.connect();
    c.release();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw translatePgError(err, u);
  }
  return pool;
}

export function translatePgError(err: unknown, u: URL): DuckorchError {
  const e = err as { code?: string; message?: string };
  const where = `${u.hostname || 'localhost'}:${u.port || '5432'}`;
  const db = decodeURIComponent(u.pathname.replace(/^\//, '')) || '(default)';
  const user = decodeURIComponent(u.username) || '(default)';
  switch (e.code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
      return new DuckorchError('DB_OPEN', `cannot reach PostgreSQL at ${where} (${e.code})`, {
        hint: 'check the host and port in DATABASE_URL, and that the server is running and accepts TCP connections',
        cause: err,
      });
    case '28P01':
    case '28000':
      return new DuckorchError('DB_OPEN', `PostgreSQL at ${where} refused user ${user}: ${e.message ?? 'authentication failed'}`, {
        hint: 'check the user and password in DATABASE_URL (and pg_hba.conf on the server)',
        cause: err,
      });
    case '3D000':
      return new DuckorchError('DB_OPEN', `database ${db} does not exist on PostgreSQL at ${where}`, {
        hint: `create it (createdb ${db}) or fix the database name in DATABASE_URL`,
        cause: err,
      });
    case '57014':
      return new DuckorchError('DB_OPEN', `a statement on PostgreSQL at ${where} was cancelled by its statement timeout`, {
        hint: 'raise STATEMENT_TIMEOUT_MS (DUCKORCH_STATEMENT_TIMEOUT_MS, orch_statement_timeout_ms)',
        cause: err,
      });
    default:
      return new DuckorchError('DB_OPEN', `cannot connect to PostgreSQL at ${where}: ${e.message ?? String(err)}`, { cause: err });
  }
}

/** Socket-level failures: the server went away or cannot be reached (for now). */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/**
 * SQLSTATEs of a server that is going away or not back yet: class 08 (connection exception),
 * admin_shutdown (a fast or immediate stop), crash_shutdown, cannot_connect_now (starting up or
 * shutting down).
 */
const SERVER_GOING_CODES = new Set(['57P01', '57P02', '57P03']);
/** What node-postgres says when a connection breaks under a query (these errors carry no code). */
const DROPPED = [
  /^Connection terminated/,
  /^Client has encountered a connection error and is not queryable/,
  /^timeout exceeded when trying to connect/,
  /^timeout expired/,
];

/**
 * Whether `err` means the connection to PostgreSQL was lost or cannot be made right now, as
 * opposed to a statement PostgreSQL refused (which retrying would not help).
 */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof DuckorchError) return err.code === 'DB_UNAVAILABLE';
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (NETWORK_CODES.has(code) || SERVER_GOING_CODES.has(code) || code.startsWith('08')) return true;
  if (code === '' && typeof e.message === 'string' && DROPPED.some((re) => re.test(e.message as string))) return true;
  return e.cause !== undefined && e.cause !== err && isConnectionError(e.cause);
}

/** A lost connection as a typed error (DB_UNAVAILABLE), which callers on a worker's path retry. */
export function connectionLost(err: unknown, u: URL | undefined): DuckorchError {
  const where = u ? ` at ${u.hostname || 'localhost'}:${u.port || '5432'}` : '';
  const e = err as { code?: string; message?: string };
  const detail = (e.message ?? String(err)).split('\n')[0] + (e.code && !e.message?.includes(e.code) ? ` (${e.code})` : '');
  return new DuckorchError('DB_UNAVAILABLE', `lost the connection to PostgreSQL${where}: ${detail}`, {
    hint: 'check that the PostgreSQL server is running and reachable (workers wait for it and retry)',
    cause: err,
  });
}
