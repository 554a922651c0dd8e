/**
 * Configuration: one schema, every default in one place, one precedence order:
 *
 *     command-line flag  >  environment variable  >  duckorch.toml  >  default
 *
 * `duckorch.toml` is `--config <file>`, or else the nearest one found looking upward from the
 * working directory (as git and dbt find their project). A relative `db` written in a config
 * file is relative to that file's folder, so the project works from any subfolder; a `db`
 * from `--db` or `DUCKORCH_DB` is relative to the working directory, as any path typed in a
 * shell is. Keys keep the original `orch_*` names of duckOrch's `SET` options.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { parse as parseToml, TomlError } from 'smol-toml';
import * as v from 'valibot';
import { DuckorchError, DuckorchErrors, type SourceLocation } from '../errors.js';
import { DURATION_FORM, parseDurationExact } from '../model/duration.js';
import { didYouMean } from '../model/suggest.js';

// valibot rather than zod: the same checks, loaded in a tenth of the time (config is read by every command).
const text = v.pipe(v.string(), v.trim(), v.minLength(1));

// Environment variables are always strings, so a number may arrive as `"4"`; a boolean or a
// fraction must not slip through as one (`true` would coerce to 1).
const wholeNumber = (min: number, max: number) =>
  v.pipe(
    v.union([v.number(), v.pipe(v.string(), v.trim(), v.regex(/^[+-]?\d+$/), v.transform(Number))]),
    v.integer(),
    v.minValue(min),
    v.maxValue(max),
  );

/** Seconds, or a duration such as `1m30s`; then within `min`–`max` seconds. */
const duration = (min: number, max: number, positive = false) =>
  v.pipe(
    v.union([v.pipe(v.number(), v.finite(), v.minValue(0)), v.string()]),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const seconds = typeof dataset.value === 'number' ? dataset.value : parseDurationExact(dataset.value);
      if (seconds === undefined) {
        addIssue({ message: 'not a duration' });
        return NEVER;
      }
      return seconds;
    }),
    v.minValue(min),
    v.maxValue(max),
    v.check((seconds) => !positive || seconds > 0, 'more than 0'),
  );

/** Each key's validator and, for error messages, the form it expects in words. */
const FIELDS = {
  /** The project's DuckDB database file. */
  db: { schema: text, expected: 'a file path' },
  /** How many tasks may run at once. */
  orch_max_parallel: { schema: wholeNumber(1, 256), expected: 'a whole number from 1 to 256' },
  /** First retry delay; each further retry doubles it (with jitter). Seconds or a duration. */
  orch_retry_base: { schema: duration(0, Infinity), expected: DURATION_FORM },
  /** Longest delay between two retries. */
  orch_retry_max: { schema: duration(0, Infinity), expected: DURATION_FORM },
  /** OpenLineage namespace of jobs and datasets. */
  orch_namespace: { schema: text, expected: 'a non-empty name' },
  /** Jobs of a large run of independent jobs (a backfill) the embedded ledger keeps in memory at a time. */
  orch_queue_page: { schema: wholeNumber(10, 10_000_000), expected: 'a whole number from 10 to 10000000' },
  /** How long a worker's claim on a job lasts without a heartbeat (workers renew it every second or so). */
  orch_lease: { schema: duration(1, 86_400), expected: `${DURATION_FORM} from 1s to 1d` },
  /** Where runs, jobs and their history live: the project's DuckDB file, or a shared PostgreSQL. */
  orch_store: { schema: v.picklist(['duckdb', 'postgres']), expected: '`duckdb` or `postgres`' },
  /** The PostgreSQL ledger's connection URL. */
  orch_database_url: { schema: text, expected: 'a URL such as postgresql://user:password@host:5432/database' },
  /** The PostgreSQL schema holding the ledger's tables. */
  orch_pg_schema: {
    schema: v.pipe(v.string(), v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/)),
    expected: 'a name of letters, digits and _ (not starting with a digit)',
  },
  /** Attempts of a task that does not set its own (`@retries` / `retries`): Orchex's MAX_ATTEMPTS. */
  orch_max_attempts: { schema: wholeNumber(1, 1000), expected: 'a whole number from 1 to 1000' },
  /** How long an attempt of a task that sets no timeout may take; unset: no limit. */
  orch_task_timeout: {
    schema: duration(0, 7 * 86_400, true),
    expected: `${DURATION_FORM}, more than 0 and at most 1w`,
  },
  /** How often an idle worker looks for work when no notification wakes it. */
  orch_poll_interval: { schema: duration(0.01, 3600), expected: `${DURATION_FORM} from 0.01s to 1h` },
  /** Connections the PostgreSQL pool keeps open at least, and opens at most. */
  orch_pg_pool_min: { schema: wholeNumber(0, 1000), expected: 'a whole number from 0 to 1000' },
  orch_pg_pool_max: { schema: wholeNumber(1, 1000), expected: 'a whole number from 1 to 1000' },
  /** PostgreSQL cancels any statement of the ledger that runs longer (milliseconds; 0: no limit). */
  orch_statement_timeout_ms: { schema: wholeNumber(0, 86_400_000), expected: 'a whole number of milliseconds from 0 to 86400000' },
  /** How often a worker logs its rates (claimed, succeeded, failed per second) and its queue depth; 0: never. */
  orch_metrics_interval: { schema: duration(0, 86_400), expected: `${DURATION_FORM}, at most 1d (0: never)` },
} as const;

