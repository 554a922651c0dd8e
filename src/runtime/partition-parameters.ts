/**
 * The values a partitioned SQL task's statements are bound to, as prepared-statement parameters
 * (never spliced into the SQL): `$partition_key`, each dimension of a multi partition as `$<dim>`
 * and `$partition_<dim>`, and for time partitions `$partition_start`/`$partition_end` (the
 * period, end exclusive). Each is typed by the task's `@param` of that name, else VARCHAR (the
 * window's bounds: TIMESTAMP). An interval task's batch binds `$interval_start`/`$interval_end`
 * (TIMESTAMP) and `$interval_start_ts`/`$interval_end_ts` (epoch seconds), which its
 * `${interval_start}`… stand for.
 */
import type { DuckDBPreparedStatement } from '@duckdb/node-api';
import { duckdb } from '../duckdb-api.js';
import { intervalSpecOf, parseIntervalKey } from '../model/intervals.js';
import { partitionSpace } from '../model/partitions/space.js';
import type { ParamType, TaskDefinition } from '../model/taskfile/task.js';
import { DEFAULT_PARTITION } from '../store/ledger.js';
import { AttemptFailure } from './attempt-failure.js';

export interface BoundValue {
  type: ParamType;
  value: string | Date;
}

export type Parameters = ReadonlyMap<string, BoundValue>;

/** The parameters of one partition of a task; none for an unpartitioned task or job. */
export function partitionParameters(task: TaskDefinition, key: string): Parameters | undefined {
  if (key === DEFAULT_PARTITION) return undefined;
  const interval = intervalSpecOf(task) ? parseIntervalKey(key) : undefined;
  if (interval) {
    const seconds = (d: Date) => String(Math.floor(d.getTime() / 1000));
    return new Map<string, BoundValue>([
      ['interval_start', { type: 'TIMESTAMP', value: interval.start }],
      ['interval_end', { type: 'TIMESTAMP', value: interval.end }],
      ['interval_start_ts', { type: 'BIGINT', value: seconds(interval.start) }],
      ['interval_end_ts', { type: 'BIGINT', value: seconds(interval.end) }],
    ]);
  }
  if (task.partitions === null) return undefined;
  const space = partitionSpace(task.partitions);
  const declared = new Map(task.params.map((p) => [p.name, p.type]));
  const out = new Map<string, BoundValue>();
  const put = (name: string, value: string | Date, fallback: ParamType) => out.set(name, { type: declared.get(name) ?? fallback, value });
  put('partition_key', key, 'VARCHAR');
  for (const [dim, value] of Object.entries(space.dimensionValues(key))) {
    put(dim, value, 'VARCHAR');
    put(`partition_${dim}`, value, 'VARCHAR');
  }
  const window = space.window(key);
  if (window) {
    put('partition_start', window.start, 'TIMESTAMP');
    put('partition_end', window.end, 'TIMESTAMP');
  }
  return out;
}

/** Binds the statement's parameters that have a value; DuckDB reports any left without one. */
export function bindParameters(prepared: DuckDBPreparedStatement, parameters: Parameters, task: TaskDefinition): void {
  for (let i = 1; i <= prepared.parameterCount; i++) {
    const name = prepared.parameterName(i);
    const p = parameters.get(name);
    if (p) bindOne(prepared, i, name, p, task);
  }
}

function bindOne(prepared: DuckDBPreparedStatement, i: number, name: string, p: BoundValue, task: TaskDefinition): void {
  const text = typeof p.value === 'string' ? p.value : p.value.toISOString();
  const wrong = (): never => {
    throw new AttemptFailure(
      'definition',
      `\`$${name}\` is \`${text}\`, which is not a ${p.type} (@param ${name}:${p.type} in ${task.file})`,
      {
        parameter: name,
        value: text,
        type: p.type,
      },
    );
  };
  switch (p.type) {
    case 'VARCHAR':
      return prepared.bindVarchar(i, text);
    case 'DATE':
    case 'TIMESTAMP': {
      const ms =
        typeof p.value === 'string'
          ? Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : `${text.replace(' ', 'T')}Z`)
          : p.value.getTime();
      if (Number.isNaN(ms)) return wrong();
      if (p.type === 'DATE') return prepared.bindDate(i, duckdb.dateValue(Math.floor(ms / 86_400_000)));
      return prepared.bindTimestamp(i, duckdb.timestampValue(BigInt(ms) * 1000n));
    }
    case 'INTEGER':
    case 'BIGINT':
      if (!/^-?\d+$/.test(text)) return wrong();
      return p.type === 'INTEGER' ? prepared.bindInteger(i, Number(text)) : prepared.bindBigInt(i, BigInt(text));
    case 'DOUBLE': {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n)) return wrong();
      return prepared.bindDouble(i, n);
    }
    case 'BOOLEAN':
      if (!/^(true|false|1|0)$/i.test(text)) return wrong();
      return prepared.bindBoolean(i, /^(true|1)$/i.test(text));
  }
}
