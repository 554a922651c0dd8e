/**
 * A worker's hold on its project's DuckDB file when the ledger is shared (PostgreSQL).
 *
 * DuckDB lets one process open a file for writing, and on a shared mount its file lock may not
 * reach other machines at all. So the file is opened only by the worker holding its lease in the
 * ledger, keyed by the id kept inside the file (the same on every machine, whatever the path):
 *
 * - learn the id without writing: read-only, or from the ledger's lease once known;
 * - take the lease (free, expired or ours), then open the file for writing; if another process
 *   on this machine has it open after all, give the lease back and try again later;
 * - renew with every beat (a third of the lease); a worker that cannot renew before its lease
 *   runs out lets the file go: it stops claiming its jobs, hands back the ones in flight once
 *   they stop, then closes it;
 * - meanwhile, and while another worker holds the file, this worker takes every job that needs
 *   no database (Dag function tasks), and looks again at each beat.
 */
import fs from 'node:fs';
import type { DuckDBInstance } from '@duckdb/node-api';
import type { Config } from '../config/config.js';
import { DuckorchError } from '../errors.js';
import type { DatabaseSlot } from '../runtime/worker.js';
import type { AccessMode } from '../store/duckdb/database.js';
import type { DuckDbStore } from '../store/duckdb/duckdb-store.js';
import { peekDatabaseId } from '../store/duckdb/database-identity.js';
import type { Ledger } from '../store/ledger.js';
import { Project } from './project.js';

export interface LeasedDatabaseOptions {
  config: Config;
  ledger: Ledger;
  workerId: string;
  leaseMs: number;
  clock: () => Date;
  access: AccessMode;
  /** Says what happens to the hold (acquired, waiting, let go). */
  log: (line: string) => void;
  /** Called once the project is held (to answer on its socket, say); returns what undoes it when it is let go. */
  onHold?: (project: Project) => Promise<() => Promise<void>>;
}

const NONE: ReadonlySet<string> = new Set();

export class LeasedDatabase implements DatabaseSlot {
  private id: string | undefined;
  private project: Project | undefined;
  /** The held project's open database. */
  private open: { instance: DuckDBInstance; store: DuckDbStore } | undefined;
  private undo: (() => Promise<void>) | undefined;
  /** Until when the ledger last granted the lease. */
  private heldUntil = 0;
  private users = 0;
  private closing: Promise<void> | undefined;
  private drained: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  /** The last waiting reason logged, so that a standby worker says it once, not at every beat. */
  private said: string | undefined;
  private holdListeners = new Set<() => void>();

  constructor(private readonly o: LeasedDatabaseOptions) {}

  held(): ReadonlySet<string> {
    return this.project && !this.closing && this.id !== undefined ? new Set([this.id]) : NONE;
  }

  use(id: string): { instance: DuckDBInstance; release: () => void } | undefined {
    if (!this.project || !this.open || this.closing || id !== this.id) return undefined;
    this.users++;
    let released = false;
    return {
      instance: this.open.instance,
      release: () => {
        if (released) return;
        released = true;
        if (--this.users === 0) this.drained?.();
      },
    };
  }

  /** The held project's registered task names (undefined while nothing is held). */
  async registeredTasks(): Promise<ReadonlySet<string> | undefined> {
    if (!this.open || this.closing) return undefined;
    return new Set(await this.open.store.registeredTaskNames());
  }

  onChange(listener: () => void): void {
    this.holdListeners.add(listener);
  }

