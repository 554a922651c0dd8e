/**
 * Configuration: one schema, every default in one place, one precedence order:
 *
 *     command-line flag  >  environment variable  >  duckorch.toml  >  default
 *
 * `duckorch.toml` is read from the working directory (or `--config <file>`). Keys keep the
 * original `orch_*` names of duckOrch's `SET` options.
 */
import fs from 'node:fs';
import { parse as parseToml, TomlError } from 'smol-toml';
import { z } from 'zod';
import { DuckorchError } from '../errors.js';
import { DURATION_FORM, parseDurationExact } from '../model/duration.js';

const duration = (name: string) =>
  z.union([z.number().nonnegative(), z.string()]).transform((v, ctx) => {
    const seconds = typeof v === 'number' ? v : parseDurationExact(v);
    if (seconds === undefined) {
      ctx.addIssue({ code: 'custom', message: `${name}: invalid duration \`${v}\` (expected ${DURATION_FORM})` });
      return z.NEVER;
    }
    return seconds;
  });

export const ConfigSchema = z
  .object({
    /** The project's DuckDB database file. */
    db: z.string().min(1).default('mydata.duckdb'),
    /** How many tasks may run at once. */
    orch_max_parallel: z.coerce.number().int().min(1).max(256).default(4),
    /** First retry delay; each further retry doubles it (with jitter). Seconds or a duration. */
    orch_retry_base: duration('orch_retry_base').default(1),
    /** Longest delay between two retries. */
    orch_retry_max: duration('orch_retry_max').default(300),
    /** OpenLineage namespace of jobs and datasets. */
    orch_namespace: z.string().min(1).default('duckdb'),
  })
  .strict();

export type Config = z.output<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

/** Environment variables, by config key. */
export const ENV_VARS: Record<keyof Config, string> = {
  db: 'DUCKORCH_DB',
  orch_max_parallel: 'DUCKORCH_MAX_PARALLEL',
  orch_retry_base: 'DUCKORCH_RETRY_BASE',
  orch_retry_max: 'DUCKORCH_RETRY_MAX',
  orch_namespace: 'DUCKORCH_NAMESPACE',
};

export const DEFAULT_CONFIG_FILE = 'duckorch.toml';

export interface LoadConfigOptions {
  /** Explicit config file; when absent `duckorch.toml` is used if it exists. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags (undefined entries are ignored). */
  flags?: Partial<Record<keyof Config, unknown>>;
  cwd?: string;
}

function readConfigFile(file: string, explicit: boolean): Record<string, unknown> {
  if (!fs.existsSync(file)) {
    if (explicit) throw new DuckorchError('CONFIG', `config file ${file} does not exist`);
    return {};
  }
  try {
    return parseToml(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    if (err instanceof TomlError) {
      throw new DuckorchError('CONFIG', err.message.split('\n')[0] ?? 'invalid TOML', {
        location: { file, line: err.line, col: err.column },
        expected: 'TOML key = value lines, e.g. orch_max_parallel = 4',
      });
    }
    throw err;
  }
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const fileName = options.file ?? `${options.cwd ?? '.'}/${DEFAULT_CONFIG_FILE}`;
  const fromFile = readConfigFile(fileName, options.file !== undefined);
  const fromEnv: Record<string, unknown> = {};
  for (const [key, variable] of Object.entries(ENV_VARS)) {
    const value = env[variable];
    if (value !== undefined && value !== '') fromEnv[key] = value;
  }
  const fromFlags = Object.fromEntries(Object.entries(options.flags ?? {}).filter(([, v]) => v !== undefined));
  const merged = { ...fromFile, ...fromEnv, ...fromFlags };
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? '');
    const source = key in fromFlags ? 'command line' : key in fromEnv ? `environment variable ${ENV_VARS[key as keyof Config]}` : fileName;
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown config key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `\`${k}\``).join(', ')} in ${fileName}`
        : `invalid ${key || 'config'} from ${source}: ${issue.message}`;
    throw new DuckorchError('CONFIG', message, { expected: `keys ${Object.keys(ENV_VARS).join(', ')}` });
  }
  return parsed.data;
}