const ConfigSchema = v.strictObject({
  db: v.optional(FIELDS.db.schema, 'mydata.duckdb'),
  orch_max_parallel: v.optional(FIELDS.orch_max_parallel.schema, 4),
  orch_retry_base: v.optional(FIELDS.orch_retry_base.schema, 1),
  orch_retry_max: v.optional(FIELDS.orch_retry_max.schema, 300),
  orch_namespace: v.optional(FIELDS.orch_namespace.schema, 'duckdb'),
  orch_lease: v.optional(FIELDS.orch_lease.schema, 60),
  orch_queue_page: v.optional(FIELDS.orch_queue_page.schema, 2000),
  // Default: postgres when a database URL is configured, else duckdb (see loadConfig).
  orch_store: v.optional(FIELDS.orch_store.schema, 'duckdb'),
  orch_database_url: v.optional(FIELDS.orch_database_url.schema),
  orch_pg_schema: v.optional(FIELDS.orch_pg_schema.schema, 'duckorch'),
  // Unset: a task's own `@retries` / `retries` only (1 attempt when it sets none).
  orch_max_attempts: v.optional(FIELDS.orch_max_attempts.schema),
  // Unset: no limit for tasks that set none (Orchex killed them after 120 s).
  orch_task_timeout: v.optional(FIELDS.orch_task_timeout.schema),
  orch_poll_interval: v.optional(FIELDS.orch_poll_interval.schema, 0.2),
  orch_pg_pool_min: v.optional(FIELDS.orch_pg_pool_min.schema, 0),
  orch_pg_pool_max: v.optional(FIELDS.orch_pg_pool_max.schema, 10),
  orch_statement_timeout_ms: v.optional(FIELDS.orch_statement_timeout_ms.schema, 30_000),
  orch_metrics_interval: v.optional(FIELDS.orch_metrics_interval.schema, 0),
});

export type Config = v.InferOutput<typeof ConfigSchema>;

/** Settings given as values (an application's, a test's) checked and completed with the defaults; throws on a bad one. */
export function parseConfig(input: { [K in keyof Config]?: unknown }): Config {
  return v.parse(ConfigSchema, input);
}

/** Whether `value` is good for `key`, and the value it stands for (a duration in seconds, a number from text). */
export function parseSetting(key: keyof Config, value: unknown): { ok: true; value: unknown } | { ok: false } {
  const parsed = v.safeParse(FIELDS[key].schema, value);
  return parsed.success ? { ok: true, value: parsed.output } : { ok: false };
}

type Key = keyof Config;

