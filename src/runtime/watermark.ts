/**
 * The `{{ last_processed_at }}` of an `@incremental_by` task, worked out inside the task's own
 * transaction just before the statement that uses it, so that a table created by an earlier
 * statement of the same task is seen:
 *
 * - the recorded watermark of the last success, while the target still holds rows;
 * - otherwise (first run, `run --full-refresh`, the target dropped or emptied since) the
 *   smallest value of the column's type (`model/watermark.ts`), so that every row is taken. The
 *   type comes from the target, or else from an input table with a column of that name; when
 *   neither is known, the timestamp's.
 *
 * A column that the existing target lacks is a mistake in the header, reported at its line.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { isFileDataset } from '../model/names.js';
import type { TaskDefinition } from '../model/taskfile/task.js';
import { DEFAULT_WATERMARK, startOfType } from '../model/watermark.js';
import { AttemptFailure } from './attempt-failure.js';
import { columnType, tableColumns, type TableColumns } from './catalog.js';

function missingColumn(task: TaskDefinition, target: string, table: TableColumns): AttemptFailure {
  const at = task.keyLocations.incremental_by ?? { line: 1, col: 1 };
  return new AttemptFailure(
    'definition',
    `${task.file}:${at.line}:${at.col}: @incremental_by column \`${task.incrementalBy}\` does not exist in ${target} ` +
      `(its columns: ${[...table.columns.keys()].join(', ')})`,
    { file: task.file, line: at.line, col: at.col },
  );
}

/** The watermark table of an incremental task: its first output, when that is a table. */
export function watermarkTarget(task: TaskDefinition): string | undefined {
  const target = task.outputs[0];
  return task.incrementalBy && target && !isFileDataset(target) ? target : undefined;
}

export async function resolveWatermark(conn: DuckDBConnection, task: TaskDefinition, recorded: string | null): Promise<string> {
  const target = watermarkTarget(task);
  if (!target) return recorded ?? DEFAULT_WATERMARK;
  const column = task.incrementalBy!;
  const table = await tableColumns(conn, target);
  if (table.exists) {
    const type = columnType(table, column);
    if (type === undefined) throw missingColumn(task, target, table);
    if (recorded !== null && (await hasRows(conn, target))) return recorded;
    return startOfType(type);
  }
  for (const input of task.inputs) {
    if (isFileDataset(input)) continue;
    const type = columnType(await tableColumns(conn, input), column);
    if (type !== undefined) return startOfType(type);
  }
  return DEFAULT_WATERMARK;
}

async function hasRows(conn: DuckDBConnection, table: string): Promise<boolean> {
  const reader = await conn.runAndReadAll(`SELECT EXISTS (SELECT 1 FROM ${table})`);
  return reader.getRows()[0]?.[0] === true;
}

/** `max(column)` of the target after the body ran: the watermark to record; null when the target is gone or empty. */
export async function readWatermark(conn: DuckDBConnection, task: TaskDefinition): Promise<string | null> {
  const target = watermarkTarget(task);
  if (!target) return null;
  const table = await tableColumns(conn, target);
  if (!table.exists) return null;
  const type = columnType(table, task.incrementalBy!);
  if (type === undefined) throw missingColumn(task, target, table);
  const column = `"${task.incrementalBy!.replace(/"/g, '""')}"`;
  const value = (await conn.runAndReadAll(`SELECT max(${column})::VARCHAR FROM ${target}`)).getRows()[0]?.[0];
  return value === null || value === undefined ? null : String(value);
}
