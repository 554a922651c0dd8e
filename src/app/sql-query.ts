/**
 * Ad-hoc SQL against the project database (`duck-orch sql`): the last statement's result, with
 * its values in DuckDB's text form or as JSON. The database is opened read-only (or, held by this
 * process, queried in a read-only transaction), so a query can never change data or
 * orchestration state behind the ledger's back.
 */
import type {
  DuckDBConnection,
  DuckDBInstance,
  DuckDBPreparedStatement,
  DuckDBResultReader,
  DuckDBValue,
  DuckDBValueConverter,
  Json,
  StatementType,
} from '@duckdb/node-api';
import { duckdb } from '../duckdb-api.js';
import { DuckorchError } from '../errors.js';
import { openDuckDb } from '../store/duckdb/database.js';

const {
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTypeId,
  JsonDuckDBValueConverter,
} = duckdb;

export interface QueryResult {
  /** Column names made unique the way DuckDB does it (`a`, `a:1`), so JSON rows keep every column. */
  columns: Array<{ name: string; type: string }>;
  /** Column names as the query wrote them, for the table and CSV headers. */
  headers: string[];
  /** Each value in DuckDB's text form; null for SQL NULL. */
  texts: Array<Array<string | null>>;
  /** The rows as JSON (see `jsonConverter`). Plain data throughout: the result crosses the holder's socket. */
  json: Array<Record<string, Json>>;
}

