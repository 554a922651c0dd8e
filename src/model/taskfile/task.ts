/**
 * The normalised form of one task file: what `validate --json` prints and what registration
 * stores. Durations are seconds, conditions are canonical text, names are canonical.
 */
import type { Condition } from '../automation/condition.js';
import type { PartitionDef } from '../partitions/definition.js';

export const PARAM_TYPES = ['VARCHAR', 'INTEGER', 'BIGINT', 'DATE', 'TIMESTAMP', 'BOOLEAN', 'DOUBLE'] as const;
export type ParamType = (typeof PARAM_TYPES)[number];

export interface TaskParam {
  name: string;
  type: ParamType;
}

export type TestAssertion =
  { kind: 'expect_empty' } | { kind: 'expect_non_empty' } | { kind: 'expect' | 'expect_gt' | 'expect_lt'; value: number };

export interface TaskTest {
  /** 1-based, in file order. */
  index: number;
  sql: string;
  assertion: TestAssertion;
  /** The assertion as written, e.g. `expect_gt 0`. */
  assertionText: string;
  /** Where the quoted SQL starts in the file. */
  line: number;
  col: number;
}

export const CHECK_OPS = ['eq', 'ne', 'gt', 'ge', 'lt', 'le', 'between', 'not_null'] as const;
export type CheckOp = (typeof CHECK_OPS)[number];

export interface CheckDecl {
  name: string;
  sql: string;
  op: CheckOp;
  /** Comparison value; `lo,hi` for between; null for not_null. */
  value: string | null;
  severity: 'error' | 'warn';
  /** Where the quoted SQL starts in the file. */
  line: number;
  col: number;
}

export interface AssetDecl {
  name: string;
  kind: string;
  group: string | null;
  owner: string | null;
  description: string | null;
  tags: string[];
}

export interface AutomationDecl {
  condition: string;
  ast: Condition;
  intervalUnit: string | null;
}

export interface IntervalSettings {
  /** ISO 8601 UTC, or null when not set. */
  start: string | null;
  startTs: number | null;
  lookback: number;
  allowPartials: boolean;
}

/** Everything the header block says, before the SQL body is analysed. */
export interface TaskHeader {
  name: string;
  description: string | null;
  owner: string | null;
  tags: string[];
  schedule: string | null;
  retries: number;
  timeoutSeconds: number | null;
  incrementalBy: string | null;
  params: TaskParam[];
  tests: TaskTest[];
  asset: AssetDecl | null;
  partitions: PartitionDef | null;
  automation: AutomationDecl | null;
  targetLagSeconds: number | null;
  freshnessLagSeconds: number | null;
  checks: CheckDecl[];
  checkSeverity: 'error' | 'warn';
  interval: IntervalSettings;
  declaredInputs: string[];
  declaredOutputs: string[] | null;
  dependsOn: string[];
  /**
   * Where each header key's value starts (its first line), for errors found after parsing (`@task`
   * for `@name`); each `@param` item as `param:<name>`.
   */
  keyLocations: Partial<Record<string, { line: number; col: number }>>;
}

export interface TaskSource {
  /** Path as the user gave it (relative to the working directory when possible). */
  file: string;
  sql: string;
  /** 1-based line and column of the body's first character in the file. */
  bodyLine: number;
  bodyCol: number;
  codeVersion: string;
}

/** How a task executes: SQL statements on DuckDB, or a TypeScript function. */
export type TaskKind = 'sql' | 'function';

/** Where a function task's code lives: loaded from the module when a worker runs the task. */
export interface FunctionSource {
  /** Absolute path of the `.ts`/`.js` module. */
  module: string;
  /** The module export that holds the `Dag` or the `asset()`. */
  exportName: string;
  /** The `Dag`'s name; null for an `asset()`. */
  dag: string | null;
  /**
   * `inline`: a Dag task that runs in the worker's own thread (`isolation: 'inline'`). Absent:
   * a Dag task runs in a worker thread that its timeout terminates; an asset runs inline.
   */
  isolation?: 'inline';
}

/** A fully analysed task: header, source and the datasets it reads and writes. */
export interface TaskDefinition extends TaskHeader, TaskSource {
  kind: TaskKind;
  /** Set for `function` tasks only. */
  function: FunctionSource | null;
  inputs: string[];
  outputs: string[];
  /** Dataset lineage within the task: what each statement reads → what it writes (through temporary tables). */
  lineage: Array<{ src: string; dst: string }>;
  statementCount: number;
}

/**
 * Whether running the task writes the project's DuckDB database: SQL tasks and assets (which
 * get a connection) do; a Dag function task touches none, so any worker may run it.
 */
export function writesDatabase(task: Pick<TaskDefinition, 'kind' | 'function'>): boolean {
  return task.kind === 'sql' || task.function?.dag === null;
}
