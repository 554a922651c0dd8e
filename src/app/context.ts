/**
 * What every capability of the application service shares: the settings, the injected clock
 * and randomness, the ledger, and the project's DuckDB file — opened only when something needs
 * it. With the ledger in PostgreSQL, commands about runs and jobs (`enqueue --dag`, `status`,
 * `queue-depth`, `cancel`, `retry-*`, `snapshot`, …) never open, create or lock the file: many
 * of them can run at once, on any machine, beside the worker that holds it.
 */
import type { DuckDBInstance } from '@duckdb/node-api';
import type { Config } from '../config/config.js';
import type { AccessMode } from '../store/duckdb/database.js';
import type { DuckDbStore } from '../store/duckdb/duckdb-store.js';
import type { Ledger } from '../store/ledger.js';
import type { SharedLedger } from './shared-ledger.js';
import { closeSessions, keepSessions } from '../runtime/sessions.js';

export interface ProjectOptions {
  config: Config;
  /** What the command may do to the database file, when it opens it: `create` it, `write`, or only `read`. */
  access: AccessMode;
  /**
   * `path/module.ts:export`: the definitions come from this module's `Dag` instead of the
   * registry (no `register` needed), and history reads keep to its runs. Or the name of a DAG
   * whose snapshot is active (`snapshot --activate`): the definitions of that snapshot.
   */
  dag?: string;
  /**
   * With the ledger in PostgreSQL: `migrate` creates or migrates its schema (what `register`,
   * `run` and `init-db` do); `require` (the default) fails unless `init-db` did.
   */
  ledgerSchema?: 'migrate' | 'require';
  clock?: () => Date;
  random?: () => number;
  /**
   * The shared ledger, already open (a worker that opens the DuckDB file only while it holds the
   * database's lease keeps one ledger connection for its whole life); not closed with the project.
   */
  sharedLedger?: Ledger;
}

/** The project's DuckDB file, open: its data, its registry and (embedded) its ledger. */
export interface OpenDatabase {
  instance: DuckDBInstance;
  store: DuckDbStore;
}

export class ProjectContext {
  readonly clock: () => Date;
  readonly random: () => number;
  private opened: Promise<OpenDatabase> | undefined;

  constructor(
    readonly options: ProjectOptions,
    /** The PostgreSQL ledger; undefined when the ledger is the one inside the database file. */
    private readonly shared: SharedLedger | undefined,
    /** The context whose ledger and database this one uses (and does not close). */
    private readonly parent?: ProjectContext,
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.random = options.random ?? Math.random;
  }

  get config(): Config {
    return this.options.config;
  }

  get dbFile(): string {
    return this.options.config.db;
  }

  /** Whether the ledger is shared (PostgreSQL), so that it is reachable without the database file. */
  get sharedLedger(): boolean {
    return this.shared !== undefined;
  }

  /** The ledger: PostgreSQL's (no file needed), or the one inside the database file. */
  async ledger(): Promise<Ledger> {
    return this.shared?.ledger ?? (await this.database()).store.ledger;
  }

  /** The database file, opened on first use (a writer also migrates it and, embedded, recovers what a dead process left). */
  database(): Promise<OpenDatabase> {
    if (this.parent) return this.parent.database();
    this.opened ??= (async () => {
      // Loaded here: DuckDB's binding costs a worker that opens no file a tenth of a second and 40 MB.
      const [{ openDuckDb }, { DuckDbStore }] = await Promise.all([
        import('../store/duckdb/database.js'),
        import('../store/duckdb/duckdb-store.js'),
      ]);
      const instance = await openDuckDb(this.dbFile, this.options.access);
      try {
        const store = await DuckDbStore.open(
          instance,
          this.options.access,
          this.dbFile,
          this.clock(),
          this.shared && { ledger: this.shared.ledger, close: async () => undefined },
          this.config.orch_queue_page,
        );
        // Connections (and prepared statements) are kept between attempts: see `closeSessions` below.
        keepSessions(instance);
        return { instance, store };
      } catch (err) {
        closeSessions(instance);
        instance.closeSync();
        throw err;
      }
    })().catch((err: unknown) => {
      this.opened = undefined;
      throw err;
    });
    return this.opened;
  }

  /** A context with other options (another `--dag`) over this one's ledger and database, which it does not close. */
  sharing(options: ProjectOptions): ProjectContext {
    return new ProjectContext(options, this.shared, this);
  }

  async close(): Promise<void> {
    if (this.parent) return;
    const db = await this.opened?.catch(() => undefined);
    if (db) {
      await db.store.close();
      closeSessions(db.instance);
      db.instance.closeSync();
    }
    await this.shared?.close();
  }
}
