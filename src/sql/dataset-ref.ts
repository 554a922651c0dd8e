/**
 * A dataset as one statement names it, before the body resolves it. Table names keep their
 * parts, so that an unqualified name (one part) can later be resolved as DuckDB would at that
 * point of the body: to a temporary table created earlier, or into the schema chosen by `USE`.
 */
import { canonicalFileName, canonicalTableName } from '../model/names.js';

export type DatasetRef = { kind: 'file'; name: string } | { kind: 'table'; parts: string[] };

export function fileRef(path: string): DatasetRef {
  return { kind: 'file', name: canonicalFileName(path) };
}

export function tableRef(parts: readonly string[]): DatasetRef {
  return { kind: 'table', parts: parts.filter((p) => p !== '') };
}

/** The canonical name as written, ignoring `USE` and temporary tables. */
export function refName(ref: DatasetRef): string {
  return ref.kind === 'file' ? ref.name : canonicalTableName(ref.parts);
}

/** `temp.x` / `temp.main.x`: a name only the task's own connection sees. */
export function isTempQualified(parts: readonly string[]): boolean {
  return parts.length >= 2 && parts[0]!.toLowerCase() === 'temp';
}