/** Environment variables, by config key. */
export const ENV_VARS: Record<Key, string> = {
  db: 'DUCKORCH_DB',
  orch_max_parallel: 'DUCKORCH_MAX_PARALLEL',
  orch_retry_base: 'DUCKORCH_RETRY_BASE',
  orch_retry_max: 'DUCKORCH_RETRY_MAX',
  orch_namespace: 'DUCKORCH_NAMESPACE',
  orch_lease: 'DUCKORCH_LEASE',
  orch_queue_page: 'DUCKORCH_QUEUE_PAGE',
  orch_store: 'DUCKORCH_STORE',
  orch_database_url: 'DATABASE_URL',
  orch_pg_schema: 'DUCKORCH_PG_SCHEMA',
  orch_max_attempts: 'DUCKORCH_MAX_ATTEMPTS',
  orch_task_timeout: 'DUCKORCH_TASK_TIMEOUT',
  orch_poll_interval: 'DUCKORCH_POLL_INTERVAL',
  orch_pg_pool_min: 'DUCKORCH_PG_POOL_MIN',
  orch_pg_pool_max: 'DUCKORCH_PG_POOL_MAX',
  orch_statement_timeout_ms: 'DUCKORCH_STATEMENT_TIMEOUT_MS',
  orch_metrics_interval: 'DUCKORCH_METRICS_INTERVAL',
};

/** Orchex's names for the same settings, read when the project's own variable is not set. */
export const ENV_ALIASES: Partial<Record<Key, readonly string[]>> = {
  orch_lease: ['LEASE_SECONDS'],
  orch_pg_schema: ['DB_SCHEMA'],
  orch_max_attempts: ['MAX_ATTEMPTS'],
  orch_task_timeout: ['TASK_TIMEOUT_SECONDS'],
  orch_poll_interval: ['CLAIM_POLL_INTERVAL'],
  orch_pg_pool_min: ['DB_POOL_MIN'],
  orch_pg_pool_max: ['DB_POOL_MAX'],
  orch_statement_timeout_ms: ['STATEMENT_TIMEOUT_MS'],
  orch_metrics_interval: ['METRICS_FLUSH_INTERVAL'],
};

export const DEFAULT_CONFIG_FILE = 'duckorch.toml';

export interface LoadConfigOptions {
  /** Explicit config file (relative to `cwd`); when absent the nearest `duckorch.toml` upward from `cwd` is used. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags (undefined entries are ignored). */
  flags?: Partial<Record<Key, unknown>>;
  /** How each flag is spelled on the command line (`--max-parallel`), to say where a bad value came from. */
  flagNames?: Partial<Record<Key, string>>;
  /** Where the upward search for `duckorch.toml` starts; default the process's working directory. */
  cwd?: string;
  /** Read `.env` in `cwd` (as Orchex documented): its variables count where the environment has none. */
  dotenv?: boolean;
}

function isFile(file: string): boolean {
  try {
    return fs.statSync(file, { throwIfNoEntry: false })?.isFile() ?? false;
  } catch {
    return false; // a folder above that this user may not look into is one without a config
  }
}

/** The nearest `duckorch.toml` in `cwd` or one of its parents, as an absolute path. */
export function findConfigFile(cwd: string): string | undefined {
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, DEFAULT_CONFIG_FILE);
    if (isFile(candidate)) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

interface ConfigFile {
  /** As shown in messages: what the user typed for `--config`, else the absolute path found. */
  shown: string;
  absolute: string;
  source: string;
  values: Record<string, unknown>;
}

function readConfigFile(shown: string, absolute: string): ConfigFile {
  let source: string;
  try {
    source = fs.readFileSync(absolute, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a folder' : `cannot be read (${code ?? String(err)})`;
    throw new DuckorchError('CONFIG', `config file ${shown} ${reason}`);
  }
  try {
    return { shown, absolute, source, values: parseToml(source) };
  } catch (err) {
    if (err instanceof TomlError) {
      throw new DuckorchError('CONFIG', err.message.split('\n')[0] ?? 'invalid TOML', {
        location: { file: shown, line: err.line, col: err.column },
        expected: 'TOML key = value lines, e.g. orch_max_parallel = 4',
      });
    }
    throw err;
  }
}

/**
 * Where `key` is set in a TOML file, for editors to jump to. smol-toml returns plain values
 * without positions, so this finds the key's line itself (bare or quoted key, or a table header).
 */
function locateKey(file: ConfigFile, key: string): SourceLocation | undefined {
  const escaped = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`^([ \\t]*)(?:(["']?)${escaped}\\2[ \\t]*=|\\[[ \\t]*${escaped}[ \\t]*\\])`);
  const lines = file.source.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const m = pattern.exec(lines[i]!);
    if (m) return { file: file.shown, line: i + 1, col: m[1]!.length + 1 };
  }
  return undefined;
}

