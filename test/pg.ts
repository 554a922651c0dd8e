/**
 * PostgreSQL for tests. The server is `DATABASE_URL` when set; otherwise one throwaway server per
 * vitest run, started on first use and shared by all test files (see `test/pg-server.ts`).
 * Each test works in a schema of its own (`freshSchema()`), so test files run in parallel against
 * one server without seeing each other.
 *
 *     describe.skipIf(!postgresAvailable().ok)('the PostgreSQL ledger', () => {
 *       it('…', async () => {
 *         const { url, schema } = await freshSchema(); // dropped when the test finishes
 *       });
 *     });
 *
 * Connections: the server allows 100 and two test files run at a time. Keep pools small
 * (`max` of a few) and end them when the test finishes (`onTestFinished`, registered after
 * `freshSchema()` so that it runs before the schema's drop).
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { inject, onTestFinished } from 'vitest';
import { findPostgres, type Availability } from './pg-server.js';

/** Time for the first `pgDatabase()` of a run: it may initdb and start the throwaway server. */
export const PG_START_TIMEOUT = 120_000;

function databaseUrlFromEnv(): string | undefined {
  return process.env.DATABASE_URL || undefined;
}

let availability: Availability | undefined;

/**
 * Whether PostgreSQL tests can run: DATABASE_URL is set, or a throwaway server can be started
 * (initdb/pg_ctl found, runnable as the `postgres` user when we are root). Synchronous, for
 * `describe.skipIf(!postgresAvailable().ok)`. When not, says why once (console.warn).
 */
export function postgresAvailable(): Availability {
  if (availability) return availability;
  if (databaseUrlFromEnv()) return (availability = { ok: true });
  const provided = inject('duckorchPg');
  if (provided) availability = provided.throwaway;
  else {
    const found = findPostgres();
    availability = 'install' in found ? { ok: true } : { ok: false, reason: found.reason };
  }
  if (!availability.ok) console.warn(`PostgreSQL tests skipped: ${availability.reason}`);
  return availability;
}

let database: Promise<{ url: string }> | undefined;

async function resolveDatabase(): Promise<{ url: string }> {
  const fromEnv = databaseUrlFromEnv();
  if (fromEnv) return { url: fromEnv };
  const provided = inject('duckorchPg');
  if (!provided) throw new Error('pgDatabase(): set DATABASE_URL, or run vitest with test/global-setup.ts (vitest.config.ts)');
  if (!provided.endpoint) {
    throw new Error(`pgDatabase(): no PostgreSQL: ${provided.throwaway.ok ? 'unknown reason' : provided.throwaway.reason}`);
  }
  const res = await fetch(provided.endpoint, { method: 'POST' });
  const body = (await res.json()) as { url?: string; error?: string };
  if (!res.ok || !body.url) throw new Error(`the throwaway PostgreSQL server could not be started: ${body.error ?? res.status}`);
  return { url: body.url };
}

/** The server for the whole test run: DATABASE_URL, or the run's throwaway server (started on first use). */
export function pgDatabase(): Promise<{ url: string }> {
  return (database ??= resolveDatabase());
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 30_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface FreshSchema {
  url: string;
  schema: string;
  /** DROP SCHEMA … CASCADE (idempotent). */
  drop(): Promise<void>;
}

/**
 * A new, uniquely named, empty schema in the test run's database. Inside a test it is dropped
 * when the test finishes, whatever its outcome; elsewhere (beforeAll) call `drop()` yourself.
 * The drop waits at most 20 s for locks, so that a connection left open on the schema fails the
 * test with a message rather than hanging it.
 */
export async function freshSchema(): Promise<FreshSchema> {
  const schema = `t_${randomBytes(8).toString('hex')}`;
  const created = pgDatabase().then(async ({ url }) => {
    await withClient(url, (client) => client.query(`CREATE SCHEMA ${schema}`));
    return url;
  });
  let dropped: Promise<void> | undefined;
  const drop = () =>
    (dropped ??= (async () => {
      const url = await created.catch(() => undefined);
      if (!url) return;
      await withClient(url, async (client) => {
        await client.query(`SET lock_timeout = '20s'`);
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch((err: unknown) => {
          throw new Error(`freshSchema(): could not drop schema ${schema} (is a connection still using it?)`, { cause: err });
        });
      });
    })());
  // Registered before the first await, while the calling test is surely the current one; the
  // drop waits for the creation.
  try {
    onTestFinished(() => drop());
  } catch {
    // Not inside a test: the caller drops it.
  }
  return { url: await created, schema, drop };
}

/** A port nothing listens on (bound, then closed): an unreachable PostgreSQL. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
