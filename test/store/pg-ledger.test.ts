import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { describe } from 'vitest';
import { PgLedger } from '../../src/store/postgres/pg-ledger.js';
import { ledgerConformance } from './ledger-conformance.js';

const url = process.env.DATABASE_URL;
if (!url) console.warn('PostgreSQL ledger conformance skipped: DATABASE_URL is not set');

describe.skipIf(!url)('PostgreSQL ledger', () => {
  ledgerConformance('PostgreSQL', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    const schema = `t_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const ledger = new PgLedger(pool, { schema });
    await ledger.migrate();
    return {
      ledger,
      close: async () => {
        await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
        await pool.end();
      },
    };
  });
});