  /** The first attempt (its errors, other than the file being in use, are the caller's), then one per beat. */
  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => void this.beat(), Math.max(50, this.o.leaseMs / 3));
    this.timer.unref();
  }

  /** Lets the file go (once the jobs using it are done) and gives back the lease. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    await this.letGo();
  }

  private beat(): Promise<void> {
    this.ticking ??= this.tick()
      .catch((err: unknown) =>
        this.say(`cannot work database ${this.o.config.db} now: ${err instanceof Error ? err.message : String(err)}`),
      )
      .finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private say(line: string): void {
    if (line === this.said) return;
    this.said = line;
    this.o.log(line);
  }

  private async tick(): Promise<void> {
    if (this.closing) return;
    const now = this.o.clock();
    if (this.project) {
      const lease = await this.o.ledger.holdDatabase(this.id!, this.o.workerId, this.o.leaseMs, now).catch(() => undefined);
      if (lease?.worker === this.o.workerId) {
        this.heldUntil = lease.expiresAt.getTime();
        return;
      }
      // Taken over, or not renewed in time: another worker may be opening the file now.
      if (lease || now.getTime() >= this.heldUntil) {
        this.say(`lost the lease on database ${this.o.config.db}${lease ? ` to ${lease.worker}` : ''}: letting it go`);
        await this.letGo();
      }
      return;
    }
    this.id ??= await peekDatabaseId(this.o.config.db);
    if (this.id !== undefined) {
      const lease = await this.o.ledger.holdDatabase(this.id, this.o.workerId, this.o.leaseMs, now);
      if (lease.worker !== this.o.workerId) {
        this.say(
          `database ${this.o.config.db} is held by worker ${lease.worker || '(another)'}: taking jobs that need no database meanwhile`,
        );
        return;
      }
      this.heldUntil = lease.expiresAt.getTime();
    }
    let project: Project | undefined;
    let open: { instance: DuckDBInstance; store: DuckDbStore };
    try {
      project = await Project.open({
        config: this.o.config,
        access: this.o.access,
        sharedLedger: this.o.ledger,
        clock: this.o.clock,
      });
      open = await project.database();
    } catch (err) {
      await project?.close();
      if (this.id !== undefined) await this.o.ledger.releaseDatabase(this.id, this.o.workerId).catch(() => undefined);
      if (err instanceof DuckorchError && err.code === 'DB_LOCKED') {
        this.say(`database ${this.o.config.db} is in use by another process: taking jobs that need no database meanwhile`);
        return;
      }
      if (err instanceof DuckorchError && err.code === 'DB_OPEN' && !fs.existsSync(this.o.config.db)) {
        // Nothing registered here (yet): DAG workers' runs need no file, and a `register` may come.
        this.say(`database ${this.o.config.db} does not exist: taking jobs that need no database meanwhile`);
        return;
      }
      throw err;
    }
    const actual = open.store.databaseId;
    if (actual !== this.id) {
      // A file without an id until now (created or migrated just now), or another file put in its place.
      if (this.id !== undefined) await this.o.ledger.releaseDatabase(this.id, this.o.workerId).catch(() => undefined);
      this.id = actual;
      const lease = await this.o.ledger.holdDatabase(actual, this.o.workerId, this.o.leaseMs, this.o.clock()).catch(() => undefined);
      if (lease?.worker !== this.o.workerId) {
        await project.close();
        this.say(
          `database ${this.o.config.db} is held by worker ${lease?.worker ?? '(unknown)'}: taking jobs that need no database meanwhile`,
        );
        return;
      }
      this.heldUntil = lease.expiresAt.getTime();
    }
    this.project = project;
    this.open = open;
    this.undo = await this.o.onHold?.(project);
    this.say(`holds database ${actual} (${this.o.config.db}): working its jobs`);
    for (const l of this.holdListeners) l();
  }

  /** Stops handing the file out, waits for the jobs using it (the worker aborts them), then closes it and gives the lease back. */
  private letGo(): Promise<void> {
    if (!this.project) return Promise.resolve();
    this.closing ??= (async () => {
      if (this.users > 0) await new Promise<void>((resolve) => (this.drained = resolve));
      this.drained = undefined;
      const project = this.project!;
      this.project = undefined;
      this.open = undefined;
      await this.undo?.().catch(() => undefined);
      this.undo = undefined;
      await project.close();
      await this.o.ledger.releaseDatabase(this.id!, this.o.workerId).catch(() => undefined);
    })().finally(() => (this.closing = undefined));
    return this.closing;
  }
}
