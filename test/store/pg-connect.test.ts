import { describe, expect, it } from 'vitest';
import { DuckorchError } from '../../src/errors.js';
import { connectPg, parsePgUrl, redactUrl } from '../../src/store/postgres/connect.js';
import { PG_START_TIMEOUT, closedPort, pgDatabase, postgresAvailable } from '../pg.js';

const available = postgresAvailable().ok;

describe('connecting to the PostgreSQL ledger', () => {
  it('says what is wrong with DATABASE_URL before connecting', () => {
    expect(() => parsePgUrl(undefined)).toThrow(/DATABASE_URL is not set/);
    expect(() => parsePgUrl('not a url')).toThrow(/DATABASE_URL is not a URL/);
    expect(() => parsePgUrl('mysql://u@h/db')).toThrow(/must start with postgresql:\/\/ \(got mysql:\/\/\)/);
    expect(redactUrl('postgresql://me:secret@db:5432/x')).toBe('postgresql://me:***@db:5432/x');
  });

  it('names an unreachable host and port, without the password', async () => {
    const port = await closedPort();
    const err = await connectPg(`postgresql://me:secret@127.0.0.1:${port}/x`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DuckorchError);
    expect((err as DuckorchError).message).toBe(`cannot reach PostgreSQL at 127.0.0.1:${port} (ECONNREFUSED)`);
    expect((err as DuckorchError).render()).not.toContain('secret');
  });

  it.skipIf(!available)('names a database that does not exist', { timeout: PG_START_TIMEOUT }, async () => {
    const u = new URL((await pgDatabase()).url);
    u.pathname = '/no_such_db_for_duckorch';
    const err = await connectPg(u.toString()).catch((e: unknown) => e);
    expect((err as DuckorchError).message).toMatch(/^database no_such_db_for_duckorch does not exist on PostgreSQL at /);
    expect((err as DuckorchError).hint).toContain('createdb no_such_db_for_duckorch');
  });

  it.skipIf(!available)('connects with a good URL', { timeout: PG_START_TIMEOUT }, async () => {
    const pool = await connectPg((await pgDatabase()).url);
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await pool.end();
  });
});
