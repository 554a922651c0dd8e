import pg from 'pg';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { freshSchema, PG_START_TIMEOUT, pgDatabase, postgresAvailable } from '../pg.js';

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  onTestFinished(() => client.end());
  return client;
}

async function schemaExists(client: pg.Client, schema: string): Promise<boolean> {
  const { rows } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  return rows.length === 1;
}

describe.skipIf(!postgresAvailable().ok)('test/pg.ts: PostgreSQL for tests', { timeout: 60_000 }, () => {
  beforeAll(() => pgDatabase(), PG_START_TIMEOUT);

  it('creates a schema that can be used, then drops it', async () => {
    const { url, schema, drop } = await freshSchema();
    expect(schema).toMatch(/^t_[0-9a-f]+$/);
    const client = await connect(url);
    expect(await schemaExists(client, schema)).toBe(true);

    await client.query(`CREATE TABLE ${schema}.items (id int PRIMARY KEY, name text NOT NULL)`);
    await client.query(`INSERT INTO ${schema}.items VALUES (1, 'one'), (2, 'two')`);
    const { rows } = await client.query(`SELECT id, name FROM ${schema}.items ORDER BY id`);
    expect(rows).toEqual([
      { id: 1, name: 'one' },
      { id: 2, name: 'two' },
    ]);

    await drop();
    expect(await schemaExists(client, schema)).toBe(false);
    await drop(); // idempotent, and again when the test finishes
  });

  it('gives each call a schema of its own', async () => {
    const a = await freshSchema();
    const b = await freshSchema();
    expect(a.schema).not.toBe(b.schema);
    expect(a.url).toBe(b.url);
    const client = await connect(a.url);

    for (const [s, name] of [
      [a.schema, 'in a'],
      [b.schema, 'in b'],
    ] as const) {
      await client.query(`SET search_path = ${s}`);
      await client.query('CREATE TABLE items (name text)');
      await client.query('INSERT INTO items VALUES ($1)', [name]);
    }
    await client.query('RESET search_path');
    expect((await client.query(`SELECT name FROM ${a.schema}.items`)).rows).toEqual([{ name: 'in a' }]);
    expect((await client.query(`SELECT name FROM ${b.schema}.items`)).rows).toEqual([{ name: 'in b' }]);

    await a.drop();
    expect(await schemaExists(client, a.schema)).toBe(false);
    expect((await client.query(`SELECT name FROM ${b.schema}.items`)).rows).toEqual([{ name: 'in b' }]);
  });

  it('drops the schema when the test finishes', async () => {
    let schema = '';
    let url = '';
    await (async () => {
      // A nested helper stands in for a finished test: register a check that runs after the drop
      // (onTestFinished callbacks run last-registered first, so register the check first).
      onTestFinished(async () => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          expect(await schemaExists(client, schema)).toBe(false);
        } finally {
          await client.end();
        }
      });
      ({ schema, url } = await freshSchema());
    })();
    expect(schema).not.toBe('');
  });

  it.skipIf(!!process.env.DATABASE_URL)('uses a throwaway server of its own when DATABASE_URL is unset', async () => {
    const { url } = await pgDatabase();
    const client = await connect(url);
    const { rows } = await client.query(
      `SELECT current_setting('port')::int AS port, current_setting('data_directory') AS data,
              current_setting('fsync') AS fsync, current_setting('max_connections')::int AS max_connections`,
    );
    expect(rows[0].port).not.toBe(5432);
    expect(rows[0].data).toMatch(/duckorch-pg-[^/]+\/data$/);
    expect(rows[0].fsync).toBe('off');
    expect(rows[0].max_connections).toBe(100);
    expect(new URL(url).hostname).toBe('127.0.0.1');
  });

  it.runIf(!!process.env.DATABASE_URL)('uses DATABASE_URL when set', async () => {
    expect((await pgDatabase()).url).toBe(process.env.DATABASE_URL);
  });
});
