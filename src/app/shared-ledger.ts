/**
 * The PostgreSQL ledger named by the config: connected with its settings (pool sizes, statement
 * timeout), its schema migrated (`init-db`, and the laptop flow of `register`/`run`) or checked
 * to be (every other command: they never create or change tables).
 */
import type { Config } from '../config/config.js';
import type { ClaimedJob, Ledger } from '../store/ledger.js';

export interface SharedLedger {
  ledger: Ledger;
  close: () => Promise<void>;
}

/** The PostgreSQL ledger named by the config, connected; its schema migrated, or checked to be. */
export async function openSharedLedger(config: Config, schema: 'migrate' | 'require' = 'require'): Promise<SharedLedger> {
  const { ledger, pool, where } = await connectSharedLedger(config);
  try {
    if (schema === 'migrate') await ledger.migrate();
    else await ledger.requireSchema(where);
    return { ledger, close: () => pool.end() };
  } catch (err) {
    await pool.end();
    throw err;
  }
}

/** A pool on the configured PostgreSQL with its settings, and the ledger on it. */
async function connectSharedLedger(config: Config) {
  const [{ connectPg, parsePgUrl }, { PgLedger }] = await Promise.all([
    import('../store/postgres/connect.js'),
    import('../store/postgres/pg-ledger.js'),
  ]);
  const pool = await connectPg(config.orch_database_url, {
    poolMax: config.orch_pg_pool_max,
    poolMin: config.orch_pg_pool_min,
    statementTimeoutMs: config.orch_statement_timeout_ms,
  });
  const u = parsePgUrl(config.orch_database_url);
  const where = `PostgreSQL ${u.hostname || 'localhost'}:${u.port || '5432'}/${decodeURIComponent(u.pathname.replace(/^\//, ''))}`;
  // For the tests of crash recovery only: this process dies between a task's data commit and its completion.
  const crashAfter = process.env.DUCKORCH_TEST_CRASH_AFTER_DATA_COMMIT;
  const ledger = new PgLedger(pool, {
    schema: config.orch_pg_schema,
    ...(config.orch_statement_timeout_ms > 0 ? { statementTimeoutMs: config.orch_statement_timeout_ms } : {}),
    ...(crashAfter
      ? {
          afterDataCommit: (job: ClaimedJob) => {
            if (job.task === crashAfter) process.kill(process.pid, 'SIGKILL');
          },
        }
      : {}),
  });
  return { ledger, pool, where };
}

/** What `init-db` did: the ledger's schema created or migrated. */
export interface InitResult {
  store: 'postgres' | 'duckdb';
  /** The schema and server, or the database file. */
  where: string;
  schema: string;
  version: number;
  applied: Array<{ id: number; name: string }>;
}

/** `init-db`: creates or migrates the PostgreSQL ledger's schema; nothing else is touched. */
export async function initSharedLedger(config: Config): Promise<InitResult> {
  const { ledger, pool, where } = await connectSharedLedger(config);
  try {
    const report = await ledger.migrate();
    return { store: 'postgres', where, ...report };
  } finally {
    await pool.end();
  }
}
