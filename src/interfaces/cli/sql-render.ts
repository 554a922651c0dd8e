/** The `sql` command's result as an aligned table's cells or as CSV. */
import type { QueryResult } from '../../app/sql-query.js';

/** Header and rows for the aligned table; NULL reads `NULL`, line breaks are escaped to keep rows on one line. */
export function resultCells(result: QueryResult, nullText: string): string[][] {
  const cell = (text: string | null) =>
    text === null ? nullText : text.replace(/\\/g, '\\\\').replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/\t/g, '\\t');
  return result.texts.map((row) => row.map(cell));
}

/**
 * RFC 4180 quoting, LF line ends. NULL is an empty field and an empty string is `""`, so a
 * reader can tell them apart (as DuckDB's own `COPY … TO` does).
 */
export function resultCsv(result: QueryResult): string {
  const field = (text: string | null) =>
    text === null ? '' : text === '' || /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  return [result.headers.map(field), ...result.texts.map((row) => row.map(field))].map((fields) => fields.join(',')).join('\n');
}
