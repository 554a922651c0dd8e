import pg from 'pg';
import { beforeAll, describe } from 'vitest';
import { PgLedger } from '../../src/store/postgres/pg-ledger.js';
import { PG_START_TIMEOUT, freshSchema, pgDatabase, postgresAvailable } from '../pg.js';
import { ledgerConformance } from './ledger-conformance.js';

describe.skipIf(!postgresAvailable().ok)('PostgreSQL ledger', () => {
  beforeAll(() => pgDatabase(), PG_START_TIMEOUT);

  ledgerConformance('PostgreSQL', async () => {
    const { url, schema, drop } = await freshSchema();
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    const ledger = new PgLedger(pool, { schema });
    await ledger.migrate();
    return {
      ledger,
      close: async () => {
        await pool.end();
        await drop();
      },
    };
  });
});