function show(value: unknown): string {
  return typeof value === 'string'
    ? value
    : value !== null && typeof value === 'object' && !(value instanceof Date)
      ? JSON.stringify(value)
      : String(value);
}

function readDotenv(file: string): Record<string, string> {
  if (!isFile(file)) return {};
  try {
    return parseEnv(fs.readFileSync(file, 'utf8')) as Record<string, string>;
  } catch (err) {
    throw new DuckorchError('CONFIG', `${file} cannot be read: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const found = options.file !== undefined ? path.resolve(cwd, options.file) : findConfigFile(cwd);
  const file = found === undefined ? undefined : readConfigFile(options.file ?? found, found);

  const dotenv = options.dotenv ? readDotenv(path.join(cwd, '.env')) : {};
  const errors: DuckorchError[] = [];
  const keys = Object.keys(FIELDS) as Key[];
  for (const unknown of Object.keys(file?.values ?? {}).filter((k) => !Object.hasOwn(FIELDS, k))) {
    const hint = didYouMean(unknown, keys);
    const location = locateKey(file!, unknown);
    errors.push(
      new DuckorchError('CONFIG', `unknown config key \`${unknown}\` in ${file!.shown}`, {
        ...(location ? { location } : {}),
        ...(hint ? { hint } : { expected: `one of ${keys.join(', ')}` }),
      }),
    );
  }

  const raw: Partial<Record<Key, unknown>> = {};
  for (const key of keys) {
    const flag = options.flags?.[key];
    const names = [ENV_VARS[key], ...(ENV_ALIASES[key] ?? [])];
    const envName = names.find((name) => env[name] !== undefined && env[name] !== '');
    const dotName = envName === undefined ? names.find((name) => dotenv[name] !== undefined && dotenv[name] !== '') : undefined;
    const fromEnv = envName !== undefined ? env[envName] : dotName !== undefined ? dotenv[dotName] : undefined;
    const fromFile = file?.values[key];
    const [value, origin, source]: [unknown, 'flag' | 'env' | 'file' | undefined, string] =
      flag !== undefined
        ? [flag, 'flag', options.flagNames?.[key] ?? 'the command line']
        : fromEnv !== undefined
          ? [fromEnv, 'env', envName !== undefined ? `environment variable ${envName}` : `${dotName} in .env`]
          : [fromFile, fromFile === undefined ? undefined : 'file', file?.shown ?? ''];
    if (origin === undefined) continue;
    const parsed = parseSetting(key, value);
    if (!parsed.ok) {
      const location = origin === 'file' ? locateKey(file!, key) : undefined;
      errors.push(
        new DuckorchError('CONFIG', `\`${key}\` must be ${FIELDS[key].expected}, got \`${show(value)}\` (from ${source})`, {
          ...(location ? { location } : {}),
        }),
      );
      continue;
    }
    raw[key] = key === 'db' && origin === 'file' ? path.resolve(path.dirname(file!.absolute), parsed.value as string) : parsed.value;
  }
  // A configured database URL means the shared ledger, unless the store is named explicitly.
  if (raw.orch_store === undefined && raw.orch_database_url !== undefined) raw.orch_store = 'postgres';
  if (raw.orch_store === 'postgres' && raw.orch_database_url === undefined)
    errors.push(
      new DuckorchError('CONFIG', '`orch_store` is postgres but no database URL is set', {
        expected: 'postgresql://user:password@host:5432/database',
        hint: 'set DATABASE_URL (or orch_database_url in duckorch.toml)',
      }),
    );
  const poolMin = raw.orch_pg_pool_min as number | undefined;
  const poolMax = raw.orch_pg_pool_max as number | undefined;
  if (poolMin !== undefined && poolMin > (poolMax ?? 10))
    errors.push(
      new DuckorchError('CONFIG', `\`orch_pg_pool_min\` (${poolMin}) is more than \`orch_pg_pool_max\` (${poolMax ?? '10, the default'})`, {
        expected: 'orch_pg_pool_min ≤ orch_pg_pool_max (DB_POOL_MIN ≤ DB_POOL_MAX)',
      }),
    );
  if (errors.length === 1) throw errors[0]!;
  if (errors.length > 1) throw new DuckorchErrors(errors);
  return parseConfig(raw);
}
