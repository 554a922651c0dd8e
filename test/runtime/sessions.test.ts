/**
 * Connections kept between SQL attempts (`runtime/sessions.ts`): statements stay prepared, a
 * connection is kept only when its attempt left nothing on it, and an attempt on a kept
 * connection behaves as on a new one — temporary tables, settings and replaced tables included.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import { closeSessions, endSession, keepSessions, openSession } from '../../src/runtime/sessions.js';
import { SUBPROCESS_TEST_TIMEOUT, json, queryDb, runCli, tempProject } from '../helpers.js';

const instances: DuckDBInstance[] = [];
afterEach(() => {
  for (const i of instances.splice(0)) {
    closeSessions(i);
    i.closeSync();
  }
});

async function memory(): Promise<DuckDBInstance> {
  const i = await DuckDBInstance.create(':memory:');
  instances.push(i);
  return i;
}

describe('sessions', () => {
  it('keep their connection and prepared statements only on an instance that keeps sessions, and only when asked', async () => {
    const kept = await memory();
    keepSessions(kept);
    const s = await openSession(kept);
    const p = await s.prepare('SELECT $1::INTEGER + 1');
    expect(await s.prepare('SELECT $1::INTEGER + 1')).toBe(p);
    s.done('SELECT $1::INTEGER + 1', p, false);
    endSession(kept, s, true);
    // The next attempt gets the same connection, its statement still prepared.
    const again = await openSession(kept);
    expect(again).toBe(s);
    expect(await again.prepare('SELECT $1::INTEGER + 1')).toBe(p);
    // A statement that failed is prepared afresh next time.
    again.done('SELECT $1::INTEGER + 1', p, true);
    expect(await again.prepare('SELECT $1::INTEGER + 1')).not.toBe(p);
    // Not reusable: closed, and the next attempt connects anew.
    endSession(kept, again, false);
    expect(await openSession(kept)).not.toBe(again);

    const plain = await memory();
    const t = await openSession(plain);
    const q = await t.prepare('SELECT 1');
    expect(await t.prepare('SELECT 1')).not.toBe(q);
    endSession(plain, t, true);
    expect(await openSession(plain)).not.toBe(t);
  });

  it('keep at most 32 statements prepared, the least recently used dropped first', async () => {
    const i = await memory();
    keepSessions(i);
    const s = await openSession(i);
    const first = await s.prepare('SELECT 0');
    for (let n = 1; n <= 32; n++) await s.prepare(`SELECT ${n}`);
    expect(await s.prepare('SELECT 32')).toBe(await s.prepare('SELECT 32'));
    expect(await s.prepare('SELECT 0')).not.toBe(first);
    endSession(i, s, false);
  });
});

describe('a backfill on kept connections', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('behaves as on new ones: temporary tables and settings do not leak into the next partition, replaced tables are read anew', async () => {
    const p = tempProject();
    p.write(
      'tasks/staged.sql',
      `-- @partitions_by static(a, b, c)
CREATE TEMP TABLE scratch AS SELECT $partition_key AS k;
CREATE TABLE IF NOT EXISTS staged (k VARCHAR);
INSERT INTO staged SELECT k FROM scratch;
`,
    );
    p.write(
      'tasks/elsewhere.sql',
      `-- @partitions_by static(a, b, c)
CREATE SCHEMA IF NOT EXISTS other;
CREATE TABLE IF NOT EXISTS other.marks (k VARCHAR);
SET search_path = 'other';
INSERT INTO marks VALUES ($partition_key);
`,
    );
    p.write(
      'tasks/replaced.sql',
      `-- @partitions_by static(a, b, c)
-- @depends_on elsewhere
CREATE OR REPLACE TABLE snap AS SELECT $partition_key AS k, length($partition_key) AS n;
CREATE TABLE IF NOT EXISTS log (k VARCHAR);
INSERT INTO log SELECT k FROM snap WHERE n = length($partition_key);
`,
    );
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    const out = await runCli(['--db', p.db, 'backfill', 'staged', 'elsewhere', 'replaced', '--all', '-p', '1', '--json']);
    expect(out.code, out.stderr).toBe(0);
    expect(json<{ run: { state: string } }>(out).run.state).toBe('succeeded');
    expect(await queryDb(p.db, 'SELECT k FROM staged ORDER BY k')).toEqual([['a'], ['b'], ['c']]);
    expect(await queryDb(p.db, 'SELECT k FROM other.marks ORDER BY k')).toEqual([['a'], ['b'], ['c']]);
    // `log` is main.log: the search_path set by `elsewhere` stayed on its own connection.
    expect(await queryDb(p.db, 'SELECT k FROM main.log ORDER BY k')).toEqual([['a'], ['b'], ['c']]);
  });
});