/** Runs every statement of `sql` in order against `dbFile` (read-only) and returns the last one's result. */
export async function runQuery(dbFile: string, sql: string): Promise<QueryResult> {
  const instance = await openDuckDb(dbFile, 'read');
  try {
    const connection = await instance.connect();
    try {
      return await runStatements(connection, sql);
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

/**
 * The same on a database this process holds open for writing (a `run` or `worker` answering
 * another terminal): in a read-only transaction, rolled back, so that a write is refused as it
 * is on a file opened read-only, while temporary tables still work.
 */
export async function runQueryReadOnly(instance: DuckDBInstance, sql: string): Promise<QueryResult> {
  const connection = await instance.connect();
  try {
    await connection.run('BEGIN TRANSACTION READ ONLY');
    try {
      return await runStatements(connection, sql, (type) => REFUSED_IN_HOLDER.get(type));
    } finally {
      await connection.run('ROLLBACK').catch(() => undefined);
    }
  } finally {
    connection.closeSync();
  }
}

/**
 * What a query may not do inside the process holding the database: end the read-only
 * transaction (a `COMMIT` would let the next statement write), or change that process for
 * everything it runs next (databases attached, extensions loaded, settings such as `threads`).
 * A file opened read-only by `sql` itself needs no such care: the process ends with the query.
 */
const REFUSED_IN_HOLDER: ReadonlyMap<StatementType, string> = new Map([
  [duckdb.StatementType.TRANSACTION, 'BEGIN, COMMIT and ROLLBACK'],
  [duckdb.StatementType.ATTACH, 'ATTACH'],
  [duckdb.StatementType.DETACH, 'DETACH'],
  [duckdb.StatementType.LOAD, 'LOAD and INSTALL'],
  [duckdb.StatementType.SET, 'SET, RESET, PRAGMA settings and USE'],
]);

async function runStatements(
  connection: DuckDBConnection,
  sql: string,
  /** What a statement of this type is, when it may not run here. */
  refused: (type: StatementType) => string | undefined = () => undefined,
): Promise<QueryResult> {
  let extracted;
  try {
    extracted = await connection.extractStatements(sql);
  } catch (err) {
    throw sqlError(err);
  }
  let reader: DuckDBResultReader | undefined;
  for (let i = 0; i < extracted.count; i++) {
    const where = extracted.count > 1 ? `statement ${i + 1} of ${extracted.count}: ` : '';
    let prepared: DuckDBPreparedStatement;
    try {
      prepared = await extracted.prepare(i);
    } catch (err) {
      throw sqlError(err, where);
    }
    const what = refused(prepared.statementType);
    if (what !== undefined)
      throw new DuckorchError(
        'SQL_ERROR',
        `${where}${what} cannot run while a \`duck-orch run\` or \`worker\` holds the database: \`sql\` is answered inside that process, in a read-only transaction`,
        { hint: 'leave the statement out (qualify names instead of USE), or run it once the holder has stopped' },
      );
    try {
      if (i === extracted.count - 1) reader = await prepared.runAndReadAll();
      else await prepared.run();
    } catch (err) {
      throw sqlError(err, where);
    }
  }
  if (!reader) throw noStatement();
  const types = reader.columnTypes();
  return {
    columns: reader.deduplicatedColumnNames().map((name, i) => ({ name, type: String(types[i]) })),
    headers: reader.columnNames(),
    texts: reader.getRows().map((row) => row.map(valueText)),
    json: reader.convertRowObjects(jsonConverter),
  };
}

function noStatement(): DuckorchError {
  return new DuckorchError('USAGE', 'the query has no SQL statement to run', { hint: 'e.g. duck-orch sql "SELECT 42"' });
}

function sqlError(err: unknown, prefix = ''): DuckorchError {
  const message = (err instanceof Error ? err.message : String(err)).replace(/^Failed to extract statements: /, '').trim();
  // The binding reports a text with no statement (blank, or only comments) as a bare callback failure.
  if (message === 'Error in native callback') return noStatement();
  return new DuckorchError('SQL_ERROR', `${prefix}${message}`, {
    ...(/read-only mode/.test(message)
      ? { hint: '`duck-orch sql` opens the database read-only; change data with a task and `duck-orch run`' }
      : {}),
    cause: err,
  });
}

/** `YYYY-MM-DDTHH:MM:SS[.fraction]`, keeping DuckDB's sub-millisecond precision that `Date` would drop. */
function isoTimestamp(units: bigint, perSecond: bigint, zone: boolean): string | undefined {
  let seconds = units / perSecond;
  let fraction = units % perSecond;
  if (fraction < 0n) {
    fraction += perSecond;
    seconds -= 1n;
  }
  const date = new Date(Number(seconds) * 1000);
  if (Number.isNaN(date.getTime())) return undefined; // ±infinity and years a JS Date cannot hold
  const digits = String(perSecond).length - 1;
  const frac = fraction === 0n ? '' : `.${fraction.toString().padStart(digits, '0').replace(/0+$/, '')}`;
  return `${date.toISOString().replace(/\.\d{3}Z$/, '')}${frac}${zone ? 'Z' : ''}`;
}

function timestampJson(value: DuckDBValue): string | undefined {
  if (value instanceof DuckDBTimestampTZValue) return isoTimestamp(value.micros, 1_000_000n, true);
  if (value instanceof DuckDBTimestampValue) return isoTimestamp(value.micros, 1_000_000n, false);
  if (value instanceof DuckDBTimestampSecondsValue) return isoTimestamp(value.seconds, 1n, false);
  if (value instanceof DuckDBTimestampMillisecondsValue) return isoTimestamp(value.millis, 1000n, false);
  if (value instanceof DuckDBTimestampNanosecondsValue) return isoTimestamp(value.nanos, 1_000_000_000n, false);
  return undefined;
}

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * DuckDB's JSON converter, except: integers as JSON numbers while exact (larger ones as
 * strings), decimals as numbers up to 15 significant digits, timestamps in ISO 8601 (`Z` for
 * TIMESTAMPTZ), intervals in DuckDB's words (`3 days`). Nested values recurse through this.
 */
const jsonConverter: DuckDBValueConverter<Json> = (value, type, converter) => {
  if (value === null) return null;
  if (typeof value === 'bigint') return value >= -SAFE && value <= SAFE ? Number(value) : value.toString();
  switch (type.typeId) {
    case DuckDBTypeId.DECIMAL: {
      const text = String(value);
      return text.replace(/\D/g, '').length <= 15 ? Number(text) : text;
    }
    case DuckDBTypeId.INTERVAL:
      return String(value);
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_TZ:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
      return timestampJson(value) ?? String(value);
    default:
      return JsonDuckDBValueConverter(value, type, converter);
  }
};

export function resultJson(result: QueryResult): { columns: QueryResult['columns']; rows: Array<Record<string, Json>> } {
  return { columns: result.columns, rows: result.json };
}

/** DuckDB's own text form of a value (`[1, 2]`, `2026-01-01 06:00:00`); `null` for SQL NULL. */
export function valueText(value: DuckDBValue): string | null {
  return value === null ? null : String(value);
}
