import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { charOffset, oneLine, parseDuckdbError } from '../../src/runtime/duckdb-error.js';

/** The message of the error DuckDB raises for `sql` on a connection with `errors_as_json` set or not. */
async function duckdbError(sql: string, asJson: boolean): Promise<string> {
  const instance = await DuckDBInstance.create(':memory:');
  try {
    const conn = await instance.connect();
    try {
      await conn.run(`CREATE TABLE trips (id INTEGER, station_name VARCHAR); SET errors_as_json = ${asJson}`);
      await conn.run(sql);
    } catch (err) {
      return (err as Error).message;
    } finally {
      conn.closeSync();
    }
  } finally {
    instance.closeSync();
  }
  throw new Error(`no error from ${sql}`);
}

describe('parseDuckdbError', () => {
  it('reads the text and the byte position of a JSON error, also behind other statements sent with it', async () => {
    const sql = "BEGIN TRANSACTION;\nSELECT 'é', * FROM trip";
    const e = parseDuckdbError(await duckdbError(sql, true));
    expect(e.text).toBe('Catalog Error: Table with name trip does not exist!\nDid you mean "trips"?');
    expect(charOffset(sql, e.position!)).toBe(sql.indexOf('trip'));
  });

  it('reads a parser error, which keeps its prefix before the JSON', async () => {
    const e = parseDuckdbError(await duckdbError('SELECT 1 + * 3', true));
    expect(e.text).toBe('Parser Error: syntax error at or near "3"');
    expect(e.position).toBe(13);
  });

  it('reads the plain form without its LINE excerpt, and without a position', async () => {
    const message = await duckdbError('SELECT station_nme FROM trips', false);
    expect(message).toContain('LINE 1:');
    expect(parseDuckdbError(message)).toEqual({
      text: 'Binder Error: Referenced column "station_nme" not found in FROM clause!\nCandidate bindings: "station_name", "id"',
      position: undefined,
    });
    expect(parseDuckdbError('interrupted between statements')).toEqual({ text: 'interrupted between statements', position: undefined });
  });
});

describe('oneLine', () => {
  it('joins the error and its hint on one line', () => {
    expect(oneLine('Binder Error: Table "u" does not have a column named "idd"\n\nCandidate bindings: : "id"')).toBe(
      'Binder Error: Table "u" does not have a column named "idd" Candidate bindings: : "id"',
    );
  });
});
