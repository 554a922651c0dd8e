/**
 * Combines a parsed header, the body and what the SQL analysis inferred into one
 * `TaskDefinition`, applying the documented precedence of declarations over inference:
 *
 * - `@outputs` replaces the inferred outputs (to hide a staging table, or name a file/external write);
 * - `@inputs` and `@depends_on` add to what is inferred (for reads SQL cannot show, e.g. dynamic SQL).
 */
import { DuckorchError, type SourceLocation } from '../../errors.js';
import { DatasetSet, datasetKey, identifierParts, isFileDataset, parseDatasetName } from '../names.js';
import { codeVersion } from './code-version.js';
import type { AssetDecl, TaskDefinition, TaskHeader } from './task.js';

export interface InferredIo {
  reads: readonly string[];
  writes: readonly string[];
  statementCount: number;
  /** Per-statement dataset edges; every read to every write when absent. */
  lineage?: ReadonlyArray<{ src: string; dst: string }>;
}

export function buildTask(
  header: TaskHeader,
  file: string,
  body: { sql: string; line: number; col: number },
  io: InferredIo,
): TaskDefinition {
  const outputs = new DatasetSet(header.declaredOutputs ?? io.writes);
  const inputs = [...new DatasetSet([...io.reads, ...header.declaredInputs])].filter((i) => !outputs.has(i)).sort();
  const first = [...outputs][0];
  const cross = (from: readonly string[]) => from.flatMap((src) => [...outputs].map((dst) => ({ src, dst })));
  // Declared outputs replace what the statements write, so their edges cannot come from the statements.
  const lineage =
    header.declaredOutputs || !io.lineage
      ? cross(inputs)
      : dedupeEdges([...io.lineage, ...cross(header.declaredInputs.filter((i) => !outputs.has(i)))]);
  const asset = header.asset && resolveAsset(header.asset, outputs, first);
  return {
    ...header,
    kind: 'sql',
    function: null,
    asset,
    file,
    sql: body.sql,
    bodyLine: body.line,
    bodyCol: body.col,
    codeVersion: codeVersion(body.sql),
    inputs,
    outputs: [...outputs],
    lineage,
    statementCount: io.statementCount,
  };
}

/**
 * `@asset_group` & co. without `@asset name=` describe the primary (first) output. A name
 * wholly in double quotes (`name="analytics.users"`) is one identifier, as in `@outputs`; but
 * the original duckOrch trimmed the quotes of such values, so when no output has that name and
 * the quoted text names an output, that output is meant.
 */
function resolveAsset(asset: AssetDecl, outputs: DatasetSet, first: string | undefined): AssetDecl {
  if (asset.name === '') return first ? { ...asset, name: first } : asset;
  if (outputs.has(asset.name)) return asset;
  const parts = identifierParts(asset.name);
  const unquoted = parts.length === 1 && asset.name.startsWith('"') ? parseDatasetName(parts[0]!) : undefined;
  return unquoted !== undefined && outputs.has(unquoted) ? { ...asset, name: unquoted } : asset;
}

function dedupeEdges(edges: ReadonlyArray<{ src: string; dst: string }>): Array<{ src: string; dst: string }> {
  const seen = new Map<string, { src: string; dst: string }>();
  for (const e of edges) {
    const key = `${datasetKey(e.src)}\u0000${datasetKey(e.dst)}`;
    if (e.src !== e.dst && !seen.has(key)) seen.set(key, e);
  }
  return [...seen.values()];
}

/** Maps a 0-based offset in a task body to its `file:line:col`. */
export function bodyLocation(file: string, body: string, bodyLine: number, bodyCol: number, offset: number): SourceLocation {
  const before = body.slice(0, Math.max(0, Math.min(offset, body.length)));
  const lines = before.split('\n');
  const line = bodyLine + lines.length - 1;
  const col = lines.length === 1 ? bodyCol + before.length : lines.at(-1)!.length + 1;
  return { file, line, col };
}

/** Cross-field checks that need the inferred outputs. */
export function checkTask(task: TaskDefinition): DuckorchError[] {
  const errors: DuckorchError[] = [];
  const at = { file: task.file, line: 1, col: 1 };
  if (task.asset && task.asset.name !== '' && !task.outputs.some((o) => datasetKey(o) === datasetKey(task.asset!.name))) {
    errors.push(
      new DuckorchError(
        'HEADER_VALUE',
        `asset \`${task.asset.name}\` is not among what the task writes (${task.outputs.join(', ') || 'nothing'})`,
        {
          location: { ...at, ...task.keyLocations.asset },
          hint: `declare it with \`-- @outputs ${task.asset.name}\`, or fix the asset name`,
        },
      ),
    );
  }
  if (task.dependsOn.includes(task.name)) {
    errors.push(new DuckorchError('HEADER_VALUE', `task \`${task.name}\` lists itself in @depends_on`, { location: at }));
  }
  if (task.incrementalBy && (task.outputs.length === 0 || isFileDataset(task.outputs[0]!))) {
    errors.push(
      new DuckorchError('HEADER_VALUE', '`@incremental_by` needs an output table to read the watermark from', {
        location: { ...at, ...task.keyLocations.incremental_by },
        hint:
          task.outputs.length === 0
            ? 'the task writes nothing'
            : `its first output is the file ${task.outputs[0]}; declare the table with @outputs`,
      }),
    );
  }
  if (task.sql.trim() === '') {
    errors.push(
      new DuckorchError('SQL_SYNTAX', 'the task has no SQL body', { location: at, expected: 'SQL statements after the header block' }),
    );
  }
  return errors;
}
