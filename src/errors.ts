/**
 * One error type for everything a user can get wrong. Every error carries a stable `code`
 * (for `--json` consumers and tests), and, when it comes from a file, its location and the
 * form that was expected, so that the CLI, HTTP and MCP adapters can each render it once.
 */

export type ErrorCode =
  | 'HEADER_SYNTAX'
  | 'HEADER_VALUE'
  | 'SQL_SYNTAX'
  | 'SQL_UNSUPPORTED'
  | 'TEMPLATE'
  | 'SQL_UNTRACKED'
  | 'FILE_NOT_FOUND'
  | 'DUPLICATE_TASK'
  | 'DUPLICATE_OUTPUT'
  | 'DAG_CYCLE'
  | 'DAG_DEFINITION'
  | 'MODULE_LOAD'
  | 'UNKNOWN_NAME'
  | 'SELECTOR'
  | 'CONFIG'
  | 'DB_LOCKED'
  | 'DB_NOT_WRITABLE'
  | 'DB_OPEN'
  | 'DB_CORRUPT'
  | 'DB_UNAVAILABLE'
  | 'SCHEMA_VERSION'
  | 'TASK_FAILED'
  | 'SQL_ERROR'
  | 'USAGE'
  | 'PARTITION'
  | 'LEASE_LOST'
  | 'STATEMENT_TIMEOUT'
  | 'DUPLICATE_RUN'
  | 'SNAPSHOT_MISMATCH'
  | 'WAIT_TIMEOUT'
  | 'INTERNAL';

export interface SourceLocation {
  file: string;
  line: number;
  col: number;
}

/** The JSON form of an error: what `--json` prints and what state keeps. */
export interface ErrorJson {
  code: ErrorCode;
  message: string;
  file?: string;
  line?: number;
  col?: number;
  expected?: string;
  hint?: string;
}

export interface DuckorchErrorOptions {
  location?: SourceLocation;
  expected?: string;
  hint?: string;
  cause?: unknown;
}

export class DuckorchError extends Error {
  override readonly name = 'DuckorchError';
  readonly code: ErrorCode;
  readonly location: SourceLocation | undefined;
  readonly expected: string | undefined;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: DuckorchErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.location = options.location;
    this.expected = options.expected;
    this.hint = options.hint;
  }

  /** `file:line:col: message (expected …) hint`, the form compilers use and editors link. */
  render(): string {
    const where = this.location ? `${formatLocation(this.location)}: ` : '';
    const expected = this.expected ? ` (expected ${this.expected})` : '';
    const hint = this.hint ? `\n  hint: ${this.hint}` : '';
    return `${where}${this.message}${expected}${hint}`;
  }

  /** Rebuilds an error from `toJSON()` (errors kept in state, e.g. a registered file's warnings). */
  static fromJSON(json: ErrorJson): DuckorchError {
    const location = json.file !== undefined ? { file: json.file, line: json.line ?? 1, col: json.col ?? 1 } : undefined;
    return new DuckorchError(json.code, json.message, {
      ...(location ? { location } : {}),
      ...(json.expected ? { expected: json.expected } : {}),
      ...(json.hint ? { hint: json.hint } : {}),
    });
  }

  toJSON(): ErrorJson {
    return {
      code: this.code,
      message: this.message,
      ...(this.location ? { file: this.location.file, line: this.location.line, col: this.location.col } : {}),
      ...(this.expected ? { expected: this.expected } : {}),
      ...(this.hint ? { hint: this.hint } : {}),
    };
  }
}

/** Several independent errors found in one pass (e.g. every bad header of a file). */
export class DuckorchErrors extends Error {
  override readonly name = 'DuckorchErrors';
  constructor(readonly errors: DuckorchError[]) {
    super(errors.map((e) => e.render()).join('\n'));
  }
}

export function formatLocation(loc: SourceLocation): string {
  return `${loc.file}:${loc.line}:${loc.col}`;
}

export function errorMessage(err: unknown): string {
  if (err instanceof DuckorchError) return err.render();
  if (err instanceof Error) return err.message;
  return String(err);
}
